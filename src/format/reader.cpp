// .stern reader: bounded parsing of the preamble and header, then validation of every offset,
// size and checksum before a single payload is handed out. Layout: docs/FORMAT.md.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "format/checked.h"
#include "format/container.h"
#include "stern/error.h"
#include "stern/format.h"

namespace stern {
namespace format {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the .stern layout is little-endian and payloads are used in place");

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

template <typename T>
T load_le(const uint8_t* at) {
  T v;
  std::memcpy(&v, at, sizeof(T));
  return v;
}

// Reads the header: every read checks the bytes remaining, every count is checked against a
// named limit and against the bytes remaining before anything is allocated for it.
class HeaderReader {
 public:
  HeaderReader(std::span<const uint8_t> bytes, std::string file)
      : bytes_(bytes), file_(std::move(file)) {}

  [[noreturn]] void error(const std::string& field, const std::string& what) const {
    fail(file_, "file offset " + std::to_string(kPreambleBytes + field_start_) + ": " + field + ": " + what);
  }

  template <typename T>
  T get(const std::string& field) {
    field_start_ = pos_;
    if (bytes_.size() - pos_ < sizeof(T)) error(field, "truncated header");
    const T v = load_le<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  // A count of records of at least `min_record_bytes` each.
  uint32_t count(const std::string& field, uint32_t limit, size_t min_record_bytes) {
    const auto n = get<uint32_t>(field);
    if (n > limit) error(field, std::to_string(n) + " exceeds the maximum " + std::to_string(limit));
    if (uint64_t{n} * min_record_bytes > bytes_.size() - pos_) {
      error(field, std::to_string(n) + " entries do not fit in the " +
                       std::to_string(bytes_.size() - pos_) + " header bytes left");
    }
    return n;
  }

  std::string string(const std::string& field, uint32_t limit) {
    const uint32_t n = count(field + " length", limit, 1);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  std::string name(const std::string& field) {
    std::string s = string(field, kMaxNameBytes);
    if (const int64_t i = find_control_char(s); i >= 0) {
      error(field, "control character (code " + std::to_string(static_cast<unsigned char>(s[i])) +
                       ") at byte " + std::to_string(i) + "; names are printable text");
    }
    return s;
  }

  std::vector<std::string> strings(const std::string& field) {
    std::vector<std::string> list(count(field + " count", kMaxNodeValues, sizeof(uint32_t)));
    for (size_t i = 0; i < list.size(); ++i) {
      list[i] = name(field + " " + std::to_string(i));
    }
    return list;
  }

  // Dimensions are >= 1, or -1 (free) where `allow_free`.
  std::vector<int64_t> dims(const std::string& field, bool allow_free) {
    std::vector<int64_t> shape(count(field + " rank", kMaxRank, sizeof(int64_t)));
    for (int64_t& d : shape) {
      d = get<int64_t>(field + " dimension");
      if ((d < 1 && !(allow_free && d == -1)) || d > kMaxDim) {
        error(field, "dimension " + std::to_string(d) + " out of range; expected 1.." +
                         std::to_string(kMaxDim) + (allow_free ? " or -1" : ""));
      }
    }
    return shape;
  }

  Attributes attributes(const std::string& field) {
    Attributes attrs;
    const uint32_t n = count(field + " attribute count", kMaxAttributes, 4 + 1 + 4);
    for (uint32_t i = 0; i < n; ++i) {
      std::string key = name(field + " attribute name");
      const std::string at = field + " attribute '" + key + "'";
      const auto type = get<uint8_t>(at + " type");
      AttrValue value;
      switch (static_cast<AttrType>(type)) {
        case AttrType::i64: value = get<int64_t>(at); break;
        case AttrType::f64: value = get<double>(at); break;
        case AttrType::string: value = string(at, kMaxStringBytes); break;
        case AttrType::i64_list: value = list<int64_t>(at); break;
        case AttrType::f64_list: value = list<double>(at); break;
        default: error(at + " type", "unknown attribute type " + std::to_string(type) + "; expected 0..4");
      }
      if (!attrs.emplace(std::move(key), std::move(value)).second) error(at, "duplicate attribute");
    }
    return attrs;
  }

  bool at_end() const { return pos_ == bytes_.size(); }
  size_t position() const { return pos_; }

 private:
  template <typename T>
  std::vector<T> list(const std::string& field) {
    std::vector<T> v(count(field + " length", kMaxListElements, sizeof(T)));
    for (T& x : v) x = get<T>(field);
    return v;
  }

  std::span<const uint8_t> bytes_;
  std::string file_;
  size_t pos_ = 0;
  size_t field_start_ = 0;  // where the field being read starts, for error messages
};

struct TensorEntry {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

struct Preamble {
  uint64_t header_bytes = 0;
  uint64_t data_offset = 0;
  uint64_t data_bytes = 0;
};

Preamble read_preamble(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kPreambleBytes) {
    fail(name, "file is " + std::to_string(bytes.size()) + " bytes; a .stern file has at least " +
                   std::to_string(kPreambleBytes));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    fail(name, "bad magic; not a .stern model file");
  }
  const auto version = load_le<uint32_t>(&bytes[kVersionOffset]);
  if (version != kFormatVersion) {
    fail(name, "format version " + std::to_string(version) + " is not supported; expected " +
                   std::to_string(kFormatVersion));
  }
  const auto flags = load_le<uint32_t>(&bytes[kFlagsOffset]);
  if (flags != 0) fail(name, "preamble flags " + hex32(flags) + "; expected 0");
  for (size_t i = kDataBytesOffset + 8; i < kHeaderCrcOffset; ++i) {
    if (bytes[i] != 0) fail(name, "preamble reserved byte " + std::to_string(i) + " is not zero");
  }

  Preamble p;
  p.header_bytes = load_le<uint64_t>(&bytes[kHeaderBytesOffset]);
  p.data_offset = load_le<uint64_t>(&bytes[kDataOffsetOffset]);
  p.data_bytes = load_le<uint64_t>(&bytes[kDataBytesOffset]);
  if (p.header_bytes > kMaxHeaderBytes) {
    fail(name, "header_bytes " + std::to_string(p.header_bytes) + " exceeds the maximum " +
                   std::to_string(kMaxHeaderBytes));
  }
  const uint64_t expected_data_offset = align_up(kPreambleBytes + p.header_bytes);
  if (p.data_offset != expected_data_offset) {
    fail(name, "data_offset " + std::to_string(p.data_offset) + "; expected " +
                   std::to_string(expected_data_offset) + " (header end rounded up to 64)");
  }
  const uint64_t file_end = checked_add(p.data_offset, p.data_bytes, name + ": data_bytes");
  if (file_end != bytes.size()) {
    fail(name, "file is " + std::to_string(bytes.size()) + " bytes but the preamble declares " +
                   std::to_string(file_end) + " (data_offset " + std::to_string(p.data_offset) +
                   " + data_bytes " + std::to_string(p.data_bytes) + "); truncated or padded");
  }
  return p;
}

void check_zero(std::span<const uint8_t> bytes, uint64_t begin, uint64_t end, const std::string& name,
                const std::string& what) {
  for (uint64_t i = begin; i < end; ++i) {
    if (bytes[i] != 0) fail(name, what + " byte " + std::to_string(i) + " is not zero");
  }
}

}  // namespace

Graph load(std::span<const uint8_t> bytes, const std::string& name,
           std::shared_ptr<const void> owner, const LoadOptions& options) {
  const Preamble p = read_preamble(bytes, name);
  const auto header = bytes.subspan(kPreambleBytes, p.header_bytes);
  if (options.verify_checksums) {
    const uint32_t stored = load_le<uint32_t>(&bytes[kHeaderCrcOffset]);
    const uint32_t actual = crc32_of(header, crc32_of(bytes.first(kHeaderCrcOffset)));
    if (stored != actual) {
      fail(name, "header checksum " + hex32(actual) + " does not match the stored " + hex32(stored) +
                     "; the file is corrupted");
    }
  }
  check_zero(bytes, kPreambleBytes + p.header_bytes, p.data_offset, name, "header padding");

  Graph g;
  HeaderReader r(header, name);
  std::vector<TensorEntry> entries;
  // Smallest tensor record: empty name, encoding, rank 0, offset, size, crc.
  const uint32_t tensor_count = r.count("tensor count", kMaxTensors, 4 + 2 + 4 + 8 + 8 + 4);
  g.tensors.resize(tensor_count);
  entries.resize(tensor_count);
  for (uint32_t i = 0; i < tensor_count; ++i) {
    Tensor& t = g.tensors[i];
    const std::string field = "tensor " + std::to_string(i);
    t.name = r.name(field + " name");
    const std::string at = field + " '" + t.name + "'";
    const auto encoding = r.get<uint16_t>(at + " encoding");
    t.encoding = encoding_traits_checked(encoding, name + ": " + at).id;
    t.shape = r.dims(at + " shape", /*allow_free=*/false);
    entries[i].offset = r.get<uint64_t>(at + " offset");
    entries[i].bytes = r.get<uint64_t>(at + " size");
    entries[i].crc = r.get<uint32_t>(at + " checksum");
  }
  for (auto* values : {&g.inputs, &g.outputs}) {
    const std::string kind = values == &g.inputs ? "graph input" : "graph output";
    values->resize(r.count(kind + " count", kMaxGraphValues, 4 + 4));
    for (ValueInfo& v : *values) {
      v.name = r.name(kind + " name");
      v.shape = r.dims(kind + " '" + v.name + "' shape", /*allow_free=*/true);
    }
  }
  // Smallest node record: op, empty name, no inputs, no outputs, no attributes.
  g.nodes.resize(r.count("node count", kMaxNodes, 2 + 4 + 4 + 4 + 4));
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    const std::string field = "node " + std::to_string(i);
    const auto op = r.get<uint16_t>(field + " operator");
    if (op >= kOpTypeCount) {
      r.error(field + " operator", "unknown operator id " + std::to_string(op) + "; expected 0.." +
                                       std::to_string(kOpTypeCount - 1));
    }
    n.op = static_cast<OpType>(op);
    n.name = r.name(field + " name");
    const std::string at = field + " '" + n.name + "'";
    n.inputs = r.strings(at + " input");
    n.outputs = r.strings(at + " output");
    n.attrs = r.attributes(at);
  }
  g.metadata = r.attributes("metadata");
  if (!r.at_end()) {
    r.error("end of header", std::to_string(header.size() - r.position()) + " unparsed bytes");
  }

