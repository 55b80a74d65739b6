// Scalar reference of the implicit-im2col int8 GEMM (igemm.h ConvUkernel): the int8 scalar
// GEMM tile by tile and block by block, A of block b at the tile's first pixel + koff[b], summed.
#include <algorithm>
#include <vector>

#include "kernels/igemm.h"

namespace stern::kernels {

void i8_gemm_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,
                          size_t panel_stride, size_t npanels, int32_t* c, size_t ldc);

void i8_conv_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda, size_t tile_rows,
                          size_t tile_pitch, const int32_t* koff, const uint8_t* w, size_t panel_stride,
                          size_t npanels, int32_t* c, size_t ldc) {
  const size_t n = npanels * kPanel;
  std::vector<int32_t> part(tile_rows * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
  for (size_t i0 = 0; i0 < m; i0 += tile_rows) {
    const size_t rows = std::min(tile_rows, m - i0);
    const uint8_t* at = a + i0 / tile_rows * tile_pitch * lda;
    for (size_t b = 0; b < kblocks; ++b) {
      i8_gemm_4x16__scalar(rows, 1, at + koff[b], lda, w + b * kInt8BlockBytes, panel_stride, npanels, part.data(),
                           n);
      for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < n; ++j) c[(i0 + i) * ldc + j] += part[i * n + j];
    }
  }
}

}  // namespace stern::kernels
