// NumPy .npy: "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE in 2.0),
// then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded
// with spaces and ended by '\n', then the raw array data.
#include <bit>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "data/file_bytes.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/tensor_io.h"

namespace stern {
namespace {

static_assert(std::endian::native == std::endian::little, "npy payloads are read in place as little-endian");

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicBytes = 6;
constexpr size_t kNpyMaxDims = 32;  // NumPy's own NPY_MAXDIMS
constexpr uint64_t kNpyMaxFileBytes = uint64_t{1} << 34;
constexpr size_t kNpyAlign = 64;

enum class DType { f4, f8, i8, u1 };

struct DTypeInfo {
  const char* descr;
  DType type;
  size_t bytes;
};
constexpr DTypeInfo kDTypes[] = {
    {"<f4", DType::f4, 4}, {"<f8", DType::f8, 8}, {"<i8", DType::i8, 8}, {"|u1", DType::u1, 1}};

struct NpyHeader {
  const DTypeInfo* dtype = nullptr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A strict reader for the one dict shape NumPy writes; anything else is an error rather
// than a guess.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("key");
      expect(':');
      if (key == "descr") {
        mark_seen(seen_descr, key);
        header.dtype = parse_dtype();
      } else if (key == "fortran_order") {
        mark_seen(seen_order, key);
        header.fortran_order = parse_bool(key);
      } else if (key == "shape") {
        mark_seen(seen_shape, key);
        header.shape = parse_shape();
      } else {
        error("unexpected header key '" + key + "', expected descr, fortran_order, shape");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        error("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;  // '}'
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
    if (pos_ + 1 != text_.size() || text_[pos_] != '\n') {
      error("header must end with the dict, spaces and one '\\n'");
    }
    if (!seen_descr) error("header has no 'descr'");
    if (!seen_order) error("header has no 'fortran_order'");
    if (!seen_shape) error("header has no 'shape'");
    if (header.fortran_order) error("fortran_order is True, expected False (C order)");
    return header;
  }

 private:
  [[noreturn]] void error(const std::string& what) const { fail(where_, "npy header: " + what); }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(std::string("expected '") + c + "' at offset " + std::to_string(pos_));
    ++pos_;
  }
  void mark_seen(bool& seen, const std::string& key) const {
    if (seen) error("duplicate key '" + key + "'");
    seen = true;
  }

  std::string parse_string(const char* what) {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') error(std::string("expected a quoted ") + what);
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) error(std::string("unterminated ") + what);
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }

  const DTypeInfo* parse_dtype() {
    const std::string descr = parse_string("descr");
    for (const auto& d : kDTypes) {
      if (descr == d.descr) return &d;
    }
    error("descr '" + descr + "' is not supported, expected '<f4', '<f8', '<i8' or '|u1'");
  }

  bool parse_bool(const std::string& key) {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(pos_).starts_with(word)) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    error("'" + key + "' must be True or False");
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') error("shape must be a tuple of non-negative integers");
      int64_t dim = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10) error("shape dimension overflows");
        dim = dim * 10 + (peek() - '0');
        ++pos_;
      }
      shape.push_back(dim);
      if (shape.size() > kNpyMaxDims) error("more than " + std::to_string(kNpyMaxDims) + " dimensions");
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++pos_;
      } else if (peek() != ')') {
        error("expected ',' or ')' in shape");
      }
    }
    ++pos_;  // ')'
    if (shape.size() == 1 && !trailing_comma) {
      error("shape (" + std::to_string(shape[0]) + ") is not a tuple, expected (" +
            std::to_string(shape[0]) + ",)");
    }
    return shape;
  }

  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
};

// Element count of `shape`, refusing negative dimensions and counts whose byte size would
// not fit in `max_bytes`.
uint64_t checked_numel(const std::vector<int64_t>& shape, size_t item_bytes, uint64_t max_bytes,
                       const std::string& where) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(where, "negative dimension " + std::to_string(d));
    if (d != 0 && n > max_bytes / item_bytes / static_cast<uint64_t>(d)) {
      fail(where, "shape too large: more than " + std::to_string(max_bytes) + " bytes");
    }
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

// As NumPy writes a tuple: "()", "(5,)", "(2, 3)".
std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