  // Payloads: in ascending order, aligned, non-overlapping, inside the data section, zero
  // padding between them, and each one matching its checksum.
  const auto data = bytes.subspan(p.data_offset, p.data_bytes);
  uint64_t end_of_previous = 0;
  for (uint32_t i = 0; i < tensor_count; ++i) {
    const TensorEntry& e = entries[i];
    const std::string at = "tensor '" + g.tensors[i].name + "'";
    if (e.offset % kAlignment != 0) {
      fail(name, at + ": offset " + std::to_string(e.offset) + " is not a multiple of " +
                     std::to_string(kAlignment));
    }
    if (e.offset < end_of_previous) {
      fail(name, at + ": offset " + std::to_string(e.offset) + " overlaps the previous tensor (ends at " +
                     std::to_string(end_of_previous) + ")");
    }
    const uint64_t end = checked_add(e.offset, e.bytes, name + ": " + at + ": size");
    if (end > data.size()) {
      fail(name, at + ": bytes [" + std::to_string(e.offset) + ", " + std::to_string(end) +
                     ") run past the end of the " + std::to_string(data.size()) + "-byte data section");
    }
    check_zero(data, end_of_previous, e.offset, name, "tensor padding before " + at + ", data");
    end_of_previous = end;
    Tensor& t = g.tensors[i];
    t.payload = data.subspan(e.offset, e.bytes);
    t.owner = owner;
    if (options.verify_checksums && crc32_of(t.payload) != e.crc) {
      fail(name, at + ": checksum " + hex32(crc32_of(t.payload)) + " does not match the stored " +
                     hex32(e.crc) + "; the tensor data is corrupted");
    }
  }
  if (end_of_previous != data.size()) {
    fail(name, std::to_string(data.size() - end_of_previous) +
                   " bytes after the last tensor; expected the data section to end there");
  }

  validate_graph(g, name);
  return g;
}

}  // namespace format

Graph load_model_from_memory(std::span<const uint8_t> bytes, const std::string& name,
                             std::shared_ptr<const void> owner) {
  return format::load(bytes, name, std::move(owner), {});
}

Graph load_model(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(name, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(name, "not a regular file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < format::kPreambleBytes) {
    ::close(fd);
    fail(name, "file is " + std::to_string(size) + " bytes; a .stern file has at least " +
                   std::to_string(format::kPreambleBytes));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) fail(name, std::string("cannot map: ") + std::strerror(map_errno));
  // The mapping lives as long as any tensor of the returned graph (Tensor::owner).
  std::shared_ptr<const void> owner(map, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  return load_model_from_memory({static_cast<const uint8_t*>(map), size}, name, std::move(owner));
}

}  // namespace stern
