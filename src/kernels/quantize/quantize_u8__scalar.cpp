// Scalar reference quantizer: activation codes as bytes q + add, by the runtime's one
// definition of the quantizer (quantize_activation, runtime/layer.h).
#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_u8__scalar(const float* x, size_t rows, size_t cols, size_t ldx, const ActQuant& act,
                         int32_t add, uint8_t* out, size_t ldo) {
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j)
      out[i * ldo + j] = static_cast<uint8_t>(quantize_activation(x[i * ldx + j], act) + add);
}

}  // namespace stern::kernels
