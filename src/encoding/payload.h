// Bounded reading and writing of encoding payloads, shared by every encoding in the table.
// Every read checks the bytes remaining; every size is computed with overflow checks.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "stern/encoding.h"
#include "stern/error.h"

namespace stern::encoding_detail {

inline uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& where) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail(where, "size overflows 64 bits");
  return r;
}

class PayloadReader {
 public:
  PayloadReader(std::span<const uint8_t> bytes, std::string where)
      : bytes_(bytes), where_(std::move(where)) {}

  const uint8_t* take(uint64_t n, const char* field) {
    if (n > bytes_.size() - pos_)
      fail(where_, std::string("payload truncated reading ") + field + ": needs " +
                       std::to_string(n) + " bytes, " + std::to_string(bytes_.size() - pos_) +
                       " remain");
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  template <typename T>
  T read(const char* field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field), sizeof(T));
    return v;
  }
  void expect_end() const {
    if (pos_ != bytes_.size())
      fail(where_, "payload has " + std::to_string(bytes_.size() - pos_) +
                       " unexpected trailing bytes");
  }
  const std::string& where() const { return where_; }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
  std::string where_;
};

class PayloadWriter {
 public:
  template <typename T>
  void write(const T& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void write_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
  }
  std::vector<uint8_t> bytes;
};

// The header every quantized encoding starts with: scale grouping, then the scales.
//   uint32 group | uint8 asymmetric | 3 reserved zero bytes |
//   float32 scale_pos[rows * groups] | float32 scale_neg[rows * groups] (if asymmetric)
void write_scales(PayloadWriter& w, const WeightMatrix& m);
void read_scales(PayloadReader& r, WeightMatrix& m);
// Shape, alphabet and scale checks before packing; names the encoding in errors.
void check_matrix(const WeightMatrix& m, const EncodingTraits& t);

// How every quantized encoding's pack starts: check the matrix, write the scale header.
inline PayloadWriter start_pack(const WeightMatrix& m, const EncodingTraits& t) {
  check_matrix(m, t);
  PayloadWriter w;
  write_scales(w, m);
  return w;
}

// How every quantized encoding's unpack starts: the shape, then the scale header; the body
// is read from `reader`.
struct Unpacking {
  WeightMatrix m;
  PayloadReader reader;
};
inline Unpacking start_unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                              const std::string& where) {
  Unpacking u{WeightMatrix{}, PayloadReader(payload, where)};
  u.m.rows = rows;
  u.m.cols = cols;
  read_scales(u.reader, u.m);
  return u;
}

}  // namespace stern::encoding_detail
