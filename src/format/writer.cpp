// .stern writer (layout: docs/FORMAT.md) and the atomic file write every stern writer uses.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include <zlib.h>

#include "format/container.h"
#include "stern/error.h"
#include "stern/format.h"

namespace stern {
namespace format {
namespace {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  template <typename T>
  void put(T value) {
    static_assert(std::is_arithmetic_v<T>);
    uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));  // little-endian host (checked in reader.cpp)
    out_.insert(out_.end(), bytes, bytes + sizeof(T));
  }
  void put_string(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void put_strings(const std::vector<std::string>& list) {
    put(static_cast<uint32_t>(list.size()));
    for (const std::string& s : list) put_string(s);
  }
  void put_dims(const std::vector<int64_t>& dims) {
    put(static_cast<uint32_t>(dims.size()));
    for (const int64_t d : dims) put(d);
  }
  void put_attributes(const Attributes& attrs) {
    put(static_cast<uint32_t>(attrs.size()));
    for (const auto& [key, value] : attrs) {
      put_string(key);
      put(static_cast<uint8_t>(value.index()));
      std::visit([this](const auto& v) { put_value(v); }, value);
    }
  }

 private:
  void put_value(int64_t v) { put(v); }
  void put_value(double v) { put(v); }
  void put_value(const std::string& v) { put_string(v); }
  template <typename T>
  void put_value(const std::vector<T>& list) {
    put(static_cast<uint32_t>(list.size()));
    for (const T v : list) put(v);
  }

  std::vector<uint8_t>& out_;
};

void put_le(uint8_t* at, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace

uint32_t crc32_of(std::span<const uint8_t> bytes, uint32_t crc) {
  // zlib takes uInt lengths: feed large payloads in chunks.
  constexpr size_t kChunk = size_t{1} << 30;
  uLong c = crc;
  for (size_t done = 0; done < bytes.size(); done += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - done);
    c = ::crc32(c, bytes.data() + done, static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(c);
}

std::vector<uint8_t> serialize_unchecked(const Graph& graph) {
  // Tensor offsets first: the tensor table in the header records them.
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  for (const Tensor& t : graph.tensors) {
    data_bytes = align_up(data_bytes);
    offsets.push_back(data_bytes);
    data_bytes += t.payload.size();
  }

  std::vector<uint8_t> header;
  ByteWriter w(header);
  w.put(static_cast<uint32_t>(graph.tensors.size()));
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const Tensor& t = graph.tensors[i];
    w.put_string(t.name);
    w.put(static_cast<uint16_t>(t.encoding));
    w.put_dims(t.shape);
    w.put(offsets[i]);
    w.put(static_cast<uint64_t>(t.payload.size()));
    w.put(crc32_of(t.payload));
  }
  for (const auto* values : {&graph.inputs, &graph.outputs}) {
    w.put(static_cast<uint32_t>(values->size()));
    for (const ValueInfo& v : *values) {
      w.put_string(v.name);
      w.put_dims(v.shape);
    }
  }
  w.put(static_cast<uint32_t>(graph.nodes.size()));
  for (const Node& n : graph.nodes) {
    w.put(static_cast<uint16_t>(n.op));
    w.put_string(n.name);
    w.put_strings(n.inputs);
    w.put_strings(n.outputs);
    w.put_attributes(n.attrs);
  }
  w.put_attributes(graph.metadata);

  const uint64_t data_offset = align_up(kPreambleBytes + header.size());
  std::vector<uint8_t> file(data_offset + data_bytes, 0);
  std::memcpy(file.data(), kMagic, sizeof(kMagic));
  put_le(&file[kVersionOffset], kFormatVersion, 4);
  put_le(&file[kHeaderBytesOffset], header.size(), 8);
  put_le(&file[kDataOffsetOffset], data_offset, 8);
  put_le(&file[kDataBytesOffset], data_bytes, 8);
  std::memcpy(&file[kPreambleBytes], header.data(), header.size());
  const uint32_t crc = crc32_of(header, crc32_of({file.data(), kHeaderCrcOffset}));
  put_le(&file[kHeaderCrcOffset], crc, 4);
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const auto payload = graph.tensors[i].payload;
    if (!payload.empty()) std::memcpy(&file[data_offset + offsets[i]], payload.data(), payload.size());
  }
  return file;
}

}  // namespace format

std::vector<uint8_t> serialize_model(const Graph& graph) {
  validate_graph(graph, "serialize_model");
  return format::serialize_unchecked(graph);
}

void save_model(const Graph& graph, const std::filesystem::path& path) {
  validate_graph(graph, path.string());
  write_file_atomic(path, format::serialize_unchecked(graph));
}

namespace {

[[noreturn]] void fail_errno(const std::filesystem::path& path, const std::string& what) {
  fail(path.string(), what + ": " + std::strerror(errno));
}

// Closes the descriptor and unlinks the temporary file unless released after the rename.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void release() { path_.clear(); }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // Same directory as the target, so the rename cannot cross file systems.
  std::string temp_name = ".";
  temp_name.append(path.filename().string()).append(".tmp.XXXXXX");
  std::string pattern = (dir / temp_name).string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) fail_errno(path, "cannot create a temporary file in " + dir.string());
  TempFile temp(fd, pattern);

  // mkstemp creates 0600; keep an existing file's mode, otherwise the usual 0644.
  struct stat existing {};
  const mode_t mode = ::stat(path.c_str(), &existing) == 0 ? (existing.st_mode & 07777) : 0644;
  if (::fchmod(fd, mode) != 0) fail_errno(path, "cannot set the mode of " + pattern);

  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_errno(path, "cannot write " + std::to_string(bytes.size()) + " bytes");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail_errno(path, "fsync failed");
  if (temp.close() != 0) fail_errno(path, "close failed");
  if (::rename(temp.path().c_str(), path.c_str()) != 0) fail_errno(path, "cannot rename over");
  temp.release();

  // Make the rename itself durable.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd < 0) fail_errno(path, "cannot open directory " + dir.string() + " to fsync");
  const int rc = ::fsync(dir_fd);
  ::close(dir_fd);
  if (rc != 0) fail_errno(path, "fsync of directory " + dir.string() + " failed");
}

}  // namespace stern
