// ONNX interchange: import FP32 ONNX models (opsets 6 to 17) into a stern Graph, export any
// Graph back to ONNX, and read/write single tensors as ONNX TensorProto files (.pb), the
// format of the ONNX project's test data. Operator coverage and mapping: docs/ONNX.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern {

// Opset range of the default ("" / "ai.onnx") domain the importer accepts. Opset 6 is
// included for the older PyTorch exports (its Add/Mul/Gemm broadcast attributes are mapped).
inline constexpr int64_t kOnnxMinOpset = 6;
inline constexpr int64_t kOnnxMaxOpset = 17;

// Reads and converts `path`. External initializer data is resolved relative to the model's
// folder and must stay inside it. Unsupported operators or attributes, malformed protobuf,
// missing initializers and shape contradictions throw stern::Error naming the file, the node,
// the op type and the attribute or tensor at fault.
Graph import_onnx(const std::filesystem::path& path);
// The same over bytes in memory; `name` appears in errors, `base_dir` anchors external data.
Graph import_onnx_from_memory(std::span<const uint8_t> bytes, const std::string& name,
                              const std::filesystem::path& base_dir);

// Opset 13, FP32 weights (every encoding dequantized; conv weights back to OIHW) so any
// ONNX runtime can check a stern model. Quantized activations (act_bits <= 8) are written
// faithfully as QuantizeLinear -> DequantizeLinear (zero point 0, uint8 or int8), followed by
// a Clip where the contract's code range is narrower than the 8-bit type's; a fused relu
// epilogue becomes a Relu. Graphs with act_bits > 8 throw (no faithful ONNX form).
std::vector<uint8_t> export_onnx_bytes(const Graph& graph);
void export_onnx(const Graph& graph, const std::filesystem::path& path);

// Single tensors as ONNX TensorProto (.pb): float32 only on read (other types throw naming
// the file and the data type).
FloatTensor read_tensor_pb(const std::filesystem::path& path);
FloatTensor parse_tensor_pb(std::span<const uint8_t> bytes, const std::string& name);
void write_tensor_pb(const std::filesystem::path& path, const FloatTensor& tensor,
                     const std::string& tensor_name = "");

}  // namespace stern
