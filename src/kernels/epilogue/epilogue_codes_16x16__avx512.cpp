// AVX-512 requantizing dense epilogue into NHWC bytes: per block of 16 channels, 16 rows
// (pixels) at a time, each row's floats computed along the channels (EpilogueRows,
// epilogue_rows__avx512.h), its codes by QuantizeBlock (quantize_block__avx512.h, the NHWC
// quantizer's), and its 16 bytes stored at the pixel: a pixel's channels are already one
// vector, so neither the float epilogue's transpose into channel planes nor the quantizer's
// transpose back is needed.
// Reference: epilogue_codes__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/epilogue/epilogue_rows__avx512.h"
#include "kernels/igemm.h"
#include "kernels/quantize/quantize_block__avx512.h"

namespace stern::kernels {

void epilogue_codes_16x16__avx512(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                                  const ActQuant& act, int32_t add, uint8_t* out, size_t ldo) {
  const QuantizeBlock block(act);
  const __m512i offset = _mm512_set1_epi32(add);
  for (size_t j0 = 0; j0 < n; j0 += 16) {
    const size_t nc = std::min<size_t>(16, n - j0);
    const __mmask16 cm = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(nc)));
    const EpilogueRows row(e, j0, cm);
    for (size_t i0 = 0; i0 < m; i0 += QuantizeBlock::kVectors) {
      const size_t nr = std::min(QuantizeBlock::kVectors, m - i0);
      __m512i q[QuantizeBlock::kVectors];
      block.codes(nr, [&](size_t v) { return row(raw, ldr, i0 + v); }, q);
      // (q + add) mod 256: VPMOVDB truncates.
      for (size_t v = 0; v < nr; ++v)
        _mm_mask_storeu_epi8(out + (i0 + v) * ldo + j0, cm, _mm512_cvtepi32_epi8(_mm512_add_epi32(q[v], offset)));
    }
  }
}

}  // namespace stern::kernels
