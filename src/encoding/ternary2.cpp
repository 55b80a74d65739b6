// ternary2: scale header, then per row ceil(cols / 4) bytes; weight c sits in bits
// 2*(c % 4)..2*(c % 4)+1 of byte c / 4: 00 = 0, 01 = +1, 10 = -1, 11 is invalid. Unused
// trailing bit pairs of a row are 00. 2 bits per weight (plus 32 bits per scale group).
#include "encoding/encodings.h"
#include "encoding/payload.h"

namespace stern {
namespace {
using namespace encoding_detail;

std::vector<uint8_t> pack(const WeightMatrix& m) {
  PayloadWriter w = start_pack(m, ternary2_traits());
  const int64_t row_bytes = (m.cols + 3) / 4;
  std::vector<uint8_t> row(row_bytes);
  for (int64_t r = 0; r < m.rows; ++r) {
    std::fill(row.begin(), row.end(), 0);
    for (int64_t c = 0; c < m.cols; ++c) {
      const int8_t code = m.codes[r * m.cols + c];
      const uint8_t bits = code > 0 ? 1 : code < 0 ? 2 : 0;
      row[c / 4] |= bits << (2 * (c % 4));
    }
    w.write_bytes(row.data(), row.size());
  }
  return std::move(w.bytes);
}

WeightMatrix unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                    const std::string& where) {
  Unpacking u = start_unpack(payload, rows, cols, where);
  WeightMatrix& m = u.m;
  PayloadReader& r = u.reader;
  const int64_t row_bytes = (cols + 3) / 4;
  const uint8_t* p = r.take(checked_mul(rows, row_bytes, where), "ternary2 codes");
  r.expect_end();
  m.codes.resize(checked_mul(rows, cols, where));
  for (int64_t row = 0; row < rows; ++row) {
    const uint8_t* bytes = p + row * row_bytes;
    for (int64_t c = 0; c < row_bytes * 4; ++c) {
      const uint8_t bits = (bytes[c / 4] >> (2 * (c % 4))) & 3;
      if (bits == 3)
        fail(where, "ternary2 code 0b11 at row " + std::to_string(row) + ", column " + std::to_string(c));
      if (c >= cols) {
        if (bits != 0) fail(where, "ternary2 padding bits are not zero in row " + std::to_string(row));
        continue;
      }
      m.codes[row * cols + c] = bits == 1 ? 1 : bits == 2 ? -1 : 0;
    }
  }
  return std::move(m);
}
}  // namespace

const EncodingTraits& ternary2_traits() {
  static const EncodingTraits t{Encoding::ternary2, "ternary2", /*block_size=*/4,
                                /*bits_per_weight=*/2, -1, 1, pack, unpack, encoding_detail::dot_ref};
  return t;
}

}  // namespace stern
