// Scalar reference for the sparse ternary GEMV (igemm.h SparseBands), one activation row:
// additions and subtractions only. The truth tsparse_gemv_* kernels are tested against.
#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemv_1x16__scalar(const uint8_t* x, const SparseBands& w, size_t band0, size_t band1,
                               int32_t* y) {
  const size_t groups = w.groups(), band = w.band;
  for (size_t i = 0; i < (band1 - band0) * band * groups; ++i) y[i] = 0;
  for (size_t q = band0; q < band1; ++q) {
    const uint8_t* e = w.bytes.data() + w.start[q];
    int32_t* out = y + (q - band0) * band * groups;
    for (size_t b = 0; b < w.blocks; ++b) {
      const uint8_t* xb = x + b * kSparseBlock;
      const size_t g = b / w.blocks_per_group;
      const uint8_t* h = e;
      e += band;
      const bool long_block = h[band - 1] == SparseBands::kLongBlock;
      const uint8_t* count = e;  // a long block's counts precede its entries
      if (long_block) e += band;
      for (size_t i = 0; i < band; ++i)
        for (size_t n = long_block ? count[i] : h[i] - (i ? h[i - 1] : 0); n; --n, ++e) {
          const int32_t v = xb[*e & 0x7F];
          out[i * groups + g] += *e & 0x80 ? -v : v;
        }
    }
  }
}

}  // namespace stern::kernels
