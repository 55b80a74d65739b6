// Scalar reference of the quantizer into NHWC bytes (igemm.h QuantizeNhwcUkernel): the
// runtime's quantize_activation per float, stored at its pixel's channel.
#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_nhwc_u8__scalar(const float* x, size_t channels, size_t rows, size_t cols, size_t ldx,
                              const ActQuant& act, int32_t add, uint8_t* out, size_t ldp, size_t ldo) {
  for (size_t c = 0; c < channels; ++c)
    for (size_t i = 0; i < rows; ++i)
      for (size_t j = 0; j < cols; ++j)
        out[i * ldo + j * ldp + c] =
            static_cast<uint8_t>(quantize_activation(x[c * ldx + i * cols + j], act) + add);
}

}  // namespace stern::kernels
