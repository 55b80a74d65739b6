// Scalar reference for the sparse ternary GEMM (igemm.h): for each row, add the tile's
// activation columns of its +1 weights and subtract those of its -1 weights.
#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemm_64x1__scalar(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                               size_t g, size_t lanes, int32_t* c, size_t ldc) {
  for (size_t r = row0; r < row1; ++r) {
    int32_t* out = c + (r - row0) * ldc;
    for (size_t i = 0; i < lanes; ++i) out[i] = 0;
    for (size_t seg = 0; seg < w.segments; ++seg)
      row_chunks(w, r, g, seg, [&](const int32_t* off, size_t npos, size_t n) {
        for (size_t e = 0; e < n; ++e) {
          const uint8_t* src = at + off[e];
          const int32_t sign = e < npos ? 1 : -1;
          for (size_t i = 0; i < lanes; ++i) out[i] += sign * src[i];
        }
      });
  }
}

}  // namespace stern::kernels
