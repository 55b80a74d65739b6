// AVX-512 quantizer, bit-exact with quantize_activation: the same float division (not a
// reciprocal multiply), the clamp to [qmin, qmax] in float, then VCVTPS2DQ, which rounds to
// nearest even (= nearbyint in the default mode). Clamping before rounding gives the same
// codes as rounding first, the limits being integers, and saves a VRNDSCALEPS; MAXPS returns
// its second operand when unordered, which sends NaN to qmin as the reference does.
// The division bounds the kernel (VDIVPS zmm: ~10 cycles per vector on Intel). A reciprocal
// multiply with a check for near-ties (exact fallback) was tried: its extra compares cost as
// much as the division saved (16 vs 11 us on the 256 x 14 x 14 image). So did the NHWC
// quantizer's cheaper check (QuantizeBlock, quantize_block__avx512.h: 2 ops per vector, one
// compare per 16 vectors) with 16 row vectors gathered per block: 10.5 -> 14 us on that
// image, and the 98%-sparse 3x3 256->256 layer 70 -> 82 us (3 interleaved rounds). And so
// did a path for contiguous rows (a channel plane as one stream through QuantizeBlock, 13
// vectors per 14 x 14 plane, the bytes then moved to their rows): 13-17 against 11.6-12.2 us
// on that image (session 11), 13 us even without moving the bytes, four VRANGEPS chains
// instead of one changing nothing.
// Reference: quantize_u8__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_u8__avx512(const float* x, size_t rows, size_t cols, size_t ldx, const ActQuant& act,
                         int32_t add, uint8_t* out, size_t ldo) {
  const __m512 scale = _mm512_set1_ps(act.scale);
  const __m512 lo = _mm512_set1_ps(float(act.qmin)), hi = _mm512_set1_ps(float(act.qmax));
  const __m512i offset = _mm512_set1_epi32(add);
  const size_t whole = cols / 16 * 16;
  const __mmask16 tail = __mmask16((1u << (cols - whole)) - 1);
  const auto step = [&](const float* src, uint8_t* dst, __mmask16 m) {
    const __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, src), scale);
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi)), offset);
    _mm_mask_storeu_epi8(dst, m, _mm512_cvtepi32_epi8(q));
  };
  for (size_t i = 0; i < rows; ++i) {
    const float* src = x + i * ldx;
    uint8_t* dst = out + i * ldo;
    for (size_t j = 0; j < whole; j += 16) step(src + j, dst + j, __mmask16(0xFFFF));
    if (tail) step(src + whole, dst + whole, tail);
  }
}

}  // namespace stern::kernels
