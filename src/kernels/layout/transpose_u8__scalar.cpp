// Scalar reference byte transpose (NCHW activation bytes to NHWC): dst[j * ldd + i] =
// src[i * lds + j].
#include "kernels/igemm.h"

namespace stern::kernels {

void transpose_u8__scalar(const uint8_t* src, size_t rows, size_t cols, size_t lds, uint8_t* dst,
                          size_t ldd) {
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

}  // namespace stern::kernels
