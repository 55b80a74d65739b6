#include "stern/model_io.h"

#include <array>
#include <fstream>

#include "stern/archive.h"
#include "stern/error.h"
#include "stern/format.h"

namespace stern {

Graph open_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open for reading");
  std::array<uint8_t, 8> magic{};
  in.read(reinterpret_cast<char*>(magic.data()), magic.size());
  if (is_archive(std::span<const uint8_t>(magic.data(), size_t(in.gcount())))) return load_archive(path);
  return load_model(path);
}

}  // namespace stern
