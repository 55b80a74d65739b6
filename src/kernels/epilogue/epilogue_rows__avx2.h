// One block of 8 output channels of the dense epilogue on AVX2, a row (pixel) at a time:
// integer corrections, scale, bias and ReLU along the channels, one ymm per row. Shared by
// the float epilogue (epilogue_f32_8x8__avx2) and the requantizing one
// (epilogue_codes_8x8__avx2), so both compute the scalar reference's bits: the product goes
// through an empty asm before the add, so that it is never contracted into an FMA (these
// files are built with -mfma), and MAXPS(floor, y) returns y for NaN as the reference does.
// Include only from files built for AVX2.
#pragma once
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

// Lanes [0, count) set.
inline __m256i first_lanes(size_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

class EpilogueRows8 {
 public:
  // Channels [j0, j0 + nc) of e, nc <= 8 (cm: their lanes, first_lanes(nc)).
  EpilogueRows8(const EpilogueArgs& e, size_t j0, __m256i cm)
      : xsum_(e.xsum), rows_(e.rows), floor_(_mm256_set1_ps(e.floor)),
        corr_(_mm256_mullo_epi32(_mm256_set1_epi32(e.wc), _mm256_maskload_epi32(e.wsum + j0, cm))),
        scale_(_mm256_maskload_ps(e.scale + j0, cm)), bias_(_mm256_maskload_ps(e.bias + j0, cm)), j0_(j0), cm_(cm) {}
  // Output row i from raw (rows ldr apart, remapped by e.rows).
  __m256 operator()(const int32_t* raw, size_t ldr, size_t i) const {
    const size_t r = rows_ ? rows_[i] : i;
    __m256i x = _mm256_add_epi32(_mm256_maskload_epi32(raw + r * ldr + j0_, cm_), corr_);
    if (xsum_) x = _mm256_sub_epi32(x, _mm256_set1_epi32(xsum_[i]));
    __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(x), scale_);
    asm("" : "+x"(p));
    return _mm256_max_ps(floor_, _mm256_add_ps(p, bias_));
  }

 private:
  const int32_t* xsum_;
  const uint32_t* rows_;
  __m256 floor_;
  __m256i corr_;
  __m256 scale_, bias_;
  size_t j0_;
  __m256i cm_;
};

}  // namespace stern::kernels
