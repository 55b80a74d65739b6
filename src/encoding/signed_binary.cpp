// signed_binary: scale header (symmetric), int8 sign[rows] (each +1 or -1), then a row
// bitmap: w[r][c] = sign[r] * bit * scale. 1 bit per weight plus one sign per filter; a
// filter's non-zeros all share its sign ("local binarization, global ternarization").
#include "encoding/bitmap.h"
#include "encoding/encodings.h"

namespace stern {
namespace {
using namespace encoding_detail;

std::vector<uint8_t> pack(const WeightMatrix& m) {
  if (m.asymmetric) fail("encoding signed_binary", "scales must be symmetric");
  PayloadWriter w = start_pack(m, signed_binary_traits());
  for (int64_t r = 0; r < m.rows; ++r) {
    int8_t sign = 0;
    for (int64_t c = 0; c < m.cols; ++c) {
      const int8_t code = m.codes[r * m.cols + c];
      if (code != 0 && sign != 0 && code != sign)
        fail("encoding signed_binary", "row " + std::to_string(r) + " mixes +1 and -1");
      if (code != 0) sign = code;
    }
    w.write(sign == 0 ? int8_t{1} : sign);  // an all-zero filter's sign is irrelevant
  }
  write_bitmap(w, m, [](int8_t code) { return code != 0; });
  return std::move(w.bytes);
}

WeightMatrix unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                    const std::string& where) {
  Unpacking u = start_unpack(payload, rows, cols, where);
  WeightMatrix& m = u.m;
  PayloadReader& r = u.reader;
  if (m.asymmetric) fail(where, "signed_binary scales must be symmetric");
  const auto* signs = reinterpret_cast<const int8_t*>(r.take(rows, "filter signs"));
  for (int64_t row = 0; row < rows; ++row)
    if (signs[row] != 1 && signs[row] != -1)
      fail(where, "filter sign of row " + std::to_string(row) + " is " + std::to_string(signs[row]) + ", expected +1 or -1");
  m.codes.assign(checked_mul(rows, cols, where), 0);
  read_bitmap(r, rows, cols, [&](int64_t row, int64_t c, bool bit) {
    m.codes[row * cols + c] = bit ? signs[row] : 0;
  });
  r.expect_end();
  return std::move(m);
}
}  // namespace

const EncodingTraits& signed_binary_traits() {
  static const EncodingTraits t{Encoding::signed_binary, "signed_binary", /*block_size=*/8,
                                /*bits_per_weight=*/1, -1, 1, pack, unpack, encoding_detail::dot_ref};
  return t;
}

}  // namespace stern
