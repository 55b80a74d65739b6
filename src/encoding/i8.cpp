// i8: scale header, then int8 codes in [-127, 127], row-major. -128 is excluded so the
// alphabet is symmetric and negation never overflows in kernels.
#include "encoding/encodings.h"
#include "encoding/payload.h"

namespace stern {
namespace {
using namespace encoding_detail;

std::vector<uint8_t> pack(const WeightMatrix& m) {
  PayloadWriter w = start_pack(m, i8_traits());
  w.write_bytes(m.codes.data(), m.codes.size());
  return std::move(w.bytes);
}

WeightMatrix unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                    const std::string& where) {
  Unpacking u = start_unpack(payload, rows, cols, where);
  WeightMatrix& m = u.m;
  PayloadReader& r = u.reader;
  const uint64_t n = checked_mul(rows, cols, where);
  const uint8_t* p = r.take(n, "int8 codes");
  r.expect_end();
  m.codes.assign(reinterpret_cast<const int8_t*>(p), reinterpret_cast<const int8_t*>(p) + n);
  for (int8_t c : m.codes)
    if (c == -128) fail(where, "int8 code -128 is outside the symmetric range [-127, 127]");
  return std::move(m);
}
}  // namespace

const EncodingTraits& i8_traits() {
  static const EncodingTraits t{Encoding::i8, "i8", /*block_size=*/1, /*bits_per_weight=*/8,
                                -127, 127, pack, unpack, encoding_detail::dot_ref};
  return t;
}

}  // namespace stern
