// Phase dealing at stride 2 with VBMI's two-register byte permute: per 64 output bytes of a
// row, two (masked) 64-byte loads of the plane row and one VPERMT2B each for the even and the
// odd columns, where the scalar loop moves a byte at a time (~0.35 ns a byte, a quarter of a
// 3x3 128->256 stride-2 layer's time at 28x28). Rows of at most 16 bytes go to the AVX2
// kernel, whose unmasked 8-byte steps cost less there (15-byte rows of 129 planes: 10.2 us
// against 12.6; even at 19 bytes; 29-byte rows 7.0-8.2 against 10.7-11.2, Ice Lake). Other
// strides: the reference. Reference: deal_phases__scalar.cpp.
#include <immintrin.h>

#include <algorithm>
#include <array>

#include "kernels/igemm.h"

namespace stern::kernels {

void deal_phases__scalar(const uint8_t* plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                         uint8_t* out);
void deal_phases__avx2(const uint8_t* plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                       uint8_t* out);

namespace {

// The first n bits (all for n >= 64).
__mmask64 first(size_t n) { return _cvtu64_mask64(_bzhi_u64(~0ull, unsigned(std::min<size_t>(n, 64)))); }

// Byte indices 2 i + column of two concatenated registers: the even or the odd columns.
constexpr std::array<uint8_t, 64> columns(int column) {
  std::array<uint8_t, 64> index{};
  for (int i = 0; i < 64; ++i) index[i] = uint8_t(2 * i + column);
  return index;
}
constexpr std::array<uint8_t, 64> kEven = columns(0), kOdd = columns(1);

}  // namespace

void deal_phases__avx512vbmi(const uint8_t* plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                             uint8_t* out) {
  if (sw != 2) return deal_phases__scalar(plane, sh, sw, ph, pw, stride, out);
  if (pw <= 16) return deal_phases__avx2(plane, sh, sw, ph, pw, stride, out);
  const __m512i even_index = _mm512_loadu_si512(kEven.data()), odd_index = _mm512_loadu_si512(kOdd.data());
  for (size_t py = 0; py < sh; ++py)
    for (size_t i = 0; i < ph; ++i) {
      const uint8_t* row = plane + (i * sh + py) * 2 * pw;
      uint8_t* dst = out + py * 2 * stride + i * pw;
      for (size_t j = 0; j < pw; j += 64) {
        const size_t in = 2 * (pw - j);  // plane bytes left in the row
        const __m512i lo = _mm512_maskz_loadu_epi8(first(in), row + 2 * j);
        const __m512i hi = in > 64 ? _mm512_maskz_loadu_epi8(first(in - 64), row + 2 * j + 64) : _mm512_setzero_si512();
        const __mmask64 keep = first(pw - j);
        _mm512_mask_storeu_epi8(dst + j, keep, _mm512_permutex2var_epi8(lo, even_index, hi));
        _mm512_mask_storeu_epi8(dst + stride + j, keep, _mm512_permutex2var_epi8(lo, odd_index, hi));
      }
    }
}

}  // namespace stern::kernels
