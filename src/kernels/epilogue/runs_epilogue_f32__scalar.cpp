// Scalar reference of the sparse GEMM's epilogue (igemm.h RunsEpilogueUkernel): one output
// channel of a 64-lane tile, its lanes' runs of output pixels.
#include <algorithm>

#include "kernels/igemm.h"

namespace stern::kernels {

void runs_epilogue_f32__scalar(const int32_t* raw, const Run* runs, size_t nruns, int32_t corr,
                               float scale, float bias, float floor, float* out, size_t ldm) {
  for (size_t ri = 0; ri < nruns; ++ri) {
    const Run& run = runs[ri];
    float* d = out + size_t(run.pixel) * ldm;
    for (int32_t j = 0; j < run.length; ++j)
      d[j * ldm] = std::max(static_cast<float>(raw[run.lane + j] + corr) * scale + bias, floor);
  }
}

}  // namespace stern::kernels
