// Opening models and tensor files by extension, for the CLI and tools: one place that knows
// which formats exist, so `stern run`, `stern eval`, `stern fgq`... accept all of them.
#pragma once
#include <filesystem>

#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern {

// .stern (format.h), .onnx (onnx.h); other formats register a row in src/onnx/model_io.cpp's
// kModelOpeners table (the .sternz archive is the intended next one). Throws stern::Error
// naming the file and the accepted extensions for anything else.
Graph open_model(const std::filesystem::path& path);

// .npy (tensor_io.h) or ONNX TensorProto .pb (onnx.h), chosen by extension.
FloatTensor read_tensor_file(const std::filesystem::path& path);
void write_tensor_file(const std::filesystem::path& path, const FloatTensor& tensor);

}  // namespace stern
