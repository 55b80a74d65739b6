// ternary_sparse: scale header, then uint32 counts[rows][2] (non-zeros +1, -1 per row), then
// per row its +1 column indices ascending followed by its -1 column indices ascending, as
// uint16 when cols <= 65536 and uint32 otherwise. 16 bits per *non-zero* weight: smaller
// than ternary2 below 12.5% density, and directly the add/sub lists of multiply-free kernels.
#include <algorithm>

#include "encoding/encodings.h"
#include "encoding/payload.h"

namespace stern {
namespace {
using namespace encoding_detail;

bool narrow_indices(int64_t cols) { return cols <= 65536; }

std::vector<uint8_t> pack(const WeightMatrix& m) {
  PayloadWriter w = start_pack(m, ternary_sparse_traits());
  for (int64_t r = 0; r < m.rows; ++r) {
    const int8_t* row = &m.codes[r * m.cols];
    w.write(static_cast<uint32_t>(std::count(row, row + m.cols, int8_t{1})));
    w.write(static_cast<uint32_t>(std::count(row, row + m.cols, int8_t{-1})));
  }
  for (int64_t r = 0; r < m.rows; ++r)
    for (int8_t sign : {int8_t{1}, int8_t{-1}})
      for (int64_t c = 0; c < m.cols; ++c) {
        if (m.codes[r * m.cols + c] != sign) continue;
        if (narrow_indices(m.cols))
          w.write(static_cast<uint16_t>(c));
        else
          w.write(static_cast<uint32_t>(c));
      }
  return std::move(w.bytes);
}

WeightMatrix unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                    const std::string& where) {
  Unpacking u = start_unpack(payload, rows, cols, where);
  WeightMatrix& m = u.m;
  PayloadReader& r = u.reader;
  const uint64_t n_counts = checked_mul(rows, 2, where);
  const uint8_t* counts_bytes = r.take(checked_mul(n_counts, sizeof(uint32_t), where), "row counts");
  std::vector<uint32_t> counts(n_counts);
  std::memcpy(counts.data(), counts_bytes, n_counts * sizeof(uint32_t));
  m.codes.assign(checked_mul(rows, cols, where), 0);
  const bool narrow = narrow_indices(cols);
  for (int64_t row = 0; row < rows; ++row) {
    if (uint64_t(counts[2 * row]) + counts[2 * row + 1] > uint64_t(cols))
      fail(where, "row " + std::to_string(row) + " declares more non-zeros than its " +
                      std::to_string(cols) + " columns");
    for (int list = 0; list < 2; ++list) {
      const int8_t sign = list == 0 ? 1 : -1;
      int64_t previous = -1;
      for (uint32_t i = 0; i < counts[2 * row + list]; ++i) {
        const int64_t c = narrow ? int64_t(r.read<uint16_t>("index")) : int64_t(r.read<uint32_t>("index"));
        if (c >= cols || c <= previous)
          fail(where, "row " + std::to_string(row) + ": index " + std::to_string(c) +
                          " is out of range or not strictly ascending");
        int8_t& code = m.codes[row * cols + c];
        if (code != 0) fail(where, "row " + std::to_string(row) + ": column " + std::to_string(c) + " is both +1 and -1");
        code = sign;
        previous = c;
      }
    }
  }
  r.expect_end();
  return std::move(m);
}
}  // namespace

const EncodingTraits& ternary_sparse_traits() {
  static const EncodingTraits t{Encoding::ternary_sparse, "ternary_sparse", /*block_size=*/1,
                                /*bits_per_weight (per non-zero)=*/16, -1, 1, pack, unpack,
                                encoding_detail::dot_ref};
  return t;
}

}  // namespace stern
