// AVX-512 sparse GEMM epilogue: one masked 16-lane step per 16 pixels of a run (a 14x14
// map's runs are its 14-pixel output rows: one step each, where the scalar loop ran 3 SSE
// steps and a scalar tail). The steps of the tile's runs are worked out once for all its
// channels: per channel and run then only the arithmetic, a masked load and a masked store
// (one call per channel, each walking the runs, took 2x the time: 13.5 us for the 256
// channels of a 14x14 map). Multiply and add stay separate (the _round forms are never
// contracted into an FMA), and MAXPS(floor, y) returns y for NaN as std::max(y, floor) does:
// the scalar kernel's bits. Output pixels at stride ldm != 1 (sparse linear layers over a
// batch) take the scalar kernel. Reference: runs_epilogue_f32__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

// Strided output: the reference itself (a float loop here would be contracted into FMAs,
// this file being built with -mfma).
void runs_epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t n, const Run* runs, size_t nruns,
                               const EpilogueArgs& e, float* out, size_t ldm, size_t ldn);

void runs_epilogue_f32__avx512(const int32_t* raw, size_t ldr, size_t n, const Run* runs, size_t nruns,
                               const EpilogueArgs& e, float* out, size_t ldm, size_t ldn) {
  if (ldm != 1) return runs_epilogue_f32__scalar(raw, ldr, n, runs, nruns, e, out, ldm, ldn);
  int32_t lane[kRunSteps], pixel[kRunSteps], length[kRunSteps];
  const size_t steps = run_steps(runs, nruns, 16, lane, pixel, length);
  __mmask16 mask[kRunSteps];
  for (size_t k = 0; k < steps; ++k) mask[k] = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(length[k])));
  constexpr int kCur = _MM_FROUND_CUR_DIRECTION;
  const __m512 f = _mm512_set1_ps(e.floor);
  for (size_t j = 0; j < n; ++j) {
    const __m512i c = _mm512_set1_epi32(e.wc * e.wsum[j]);
    const __m512 s = _mm512_set1_ps(e.scale[j]), b = _mm512_set1_ps(e.bias[j]);
    const int32_t* src = raw + j * ldr;
    float* d = out + j * ldn;
    for (size_t k = 0; k < steps; ++k) {
      const __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(mask[k], src + lane[k]), c);
      const __m512 y = _mm512_add_round_ps(_mm512_mul_round_ps(_mm512_cvtepi32_ps(v), s, kCur), b, kCur);
      _mm512_mask_storeu_ps(d + pixel[k], mask[k], _mm512_max_ps(f, y));
    }
  }
}

}  // namespace stern::kernels
