// Scalar reference of the requantizing dense epilogue (igemm.h EpilogueCodesUkernel): the
// dense epilogue's value (epilogue_value), then the runtime's quantize_activation, stored at
// its pixel's channel in NHWC bytes.
#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void epilogue_codes__scalar(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                            const ActQuant& act, int32_t add, uint8_t* out, size_t ldo) {
  for (size_t i = 0; i < m; ++i) {
    const int32_t xs = e.xsum ? e.xsum[i] : 0;
    const int32_t* r = raw + (e.rows ? e.rows[i] : i) * ldr;
    for (size_t j = 0; j < n; ++j)
      out[i * ldo + j] = static_cast<uint8_t>(quantize_activation(epilogue_value(e, r[j], xs, j), act) + add);
  }
}

}  // namespace stern::kernels
