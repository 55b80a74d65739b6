// Scalar reference of the indirect int8 GEMM (igemm.h IgemmUkernel): the int8 scalar GEMM
// row by row and block by block, row i's block b at a + row_offset[i] + koff[b], summed.
#include <vector>

#include "kernels/igemm.h"

namespace stern::kernels {

void i8_gemm_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,
                          size_t panel_stride, size_t npanels, int32_t* c, size_t ldc);

void i8_igemm_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, const int32_t* row_offset,
                           const int32_t* koff, const uint8_t* w, size_t panel_stride, size_t npanels, int32_t* c,
                           size_t ldc) {
  const size_t n = npanels * kPanel;
  std::vector<int32_t> part(n);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
    for (size_t b = 0; b < kblocks; ++b) {
      i8_gemm_4x16__scalar(1, 1, a + row_offset[i] + koff[b], 0, w + b * kInt8BlockBytes, panel_stride, npanels,
                           part.data(), n);
      for (size_t j = 0; j < n; ++j) c[i * ldc + j] += part[j];
    }
  }
}

}  // namespace stern::kernels
