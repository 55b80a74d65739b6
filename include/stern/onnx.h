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

struct OnnxExportOptions {
  // Ternary/int8 weights as int8 initializers + DequantizeLinear (per output channel only,
  // where the encoding has one symmetric scale per row), and quantized activations as
  // QuantizeLinear/DequantizeLinear pairs. Otherwise weights are dequantized to FP32 and
  // activation quantization is written as an equivalent Div/Round/Clip/Mul chain.
  bool qdq = false;
  int64_t opset = 13;
};
std::vector<uint8_t> export_onnx_bytes(const Graph& graph, const OnnxExportOptions& options = {});
void export_onnx(const Graph& graph, const std::filesystem::path& path,
                 const OnnxExportOptions& options = {});

// Single tensors as ONNX TensorProto (.pb): float32 only on read (other types throw naming
// the file and the data type).
FloatTensor read_tensor_pb(const std::filesystem::path& path);
FloatTensor parse_tensor_pb(std::span<const uint8_t> bytes, const std::string& name);
void write_tensor_pb(const std::filesystem::path& path, const FloatTensor& tensor,
                     const std::string& tensor_name = "");

}  // namespace stern
