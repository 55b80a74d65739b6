#include "data/file_bytes.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "stern/error.h"

namespace stern::data {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

std::string too_large(uint64_t max_bytes) {
  return "larger than the limit of " + std::to_string(max_bytes) + " bytes";
}

void require_regular_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(path.string(), "file not found");
  if (!std::filesystem::is_regular_file(status)) fail(path.string(), "not a regular file");
}

std::vector<uint8_t> read_raw(const std::filesystem::path& path, uint64_t max_bytes) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes;
  for (;;) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunkBytes);
    const size_t got = std::fread(bytes.data() + old_size, 1, kChunkBytes, file.get());
    bytes.resize(old_size + got);
    if (bytes.size() > max_bytes) fail(path.string(), too_large(max_bytes));
    if (got < kChunkBytes) break;
  }
  if (std::ferror(file.get())) fail(path.string(), "read error");
  return bytes;
}

std::vector<uint8_t> read_gzip_or_raw(const std::filesystem::path& path, uint64_t max_bytes) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes;
  for (;;) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunkBytes);
    const int got = gzread(file.get(), bytes.data() + old_size, kChunkBytes);
    if (got < 0) {
      int code = 0;
      fail(path.string(), std::string("corrupt gzip stream: ") + gzerror(file.get(), &code));
    }
    bytes.resize(old_size + static_cast<size_t>(got));
    if (bytes.size() > max_bytes) fail(path.string(), too_large(max_bytes));
    if (static_cast<size_t>(got) < kChunkBytes) break;
  }
  // gzread reports a stream cut short (no trailer) only through gzerror, after the data it
  // could inflate.
  int code = Z_OK;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    fail(path.string(), std::string("corrupt or truncated gzip stream: ") + message);
  }
  return bytes;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path, uint64_t max_bytes,
                                     Compression compression) {
  require_regular_file(path);
  return compression == Compression::gzip_or_raw ? read_gzip_or_raw(path, max_bytes)
                                                 : read_raw(path, max_bytes);
}

}  // namespace stern::data
