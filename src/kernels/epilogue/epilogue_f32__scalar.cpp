// Scalar reference of the dense epilogue (igemm.h EpilogueUkernel): integer corrections,
// scale, bias and ReLU of one part and one scale group, written at any output strides (conv:
// NCHW, channel stride ldn, pixel stride 1; linear: [batch][out]). Computed along the
// channels into a row buffer (contiguous operands) and then stored, as the layer did.
#include "kernels/igemm.h"

namespace stern::kernels {

void epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                          float* out, size_t ldm, size_t ldn) {
  for (size_t i = 0; i < m; ++i) {
    const int32_t xs = e.xsum ? e.xsum[i] : 0;
    const int32_t* r = raw + (e.rows ? e.rows[i] : i) * ldr;
    for (size_t j = 0; j < n; ++j) out[i * ldm + j * ldn] = epilogue_value(e, r[j], xs, j);
  }
}

}  // namespace stern::kernels
