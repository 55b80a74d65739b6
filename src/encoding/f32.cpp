// f32: little-endian IEEE float32, row-major; 32 bits per weight. Any finite or non-finite
// value is representable (NaN checks belong to the op that consumes the tensor).
#include "encoding/encodings.h"
#include "encoding/payload.h"

namespace stern {
namespace {
using namespace encoding_detail;

std::vector<uint8_t> pack(const WeightMatrix& m) {
  check_matrix(m, f32_traits());
  PayloadWriter w;
  w.write_bytes(m.values.data(), m.values.size() * sizeof(float));
  return std::move(w.bytes);
}

WeightMatrix unpack(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                    const std::string& where) {
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  const uint64_t n = checked_mul(rows, cols, where);
  PayloadReader r(payload, where);
  const uint8_t* p = r.take(checked_mul(n, sizeof(float), where), "f32 values");
  r.expect_end();
  m.values.resize(n);
  std::memcpy(m.values.data(), p, n * sizeof(float));
  return m;
}
}  // namespace

const EncodingTraits& f32_traits() {
  static const EncodingTraits t{Encoding::f32, "f32", /*block_size=*/1, /*bits_per_weight=*/32,
                                0, 0, pack, unpack, encoding_detail::dot_ref};
  return t;
}

}  // namespace stern
