// Scalar reference for the dense convolution over channel planes (igemm.h PlaneConvWeights).
#include "kernels/igemm.h"

namespace stern::kernels {

void i8_plane_conv_16x16__scalar(const uint8_t* at, const PlaneConvWeights& w, size_t row0, size_t row1,
                                 size_t lanes, int32_t* c, size_t ldc) {
  for (size_t r = row0; r < row1; ++r) {
    int32_t* out = c + (r - row0) * ldc;
    for (size_t i = 0; i < lanes; ++i) {
      int32_t sum = 0;
      for (size_t t = 0; t < w.taps; ++t) {
        const int32_t word = w.w[t * (w.rows + 15) + r];
        for (size_t j = 0; j < w.kernel_w; ++j)
          sum += int32_t(int8_t(uint32_t(word) >> (8 * j))) * at[w.window[t] + int64_t(j) * w.tap_step + int64_t(i)];
      }
      out[i] = sum;
    }
  }
}

}  // namespace stern::kernels
