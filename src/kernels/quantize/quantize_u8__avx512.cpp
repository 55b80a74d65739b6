// AVX-512 quantizer, bit-exact with quantize_activation: the same float division (not a
// reciprocal multiply), VRNDSCALEPS to nearest even (= nearbyint in the default mode), and
// the clamp order that sends NaN to qmin (MAXPS returns its second operand when unordered).
// Reference: quantize_u8__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_u8__avx512(const float* x, size_t n, const ActQuant& act, int32_t add, uint8_t* out) {
  const __m512 scale = _mm512_set1_ps(act.scale);
  const __m512 lo = _mm512_set1_ps(float(act.qmin)), hi = _mm512_set1_ps(float(act.qmax));
  const __m512i offset = _mm512_set1_epi32(add);
  size_t i = 0;
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    __m512 r = _mm512_roundscale_ps(_mm512_div_ps(v, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(r), offset);
    _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(q));
  }
}

}  // namespace stern::kernels
