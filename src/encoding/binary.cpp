// binary: scale header, then a row bitmap: bit 1 = +1, bit 0 = -1, w = code * scale.
// 1 bit per weight; no zeros.
#include "encoding/bitmap.h"
#include "encoding/encodings.h"

namespace stern {
namespace {
using namespace encoding_detail;

std::vector<uint8_t> pack(const WeightMatrix& m) {
  for (int8_t code : m.codes)
    if (code == 0) fail("encoding binary", "code 0 is not representable (binary weights are +1 or -1)");
  PayloadWriter w = start_pack(m, binary_traits());
  write_bitmap(w, m, [](int8_t code) { return code > 0; });
  return std::move(w.bytes);
}

WeightMatrix unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                    const std::string& where) {
  Unpacking u = start_unpack(payload, rows, cols, where);
  WeightMatrix& m = u.m;
  PayloadReader& r = u.reader;
  m.codes.assign(checked_mul(rows, cols, where), 0);
  read_bitmap(r, rows, cols, [&](int64_t row, int64_t c, bool bit) {
    m.codes[row * cols + c] = bit ? 1 : -1;
  });
  r.expect_end();
  return std::move(m);
}
}  // namespace

const EncodingTraits& binary_traits() {
  static const EncodingTraits t{Encoding::binary, "binary", /*block_size=*/8,
                                /*bits_per_weight=*/1, -1, 1, pack, unpack, encoding_detail::dot_ref};
  return t;
}

}  // namespace stern
