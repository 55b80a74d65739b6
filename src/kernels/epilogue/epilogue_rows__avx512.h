// One block of 16 output channels of the dense epilogue on AVX-512, a row (pixel) at a time:
// integer corrections, scale, bias and ReLU along the channels, one zmm per row. Shared by
// the float epilogue (epilogue_f32_16x16__avx512) and the requantizing one
// (epilogue_codes_16x16__avx512), so both compute the scalar reference's bits: multiply and
// add stay separate (the _round forms are never contracted into an FMA), and MAXPS(floor, y)
// returns y for NaN as the reference does. Include only from files built for AVX-512.
#pragma once
#include <immintrin.h>

#include "kernels/igemm.h"

namespace stern::kernels {

class EpilogueRows {
 public:
  // Channels [j0, j0 + nc) of e, nc <= 16 (cm: their lanes).
  EpilogueRows(const EpilogueArgs& e, size_t j0, __mmask16 cm)
      : xsum_(e.xsum), rows_(e.rows), floor_(_mm512_set1_ps(e.floor)),
        corr_(_mm512_mullo_epi32(_mm512_set1_epi32(e.wc), _mm512_maskz_loadu_epi32(cm, e.wsum + j0))),
        scale_(_mm512_maskz_loadu_ps(cm, e.scale + j0)), bias_(_mm512_maskz_loadu_ps(cm, e.bias + j0)),
        j0_(j0), cm_(cm) {}
  // Output row i from raw (rows ldr apart, remapped by e.rows).
  __m512 operator()(const int32_t* raw, size_t ldr, size_t i) const {
    const size_t r = rows_ ? rows_[i] : i;
    __m512i x = _mm512_add_epi32(_mm512_maskz_loadu_epi32(cm_, raw + r * ldr + j0_), corr_);
    if (xsum_) x = _mm512_sub_epi32(x, _mm512_set1_epi32(xsum_[i]));
    constexpr int kCur = _MM_FROUND_CUR_DIRECTION;
    const __m512 y = _mm512_add_round_ps(_mm512_mul_round_ps(_mm512_cvtepi32_ps(x), scale_, kCur), bias_, kCur);
    return _mm512_max_ps(floor_, y);
  }

 private:
  const int32_t* xsum_;
  const uint32_t* rows_;
  __m512 floor_;
  __m512i corr_;
  __m512 scale_, bias_;
  size_t j0_;
  __mmask16 cm_;
};

}  // namespace stern::kernels
