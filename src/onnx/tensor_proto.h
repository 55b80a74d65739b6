// TensorProto decoding shared by the importer, the .pb tensor files and the exporter.
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace stern::onnx_io {

// Protobuf's own parser is limited to 2 GiB; models and tensor files beyond that are refused
// before parsing.
inline constexpr uint64_t kMaxProtoBytes = (uint64_t{1} << 31) - 1;
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 31;
inline constexpr int kMaxTensorRank = 8;

// A decoded constant: float32 data in `floats`, integer data (INT64/INT32) in `ints`.
struct ConstTensor {
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  bool is_float() const { return data_type == onnx::TensorProto::FLOAT; }
  int64_t numel() const;
};

const char* data_type_name(int32_t data_type);

// Decodes inline (typed fields or raw_data) or external data. External locations are
// resolved inside `base_dir` and bounds-checked against the file. Throws stern::Error
// prefixed with `where` and the tensor name.
ConstTensor decode_tensor(const onnx::TensorProto& tensor, const std::string& where,
                          const std::filesystem::path& base_dir);

void encode_floats(onnx::TensorProto* out, const std::string& name,
                   const std::vector<int64_t>& dims, std::span<const float> values);
void encode_ints(onnx::TensorProto* out, const std::string& name,
                 const std::vector<int64_t>& dims, std::span<const int64_t> values);

// Parses a serialized message, refusing oversized input; throws naming `where`.
void parse_proto(google::protobuf::MessageLite* message, std::span<const uint8_t> bytes,
                 const std::string& where, const char* what);
std::vector<uint8_t> serialize_proto(const google::protobuf::MessageLite& message,
                                     const std::string& where);

}  // namespace stern::onnx_io
