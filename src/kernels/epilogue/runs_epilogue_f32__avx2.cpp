// AVX2 sparse GEMM epilogue: the AVX-512 kernel's scheme (runs_epilogue_f32__avx512.cpp) in
// masked 8-lane steps, worked out once per tile for all its channels. The product goes
// through an empty asm before the add, so that it is never contracted into an FMA (this file
// is built with -mfma), and MAXPS(floor, y) returns y for NaN as std::max(y, floor) does:
// the scalar kernel's bits. Output pixels at stride ldm != 1 (sparse linear layers over a
// batch) take the scalar kernel. Reference: runs_epilogue_f32__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

void runs_epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t n, const Run* runs, size_t nruns,
                               const EpilogueArgs& e, float* out, size_t ldm, size_t ldn);

void runs_epilogue_f32__avx2(const int32_t* raw, size_t ldr, size_t n, const Run* runs, size_t nruns,
                             const EpilogueArgs& e, float* out, size_t ldm, size_t ldn) {
  if (ldm != 1) return runs_epilogue_f32__scalar(raw, ldr, n, runs, nruns, e, out, ldm, ldn);
  int32_t lane[kRunSteps], pixel[kRunSteps], length[kRunSteps];
  const size_t steps = run_steps(runs, nruns, 8, lane, pixel, length);
  __m256i mask[kRunSteps];
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (size_t k = 0; k < steps; ++k) mask[k] = _mm256_cmpgt_epi32(_mm256_set1_epi32(length[k]), index);
  const __m256 f = _mm256_set1_ps(e.floor);
  for (size_t j = 0; j < n; ++j) {
    const __m256i c = _mm256_set1_epi32(e.wc * e.wsum[j]);
    const __m256 s = _mm256_set1_ps(e.scale[j]), b = _mm256_set1_ps(e.bias[j]);
    const int32_t* src = raw + j * ldr;
    float* d = out + j * ldn;
    for (size_t k = 0; k < steps; ++k) {
      const __m256i v = _mm256_add_epi32(_mm256_maskload_epi32(src + lane[k], mask[k]), c);
      __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(v), s);
      asm("" : "+x"(p));
      _mm256_maskstore_ps(d + pixel[k], mask[k], _mm256_max_ps(f, _mm256_add_ps(p, b)));
    }
  }
}

}  // namespace stern::kernels
