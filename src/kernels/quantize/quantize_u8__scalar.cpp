// Scalar reference quantizer: activation codes as bytes q + add, by the runtime's one
// definition of the quantizer (quantize_activation, runtime/layer.h).
#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_u8__scalar(const float* x, size_t n, const ActQuant& act, int32_t add, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(quantize_activation(x[i], act) + add);
}

}  // namespace stern::kernels
