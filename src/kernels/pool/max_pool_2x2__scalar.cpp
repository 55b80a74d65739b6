// Scalar reference for 2x2 max pooling at stride 2 (igemm.h MaxPool2x2Ukernel).
#include <limits>

#include "kernels/igemm.h"

namespace stern::kernels {

void max_pool_2x2__scalar(const float* x, size_t rows, size_t cols, size_t ldx, float* y, size_t ldy) {
  for (size_t i = 0; i < rows; ++i) {
    const float* r0 = x + 2 * i * ldx;
    const float* r1 = r0 + ldx;
    for (size_t j = 0; j < cols; ++j) {
      float m = pool_max_step(-std::numeric_limits<float>::infinity(), r0[2 * j]);
      m = pool_max_step(m, r0[2 * j + 1]);
      m = pool_max_step(m, r1[2 * j]);
      y[i * ldy + j] = pool_max_step(m, r1[2 * j + 1]);
    }
  }
}

}  // namespace stern::kernels
