// Scalar reference of the implicit-im2col int8 GEMM (igemm.h ConvUkernel): the int8 scalar
// GEMM block by block, A of block b at a + koff[b], summed.
#include <vector>

#include "kernels/igemm.h"

namespace stern::kernels {

void i8_gemm_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,
                          size_t panel_stride, size_t npanels, int32_t* c, size_t ldc);

void i8_conv_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const int32_t* koff,
                          const uint8_t* w, size_t panel_stride, size_t npanels, int32_t* c, size_t ldc) {
  const size_t n = npanels * kPanel;
  std::vector<int32_t> part(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
  for (size_t b = 0; b < kblocks; ++b) {
    i8_gemm_4x16__scalar(m, 1, a + koff[b], lda, w + b * kInt8BlockBytes, panel_stride, npanels, part.data(), n);
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) c[i * ldc + j] += part[i * n + j];
  }
}

}  // namespace stern::kernels
