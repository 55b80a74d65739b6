// AVX-512 sparse GEMM epilogue: one masked 16-lane step per 16 pixels of a run (a 14x14
// map's runs are its 14-pixel output rows: one step each, where the scalar loop ran 3 SSE
// steps and a scalar tail). Multiply and add stay separate (the _round forms are never
// contracted into an FMA), and MAXPS(floor, y) returns y for NaN as std::max(y, floor) does:
// the scalar kernel's bits. Output pixels at stride ldm != 1 (sparse linear layers over a
// batch) take the scalar kernel. Reference: runs_epilogue_f32__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

// Strided output: the reference itself (a float loop here would be contracted into FMAs,
// this file being built with -mfma).
void runs_epilogue_f32__scalar(const int32_t* raw, const Run* runs, size_t nruns, int32_t corr,
                               float scale, float bias, float floor, float* out, size_t ldm);

void runs_epilogue_f32__avx512(const int32_t* raw, const Run* runs, size_t nruns, int32_t corr,
                               float scale, float bias, float floor, float* out, size_t ldm) {
  if (ldm != 1) return runs_epilogue_f32__scalar(raw, runs, nruns, corr, scale, bias, floor, out, ldm);
  constexpr int kCur = _MM_FROUND_CUR_DIRECTION;
  const __m512i c = _mm512_set1_epi32(corr);
  const __m512 s = _mm512_set1_ps(scale), b = _mm512_set1_ps(bias), f = _mm512_set1_ps(floor);
  for (size_t ri = 0; ri < nruns; ++ri) {
    const int32_t* src = raw + runs[ri].lane;
    float* d = out + runs[ri].pixel;
    for (int32_t j = 0, length = runs[ri].length; j < length; j += 16) {
      const __mmask16 m = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(length - j)));
      const __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, src + j), c);
      const __m512 y = _mm512_add_round_ps(_mm512_mul_round_ps(_mm512_cvtepi32_ps(v), s, kCur), b, kCur);
      _mm512_mask_storeu_ps(d + j, m, _mm512_max_ps(f, y));
    }
  }
}

}  // namespace stern::kernels
