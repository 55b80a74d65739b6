// Scalar reference for the int8 layout (igemm.h): uint8 activations times int8 codes. The
// truth every int8 kernel is tested against (tests/kernels/igemm_test.cpp).
#include "kernels/igemm.h"

namespace stern::kernels {

void i8_gemm_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                          const uint8_t* w, size_t panel_stride, size_t npanels, int32_t* c,
                          size_t ldc) {
  for (size_t p = 0; p < npanels; ++p) {
    const int8_t* panel = reinterpret_cast<const int8_t*>(w + p * panel_stride);
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* row = a + i * lda;
      for (size_t j = 0; j < kPanel; ++j) {
        int32_t acc = 0;
        for (size_t b = 0; b < kblocks; ++b)
          for (size_t q = 0; q < 4; ++q)
            for (size_t t = 0; t < 4; ++t)
              acc += panel[b * kInt8BlockBytes + q * 64 + j * 4 + t] * int32_t(row[b * kKBlock + 4 * q + t]);
        c[i * ldc + p * kPanel + j] = acc;
      }
    }
  }
}

}  // namespace stern::kernels
