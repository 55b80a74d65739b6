// Scalar reference for the dense ternary layout (igemm.h): the portable fallback and the
// truth every ternary2 kernel is tested against (tests/kernels/igemm_test.cpp).
#include "kernels/igemm.h"

namespace stern::kernels {

void ternary2_gemm_4x16__scalar(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                                const uint8_t* w, size_t panel_stride, size_t npanels,
                                int32_t* c, size_t ldc) {
  for (size_t p = 0; p < npanels; ++p) {
    const uint8_t* panel = w + p * panel_stride;
    for (size_t i = 0; i < m; ++i) {
      const int8_t* row = reinterpret_cast<const int8_t*>(a + i * lda);
      for (size_t j = 0; j < kPanel; ++j) {
        int32_t acc = 0;
        for (size_t b = 0; b < kblocks; ++b)
          for (size_t q = 0; q < 4; ++q)
            for (size_t t = 0; t < 4; ++t) {
              const int32_t code = (panel[b * kTernary2BlockBytes + j * 4 + t] >> (2 * q)) & 3;
              acc += code * row[b * kKBlock + 4 * q + t];
            }
        c[i * ldc + p * kPanel + j] = acc;
      }
    }
  }
}

}  // namespace stern::kernels
