// Phase dealing at stride 2 on AVX2 CPUs (no byte permute across registers): per 8 output
// bytes of each phase row, one 16-byte load of the plane row and one PSHUFB that puts the even
// columns in its low half and the odd ones in its high half, stored as two 8-byte halves; the
// last 8 of a row overlap the ones before (rows of at least 8 bytes). Other strides and
// shorter rows: the reference. Reference: deal_phases__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

void deal_phases__scalar(const uint8_t* plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                         uint8_t* out);

void deal_phases__avx2(const uint8_t* plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                       uint8_t* out) {
  if (sw != 2 || pw < 8) return deal_phases__scalar(plane, sh, sw, ph, pw, stride, out);
  const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  for (size_t py = 0; py < sh; ++py)
    for (size_t i = 0; i < ph; ++i) {
      const uint8_t* row = plane + (i * sh + py) * 2 * pw;
      uint8_t* dst = out + py * 2 * stride + i * pw;
      for (size_t j = 0;; j += 8) {
        if (j + 8 > pw) j = pw - 8;
        const __m128i v = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j)), split);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + j), v);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + stride + j), _mm_unpackhi_epi64(v, v));
        if (j + 8 == pw) break;
      }
    }
}

}  // namespace stern::kernels
