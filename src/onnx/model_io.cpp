#include "stern/model_io.h"

#include <array>
#include <cctype>
#include <fstream>
#include <string>

#include "stern/archive.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/onnx.h"
#include "stern/tensor_io.h"

namespace stern {
namespace {

std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

Graph open_model(const std::filesystem::path& path) {
  if (lower_extension(path) == ".onnx") return import_onnx(path);
  // The stern formats announce themselves by magic, whatever the file is called.
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open for reading");
  std::array<uint8_t, 8> magic{};
  in.read(reinterpret_cast<char*>(magic.data()), magic.size());
  if (is_archive(std::span<const uint8_t>(magic.data(), static_cast<size_t>(in.gcount())))) {
    return load_archive(path);
  }
  return load_model(path);
}

FloatTensor read_tensor_file(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".npy") return read_npy(path);
  if (ext == ".pb") return read_tensor_pb(path);
  fail(path.string(), "unknown tensor file extension '" + ext + "'; expected .npy or .pb");
}

void write_tensor_file(const std::filesystem::path& path, const FloatTensor& tensor) {
  const std::string ext = lower_extension(path);
  if (ext == ".npy") return write_npy(path, tensor);
  if (ext == ".pb") return write_tensor_pb(path, tensor, path.stem().string());
  fail(path.string(), "unknown tensor file extension '" + ext + "'; expected .npy or .pb");
}

}  // namespace stern
