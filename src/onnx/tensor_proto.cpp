#include "onnx/tensor_proto.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>

#include "data/file_bytes.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/onnx.h"

namespace stern::onnx_io {
namespace {

using onnx::TensorProto;

int64_t checked_numel(const std::vector<int64_t>& dims, const std::string& where) {
  if (dims.size() > static_cast<size_t>(kMaxTensorRank)) {
    fail(where, "rank " + std::to_string(dims.size()) + " exceeds the maximum of " +
                    std::to_string(kMaxTensorRank));
  }
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail(where, "negative dimension " + std::to_string(d));
    if (d != 0 && n > kMaxTensorElements / d) {
      fail(where, "more than " + std::to_string(kMaxTensorElements) + " elements");
    }
    n *= d;
  }
  return n;
}

// External data must stay inside the model's folder: a model file must not be able to make
// stern read arbitrary files.
std::vector<uint8_t> read_external(const TensorProto& tensor, int64_t expected_bytes,
                                   const std::string& where,
                                   const std::filesystem::path& base_dir) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& entry : tensor.external_data()) {
    try {
      if (entry.key() == "location") location = entry.value();
      else if (entry.key() == "offset") offset = std::stoll(entry.value());
      else if (entry.key() == "length") length = std::stoll(entry.value());
    } catch (const std::exception&) {
      fail(where, "external_data '" + entry.key() + "' is not an integer: '" + entry.value() + "'");
    }
  }
  if (location.empty()) fail(where, "external data without a 'location'");
  const std::filesystem::path rel(location);
  if (rel.is_absolute()) fail(where, "external data location '" + location + "' must be relative");
  for (const auto& part : rel) {
    if (part == "..") fail(where, "external data location '" + location + "' leaves the model folder");
  }
  if (offset < 0) fail(where, "external data offset " + std::to_string(offset) + " is negative");
  if (length >= 0 && length != expected_bytes) {
    fail(where, "external data length " + std::to_string(length) + " does not match the " +
                    std::to_string(expected_bytes) + " bytes its shape needs");
  }
  const auto path = base_dir / rel;
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(where, "external data file '" + path.string() + "': " + ec.message());
  if (static_cast<uint64_t>(offset) > file_size ||
      file_size - static_cast<uint64_t>(offset) < static_cast<uint64_t>(expected_bytes)) {
    fail(where, "external data in '" + path.string() + "' at offset " + std::to_string(offset) +
                    " needs " + std::to_string(expected_bytes) + " bytes but the file has " +
                    std::to_string(file_size));
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(static_cast<size_t>(expected_bytes));
  in.seekg(offset);
  in.read(reinterpret_cast<char*>(bytes.data()), expected_bytes);
  if (!in) fail(where, "cannot read external data from '" + path.string() + "'");
  return bytes;
}

template <typename T>
std::vector<T> from_le_bytes(const uint8_t* data, int64_t n) {
  static_assert(std::endian::native == std::endian::little, "TensorProto raw_data is little-endian");
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0) std::memcpy(out.data(), data, static_cast<size_t>(n) * sizeof(T));
  return out;
}

}  // namespace

int64_t ConstTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const char* data_type_name(int32_t data_type) {
  if (!TensorProto::DataType_IsValid(data_type)) return "invalid";
  return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(data_type)).c_str();
}