template <typename T>
void convert(const uint8_t* src, std::vector<float>& dst) {
  for (size_t i = 0; i < dst.size(); ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

}  // namespace

FloatTensor parse_npy(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kNpyMagicBytes + 2 || std::memcmp(bytes.data(), kNpyMagic, kNpyMagicBytes) != 0) {
    fail(name, "not a .npy file: expected the magic \\x93NUMPY");
  }
  const uint8_t major = bytes[6], minor = bytes[7];
  if ((major != 1 && major != 2) || minor != 0) {
    fail(name, "npy version " + std::to_string(major) + "." + std::to_string(minor) +
                   " is not supported, expected 1.0 or 2.0");
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kNpyMagicBytes + 2 + length_bytes;
  if (bytes.size() < prefix) fail(name, "truncated: the npy header length is cut off");
  uint64_t header_bytes = bytes[8] | (uint64_t{bytes[9]} << 8);
  if (major == 2) header_bytes |= (uint64_t{bytes[10]} << 16) | (uint64_t{bytes[11]} << 24);
  if (header_bytes > bytes.size() - prefix) {
    fail(name, "truncated: npy header declares " + std::to_string(header_bytes) +
                   " bytes but the file has " + std::to_string(bytes.size() - prefix) + " after the prefix");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), header_bytes);
  const NpyHeader header = HeaderParser(text, name).parse();

  const uint64_t count = checked_numel(header.shape, header.dtype->bytes, kNpyMaxFileBytes, name + ": npy header");
  const uint64_t expected = count * header.dtype->bytes;
  const uint64_t present = bytes.size() - prefix - header_bytes;
  if (present != expected) {
    fail(name, std::string(present < expected ? "truncated" : "size mismatch") + ": shape " +
                   shape_text(header.shape) + " of " + header.dtype->descr + " needs " +
                   std::to_string(expected) + " data bytes, file has " + std::to_string(present));
  }
  FloatTensor t;
  t.shape = header.shape;
  t.data.resize(count);
  const uint8_t* data = bytes.data() + prefix + header_bytes;
  switch (header.dtype->type) {
    case DType::f4: convert<float>(data, t.data); break;
    case DType::f8: convert<double>(data, t.data); break;
    case DType::i8: convert<int64_t>(data, t.data); break;
    case DType::u1: convert<uint8_t>(data, t.data); break;
  }
  return t;
}

FloatTensor read_npy(const std::filesystem::path& path) {
  const auto bytes = data::read_file_bytes(path, kNpyMaxFileBytes, data::Compression::none);
  return parse_npy(bytes, path.string());
}

std::vector<uint8_t> serialize_npy(const FloatTensor& tensor) {
  if (tensor.shape.size() > kNpyMaxDims) {
    fail("npy tensor", std::to_string(tensor.shape.size()) + " dimensions, expected at most " +
                           std::to_string(kNpyMaxDims));
  }
  const uint64_t count = checked_numel(tensor.shape, sizeof(float), kNpyMaxFileBytes, "npy tensor");
  if (count != tensor.data.size()) {
    fail("npy tensor", "shape " + shape_text(tensor.shape) + " holds " + std::to_string(count) +
                           " values but the tensor has " + std::to_string(tensor.data.size()));
  }
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text(tensor.shape) + ", }";
  // At most kNpyMaxDims dimensions keep the header far below version 1.0's 64 KiB limit.
  constexpr size_t prefix = kNpyMagicBytes + 2 + 2;
  const size_t total_header = (prefix + dict.size() + 1 + kNpyAlign - 1) / kNpyAlign * kNpyAlign;
  dict.append(total_header - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');

  std::vector<uint8_t> out(total_header + count * sizeof(float));
  std::memcpy(out.data(), kNpyMagic, kNpyMagicBytes);
  out[6] = 1;
  out[7] = 0;
  out[8] = static_cast<uint8_t>(dict.size());
  out[9] = static_cast<uint8_t>(dict.size() >> 8);
  std::memcpy(out.data() + prefix, dict.data(), dict.size());
  if (count != 0) std::memcpy(out.data() + total_header, tensor.data.data(), count * sizeof(float));
  return out;
}

void write_npy(const std::filesystem::path& path, const FloatTensor& tensor) {
  write_file_atomic(path, serialize_npy(tensor));
}

}  // namespace stern
