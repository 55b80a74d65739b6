// Reference row copy: `rows` rows of `cols` bytes, ldx bytes apart, to rows ldo bytes apart.
// 8-byte moves, the last one overlapping the one before, where a memcpy call per row of 14
// bytes cost as much as quantizing the row (3 ns a call).
#include <cstring>

#include "kernels/igemm.h"

namespace stern::kernels {

void copy_rows__scalar(const uint8_t* x, size_t rows, size_t cols, size_t ldx, uint8_t* out, size_t ldo) {
  for (size_t i = 0; i < rows; ++i) {
    const uint8_t* src = x + i * ldx;
    uint8_t* dst = out + i * ldo;
    if (cols < 8) {
      for (size_t j = 0; j < cols; ++j) dst[j] = src[j];
      continue;
    }
    for (size_t j = 0; j + 8 < cols; j += 8) std::memcpy(dst + j, src + j, 8);
    std::memcpy(dst + cols - 8, src + cols - 8, 8);
  }
}

}  // namespace stern::kernels
