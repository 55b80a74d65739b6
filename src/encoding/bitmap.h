// Row bitmaps shared by signed_binary and binary: bit c % 8 of byte c / 8, rows padded to
// whole bytes with zero bits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "encoding/payload.h"

namespace stern::encoding_detail {

inline int64_t bitmap_row_bytes(int64_t cols) { return (cols + 7) / 8; }

// Writes one bit per column: bit = predicate(code).
template <typename Predicate>
void write_bitmap(PayloadWriter& w, const WeightMatrix& m, Predicate bit_of) {
  std::vector<uint8_t> row(bitmap_row_bytes(m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    std::fill(row.begin(), row.end(), 0);
    for (int64_t c = 0; c < m.cols; ++c)
      if (bit_of(m.codes[r * m.cols + c])) row[c / 8] |= uint8_t(1u << (c % 8));
    w.write_bytes(row.data(), row.size());
  }
}

// Reads the bitmap, checks padding bits are zero, and calls set(row, col, bit) per column.
template <typename Set>
void read_bitmap(PayloadReader& r, int64_t rows, int64_t cols, Set set) {
  const int64_t row_bytes = bitmap_row_bytes(cols);
  const uint8_t* p = r.take(checked_mul(rows, row_bytes, r.where()), "bitmap");
  for (int64_t row = 0; row < rows; ++row) {
    const uint8_t* bytes = p + row * row_bytes;
    for (int64_t c = 0; c < row_bytes * 8; ++c) {
      const bool bit = (bytes[c / 8] >> (c % 8)) & 1;
      if (c >= cols) {
        if (bit) fail(r.where(), "bitmap padding bits are not zero in row " + std::to_string(row));
      } else {
        set(row, c, bit);
      }
    }
  }
}

}  // namespace stern::encoding_detail
