// Reference phase dealing (igemm.h DealPhasesUkernel). Stride 2, the common one, as a
// constant; the pointers restrict, or every byte store could change the sizes GCC then reloads.
#include "kernels/igemm.h"

namespace stern::kernels {

void deal_phases__scalar(const uint8_t* __restrict plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                         uint8_t* __restrict out) {
  const size_t pitch = sw * pw;
  for (size_t py = 0; py < sh; ++py)
    for (size_t i = 0; i < ph; ++i) {
      const uint8_t* row = plane + (i * sh + py) * pitch;
      uint8_t* dst = out + py * sw * stride + i * pw;
      if (sw == 2) {
        for (size_t j = 0; j < pw; ++j) dst[j] = row[2 * j];
        for (size_t j = 0; j < pw; ++j) dst[stride + j] = row[2 * j + 1];
      } else {
        for (size_t px = 0; px < sw; ++px)
          for (size_t j = 0; j < pw; ++j) dst[px * stride + j] = row[j * sw + px];
      }
    }
}

}  // namespace stern::kernels
