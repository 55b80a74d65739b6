// Opening models and tensor files by extension, for the CLI and tools: one place that knows
// which formats exist, so `stern run`, `stern eval`, `stern fgq`... accept all of them.
#pragma once
#include <filesystem>

#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern {

// .onnx by extension (onnx.h); otherwise by magic: a .sternz archive (archive.h) or a .stern
// container (format.h), whatever the file is called. Lives in stern_tools because of ONNX.
// Throws stern::Error naming the file.
Graph open_model(const std::filesystem::path& path);

// .npy (tensor_io.h) or ONNX TensorProto .pb (onnx.h), chosen by extension.
FloatTensor read_tensor_file(const std::filesystem::path& path);
void write_tensor_file(const std::filesystem::path& path, const FloatTensor& tensor);

}  // namespace stern