ConstTensor decode_tensor(const TensorProto& tensor, const std::string& where_prefix,
                          const std::filesystem::path& base_dir) {
  const std::string where = where_prefix + ": tensor '" + tensor.name() + "'";
  ConstTensor out;
  out.dims.assign(tensor.dims().begin(), tensor.dims().end());
  out.data_type = tensor.data_type();
  const int64_t n = checked_numel(out.dims, where);
  if (tensor.has_segment()) fail(where, "segmented tensors are not supported");

  size_t elem_size = 0;
  switch (out.data_type) {
    case TensorProto::FLOAT: case TensorProto::INT32: elem_size = 4; break;
    case TensorProto::INT64: elem_size = 8; break;
    case TensorProto::UINT8: case TensorProto::INT8: elem_size = 1; break;
    default:
      fail(where, std::string("data type ") + data_type_name(out.data_type) +
                      " is not supported (expected FLOAT, INT64/INT32 for shapes, UINT8/INT8 zero points)");
  }
  const int64_t bytes_needed = n * static_cast<int64_t>(elem_size);

  std::vector<uint8_t> external;
  const uint8_t* raw = nullptr;
  if (tensor.data_location() == TensorProto::EXTERNAL) {
    external = read_external(tensor, bytes_needed, where, base_dir);
    raw = external.data();
  } else if (tensor.has_raw_data()) {
    if (static_cast<int64_t>(tensor.raw_data().size()) != bytes_needed) {
      fail(where, "raw_data has " + std::to_string(tensor.raw_data().size()) +
                      " bytes, its shape needs " + std::to_string(bytes_needed));
    }
    raw = reinterpret_cast<const uint8_t*>(tensor.raw_data().data());
  }

  auto check_count = [&](int64_t have, const char* field) {
    if (have != n) {
      fail(where, std::string(field) + " has " + std::to_string(have) + " values, its shape needs " +
                      std::to_string(n));
    }
  };
  switch (out.data_type) {
    case TensorProto::FLOAT:
      if (raw) {
        out.floats = from_le_bytes<float>(raw, n);
      } else {
        check_count(tensor.float_data_size(), "float_data");
        out.floats.assign(tensor.float_data().begin(), tensor.float_data().end());
      }
      break;
    case TensorProto::INT64:
      if (raw) {
        out.ints = from_le_bytes<int64_t>(raw, n);
      } else {
        check_count(tensor.int64_data_size(), "int64_data");
        out.ints.assign(tensor.int64_data().begin(), tensor.int64_data().end());
      }
      break;
    case TensorProto::UINT8:
    case TensorProto::INT8:
      if (raw) {
        for (int64_t i = 0; i < n; ++i) {
          out.ints.push_back(out.data_type == TensorProto::INT8 ? int64_t{static_cast<int8_t>(raw[i])} : raw[i]);
        }
      } else {  // the spec stores 8-bit types widened in int32_data
        check_count(tensor.int32_data_size(), "int32_data");
        out.ints.assign(tensor.int32_data().begin(), tensor.int32_data().end());
      }
      break;
    default: {  // INT32
      std::vector<int32_t> v;
      if (raw) {
        v = from_le_bytes<int32_t>(raw, n);
      } else {
        check_count(tensor.int32_data_size(), "int32_data");
        v.assign(tensor.int32_data().begin(), tensor.int32_data().end());
      }
      out.ints.assign(v.begin(), v.end());
    }
  }
  return out;
}

void encode_floats(TensorProto* out, const std::string& name, const std::vector<int64_t>& dims,
                   std::span<const float> values) {
  out->set_name(name);
  out->set_data_type(TensorProto::FLOAT);
  for (int64_t d : dims) out->add_dims(d);
  out->set_raw_data(values.data(), values.size_bytes());
}

void encode_ints(TensorProto* out, const std::string& name, const std::vector<int64_t>& dims,
                 std::span<const int64_t> values) {
  out->set_name(name);
  out->set_data_type(TensorProto::INT64);
  for (int64_t d : dims) out->add_dims(d);
  out->set_raw_data(values.data(), values.size_bytes());
}

void parse_proto(google::protobuf::MessageLite* message, std::span<const uint8_t> bytes,
                 const std::string& where, const char* what) {
  if (bytes.size() > kMaxProtoBytes) {
    fail(where, "larger than the protobuf limit of " + std::to_string(kMaxProtoBytes) + " bytes");
  }
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    fail(where, std::string("not a valid ONNX ") + what + " (protobuf parse failed)");
  }
}

std::vector<uint8_t> serialize_proto(const google::protobuf::MessageLite& message,
                                     const std::string& where) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxProtoBytes) fail(where, "serialized ONNX exceeds the protobuf limit of 2 GiB");
  std::vector<uint8_t> bytes(size);
  if (!message.SerializeToArray(bytes.data(), static_cast<int>(size))) {
    fail(where, "protobuf serialization failed");
  }
  return bytes;
}

}  // namespace stern::onnx_io

namespace stern {

FloatTensor parse_tensor_pb(std::span<const uint8_t> bytes, const std::string& name) {
  onnx::TensorProto proto;
  onnx_io::parse_proto(&proto, bytes, name, "TensorProto");
  if (proto.data_type() != onnx::TensorProto::FLOAT) {
    fail(name, std::string("tensor data type ") + onnx_io::data_type_name(proto.data_type()) +
                   " is not supported (expected FLOAT)");
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    fail(name, "a tensor file with external data is not supported");
  }
  auto decoded = onnx_io::decode_tensor(proto, name, {});
  return FloatTensor{std::move(decoded.dims), std::move(decoded.floats)};
}

FloatTensor read_tensor_pb(const std::filesystem::path& path) {
  const auto bytes = data::read_file_bytes(path, onnx_io::kMaxProtoBytes, data::Compression::none);
  return parse_tensor_pb(bytes, path.string());
}

void write_tensor_pb(const std::filesystem::path& path, const FloatTensor& tensor,
                     const std::string& tensor_name) {
  onnx::TensorProto proto;
  onnx_io::encode_floats(&proto, tensor_name, tensor.shape, tensor.data);
  write_file_atomic(path, onnx_io::serialize_proto(proto, path.string()));
}

}  // namespace stern
