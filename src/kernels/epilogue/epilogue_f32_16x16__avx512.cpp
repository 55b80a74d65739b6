// AVX-512 dense epilogue: blocks of 16 rows (pixels) x 16 channels computed along the
// channels (one zmm per row: EpilogueRows, epilogue_rows__avx512.h), then, for the NCHW output of a
// convolution (ldm == 1), transposed in registers (unpacks of dwords and qwords, two rounds
// of 128-bit lane shuffles) so that each channel's 16 pixels go out in one masked store. The
// scalar loop stored them one float at a time, at a stride of the whole tile. Rows at
// stride ldn == 1 (linear layers) are stored as computed; other strides take the scalar kernel.
// Reference: epilogue_f32__scalar.cpp.
#include <immintrin.h>

#include <algorithm>

#include "kernels/epilogue/epilogue_rows__avx512.h"
#include "kernels/igemm.h"
#include "kernels/layout/unpack_rounds.h"

namespace stern::kernels {

// Other strides: the reference itself (a float loop here would be contracted into FMAs,
// this file being built with -mfma).
void epilogue_f32__scalar(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                          float* out, size_t ldm, size_t ldn);

namespace {

// After the four rounds, vector v holds channel kChannel[v] (bits 0 and 1 of v swapped).
constexpr size_t kChannel[16] = {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15};

void transpose16(__m512 (&v)[16]) {
  unpack_round(v, [](__m512 a, __m512 b) { return _mm512_unpacklo_ps(a, b); },
        [](__m512 a, __m512 b) { return _mm512_unpackhi_ps(a, b); });
  unpack_round(v, [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); },
        [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); });
  for (int r = 0; r < 2; ++r)
    unpack_round(v, [](__m512 a, __m512 b) { return _mm512_shuffle_f32x4(a, b, 0x88); },
          [](__m512 a, __m512 b) { return _mm512_shuffle_f32x4(a, b, 0xDD); });
}

}  // namespace

void epilogue_f32_16x16__avx512(const int32_t* raw, size_t ldr, size_t m, size_t n,
                                const EpilogueArgs& e, float* out, size_t ldm, size_t ldn) {
  if (ldm != 1 && ldn != 1) return epilogue_f32__scalar(raw, ldr, m, n, e, out, ldm, ldn);
  for (size_t j0 = 0; j0 < n; j0 += 16) {
    const size_t nc = std::min<size_t>(16, n - j0);
    const __mmask16 cm = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(nc)));
    const EpilogueRows row(e, j0, cm);
    // A block of 16 rows from i0 (nr of them real) for the NCHW output. Rows past m repeat
    // row i0 and are not stored, and whole channel blocks store without tests: the per-row
    // masks and tests of a general block cost about as much as its arithmetic.
    const auto block = [&]<bool kFull>(size_t i0, size_t nr) {
      __m512 v[16];
#pragma GCC unroll 16
      for (size_t i = 0; i < 16; ++i) v[i] = row(raw, ldr, i0 + (i < nr ? i : 0));
      transpose16(v);
      const __mmask16 rm = _cvtu32_mask16(_bzhi_u32(0xFFFF, uint32_t(nr)));
#pragma GCC unroll 16
      for (size_t c = 0; c < 16; ++c)
        if (kFull || kChannel[c] < nc) _mm512_mask_storeu_ps(out + (j0 + kChannel[c]) * ldn + i0, rm, v[c]);
    };
    for (size_t i0 = 0; i0 < m; i0 += 16) {
      const size_t nr = std::min<size_t>(16, m - i0);
      if (ldn == 1) {
        // Stored as computed: only the rows that exist (a GEMV has one; all 16 under masks
        // cost it 16x the arithmetic).
        for (size_t i = i0; i < i0 + nr; ++i) _mm512_mask_storeu_ps(out + i * ldm + j0, cm, row(raw, ldr, i));
      } else if (nc == 16) {
        block.template operator()<true>(i0, nr);
      } else {
        block.template operator()<false>(i0, nr);
      }
    }
  }
}

}  // namespace stern::kernels
