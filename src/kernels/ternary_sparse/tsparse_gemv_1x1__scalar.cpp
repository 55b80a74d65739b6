// Scalar reference for the sparse ternary rows (igemm.h), one activation row: additions
// and subtractions only. The truth tsparse_gemv_* kernels are tested against.
#include "kernels/igemm.h"

namespace stern::kernels {

void tsparse_gemv_1x1__scalar(const uint8_t* x, const SparseRows& w, size_t row0, size_t row1,
                              size_t b0, size_t b1, int32_t* y) {
  for (size_t r = row0; r < row1; ++r) {
    const uint8_t* h = w.header(r, b0);
    int32_t acc = 0;
    for (size_t b = b0; b < b1; ++b) {
      const uint8_t* xb = x + b * kSparseBlock;
      const size_t npos = h[0], nneg = h[1];
      const uint8_t* off = h + 2;
      for (size_t i = 0; i < npos; ++i) acc += xb[off[i]];
      for (size_t i = npos; i < npos + nneg; ++i) acc -= xb[off[i]];
      h = off + npos + nneg;
    }
    y[r - row0] = acc;
  }
}

}  // namespace stern::kernels
