// Sparse ternary GEMM, AVX2: the AVX-512 kernel's 64-lane scheme on 32-byte halves. Per
// entry and 32 pixels, the bytes read as 16 words w = even + 256 odd: a += w, b += w >> 8
// (wrapping int16; even = a - 256 b is exact as |even| < 2^15), three ops and one load,
// where zero-extending both 16-byte halves took four ops (two on port 5 of Intel cores) and
// two loads. On Ice Lake capped at AVX2 (ukernel bench, the 3x3 256->256 layer's GEMM at
// 90%, 40 alternating runs): 312-334 -> 234-250 us (min-p25). Sums widened into int32 once
// per chunk of 128 entries. H = 1 half for a tile of at most 32 lanes, 2 otherwise.
// The _u4 kernel takes activation bytes of at most 15: the bytes of up to 16 entries of one
// sign are summed in uint8 lanes first (16 x 15 < 256), one add per entry and half, and the
// three ops come once per group.
// Reference: tsparse_gemm_64x1__scalar.cpp.
#include <immintrin.h>

#include "kernels/igemm.h"
#include "kernels/in_place.h"

namespace stern::kernels {
namespace {

// int32 sums of a chunk's int16 lanes.
void widen(__m256i s, __m256i& lo, __m256i& hi) {
  lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s)));
  hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s, 1)));
}

// The first segment writes the output, later ones add to it.
void store(int32_t* out, __m256i v, size_t seg) {
  __m256i* p = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(p, seg ? _mm256_add_epi32(v, _mm256_loadu_si256(p)) : v);
}

// Half h (32 bytes) of the 64-byte activation column at byte offset o.
__m256i half(const uint8_t* at, int32_t o, size_t h) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + o) + h);
}

// Entries [e0, e1) of a chunk in groups of up to 16: group(sums) with sums[h] half h's byte
// sums (two partial sums per half, so loads issue ahead).
template <size_t H, typename Group>
void walk_small(const uint8_t* at, const int32_t* off, size_t e0, size_t e1, Group group) {
  const auto load = [at](int32_t o, size_t h) { return half(at, o, h); };
  for (size_t e = e0; e < e1; e += 16) {
    const size_t end = std::min(e1, e + 16);
    // Named sums: an array of them went to the stack.
    __m256i s0{}, s1{}, t0{}, t1{};  // half 0, half 1
    size_t i = e;
    for (; i + 2 <= end; i += 2) {
      s0 = _mm256_add_epi8(s0, load(off[i], 0)), s1 = _mm256_add_epi8(s1, load(off[i + 1], 0));
      if constexpr (H == 2) t0 = _mm256_add_epi8(t0, load(off[i], 1)), t1 = _mm256_add_epi8(t1, load(off[i + 1], 1));
    }
    if (i < end) {
      s0 = _mm256_add_epi8(s0, load(off[i], 0));
      if constexpr (H == 2) t0 = _mm256_add_epi8(t0, load(off[i], 1));
    }
    const __m256i sums[2] = {_mm256_add_epi8(s0, s1), _mm256_add_epi8(t0, t1)};
    group(sums);
  }
}

template <size_t H, bool kSmall>
void rows(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1, size_t g, int32_t* c,
          size_t ldc) {
  for (size_t seg = 0; seg < w.segments; ++seg)
    for (size_t r = row0; r < row1; ++r) {
      // even[2 h + i], odd[2 h + i]: half h's pixels 16 i + 2 j and 16 i + 2 j + 1, j < 8.
      __m256i even[2 * H], odd[2 * H];
      for (size_t i = 0; i < 2 * H; ++i) even[i] = odd[i] = _mm256_setzero_si256();
      row_chunks(w, r, g, seg, [&](const int32_t* off, size_t npos, size_t n) {
        // Named sums (an array of them went to the stack), all loads of a step first.
        __m256i a0 = _mm256_setzero_si256(), b0 = a0, a1 = a0, b1 = a0;
        const auto words = [at](int32_t o, size_t h) { return half(at, o, h); };
        const auto step = [&](auto op, auto... o) {
          const __m256i lo[] = {words(o, 0)...};
          for (const __m256i& x : lo) op(a0, x), op(b0, _mm256_srli_epi16(x, 8));
          if constexpr (H == 2) {
            const __m256i hi[] = {words(o, 1)...};
            for (const __m256i& x : hi) op(a1, x), op(b1, _mm256_srli_epi16(x, 8));
          }
        };
        if constexpr (kSmall) {
          const auto group = [&](auto op) {
            return [&, op](const __m256i* x) {
              op(a0, x[0]), op(b0, _mm256_srli_epi16(x[0], 8));
              if constexpr (H == 2) op(a1, x[1]), op(b1, _mm256_srli_epi16(x[1], 8));
            };
          };
          walk_small<H>(at, off, 0, npos, group(kAddEpi16));
          walk_small<H>(at, off, npos, n, group(kSubEpi16));
        } else {
          walk_entries(off, 0, npos, [&](auto... o) { step(kAddEpi16, o...); });
          walk_entries(off, npos, n, [&](auto... o) { step(kSubEpi16, o...); });
        }
        widen(_mm256_sub_epi16(a0, _mm256_slli_epi16(b0, 8)), even[0], even[1]);
        widen(b0, odd[0], odd[1]);
        if constexpr (H == 2) {
          widen(_mm256_sub_epi16(a1, _mm256_slli_epi16(b1, 8)), even[2], even[3]);
          widen(b1, odd[2], odd[3]);
        }
      });
      // Pixels in order: the dword interleaves give [e0 o0 e1 o1 | e4 o4 e5 o5] and
      // [e2 o2 e3 o3 | e6 o6 e7 o7]; the 128-bit halves are then put in order.
      int32_t* out = c + (r - row0) * ldc;
      for (size_t i = 0; i < 2 * H; ++i) {
        const __m256i lo = _mm256_unpacklo_epi32(even[i], odd[i]), hi = _mm256_unpackhi_epi32(even[i], odd[i]);
        store(out + 16 * i, _mm256_permute2x128_si256(lo, hi, 0x20), seg);
        store(out + 16 * i + 8, _mm256_permute2x128_si256(lo, hi, 0x31), seg);
      }
    }
}

// A tile of more than 64 lanes: its first 64, then its last 32 in a second walk (which
// writes the lanes below 64 again, with the same sums).
template <bool kSmall>
void gemm(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1, size_t g, size_t lanes, int32_t* c,
          size_t ldc) {
  if (lanes <= 32) return rows<1, kSmall>(at, w, row0, row1, g, c, ldc);
  rows<2, kSmall>(at, w, row0, row1, g, c, ldc);
  if (lanes > 64) rows<1, kSmall>(at + lanes - 32, w, row0, row1, g, c + lanes - 32, ldc);
}

}  // namespace

void tsparse_gemm_64x1__avx2(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                             size_t g, size_t lanes, int32_t* c, size_t ldc) {
  gemm<false>(at, w, row0, row1, g, lanes, c, ldc);
}

void tsparse_gemm_64x1_u4__avx2(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                                size_t g, size_t lanes, int32_t* c, size_t ldc) {
  gemm<true>(at, w, row0, row1, g, lanes, c, ldc);
}

}  // namespace stern::kernels
