// Scalar reference of the sparse GEMM's epilogue (igemm.h RunsEpilogueUkernel): the output
// channels of a 64-lane tile, each over its lanes' runs of output pixels.
#include <algorithm>

#include "kernels/igemm.h"

namespace stern::kernels {

void runs_epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t n, const Run* runs, size_t nruns,
                               const EpilogueArgs& e, float* out, size_t ldm, size_t ldn) {
  for (size_t j = 0; j < n; ++j) {
    const int32_t corr = e.wc * e.wsum[j];
    for (size_t ri = 0; ri < nruns; ++ri) {
      const Run& run = runs[ri];
      const int32_t* src = raw + j * ldr + run.lane;
      float* d = out + j * ldn + size_t(run.pixel) * ldm;
      for (int32_t i = 0; i < run.length; ++i)
        d[i * ldm] = std::max(static_cast<float>(src[i] + corr) * e.scale[j] + e.bias[j], e.floor);
    }
  }
}

}  // namespace stern::kernels
