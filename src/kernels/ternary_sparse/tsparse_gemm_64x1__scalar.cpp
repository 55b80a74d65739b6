// Scalar reference for the sparse ternary GEMM (igemm.h): for each row and block, add the
// 64-pixel activation columns of its +1 weights and subtract those of its -1 weights.
#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemm_64x1__scalar(const uint8_t* at, const int32_t* offset, const SparseRows& w,
                               size_t row0, size_t row1, size_t b0, size_t b1, int32_t* c,
                               size_t ldc) {
  for (size_t r = row0; r < row1; ++r) {
    int32_t* out = c + (r - row0) * ldc;
    const uint8_t* h = w.header(r, b0);
    for (size_t b = b0; b < b1; ++b) {
      const int32_t* block = offset + b * kSparseBlock;
      const size_t npos = h[0], nneg = h[1];
      const uint8_t* off = h + 2;
      for (size_t e = 0; e < npos + nneg; ++e) {
        const uint8_t* src = at + block[off[e]];
        const int32_t sign = e < npos ? 1 : -1;
        for (size_t i = 0; i < kSparseTile; ++i) out[i] += sign * src[i];
      }
      h = off + npos + nneg;
    }
  }
}

}  // namespace stern::kernels
