// AVX-512 quantizer, bit-exact with quantize_activation: codes of 16 floats per vector by
// QuantizeBlock (quantize_block__avx512.h: a multiply by 1 / scale, the division only for
// blocks near a rounding tie), 16 vectors per block whichever rows they come from, so short
// rows (a 14 x 14 plane: one vector per row) share the tie check too. Each vector's codes +
// add are narrowed to bytes and stored under its mask.
// Reference: quantize_u8__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/igemm.h"
#include "kernels/quantize/quantize_block__avx512.h"
#include "runtime/layer.h"

namespace stern::kernels {

void quantize_u8__avx512(const float* x, size_t rows, size_t cols, size_t ldx, const ActQuant& act,
                         int32_t add, uint8_t* out, size_t ldo) {
  constexpr size_t kVectors = QuantizeBlock::kVectors;
  const QuantizeBlock block(act);
  const __m512i offset = _mm512_set1_epi32(add);
  const float* src[kVectors];
  uint8_t* dst[kVectors];
  __mmask16 mask[kVectors];
  size_t n = 0;
  const auto flush = [&] {
    __m512i q[kVectors];
    block.codes(n, [&](size_t v) { return _mm512_maskz_loadu_ps(mask[v], src[v]); }, q);
    for (size_t v = 0; v < n; ++v)
      _mm_mask_storeu_epi8(dst[v], mask[v], _mm512_cvtepi32_epi8(_mm512_add_epi32(q[v], offset)));
    n = 0;
  };
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; j += 16) {
      src[n] = x + i * ldx + j, dst[n] = out + i * ldo + j;
      mask[n] = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(std::min<size_t>(16, cols - j))));
      if (++n == kVectors) flush();
    }
  if (n) flush();
}

}  // namespace stern::kernels
