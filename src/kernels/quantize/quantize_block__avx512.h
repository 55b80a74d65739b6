// Activation codes of up to 16 vectors of 16 floats at a time, bit-exact with
// quantize_activation (runtime/layer.h), shared by the AVX-512 quantizers. Include only from
// files built for AVX-512.
//
// Codes come from a multiply by 1 / scale, not the division (VDIVPS zmm, ~10 cycles per
// vector, bounded the quantizers). y = x * fl(1 / scale) is within 3 ulps of |x / scale|
// of fl(x / scale), the quotient quantize_activation rounds; below 2^8 that is < 2^-14, so
// both round to the same integer unless y lies within 2^-14 of a half-integer (VREDUCEPS
// gives y - nearbyint(y) exactly; VRANGEPS keeps the block's largest |.|: one compare per
// block, not per vector). Above 2^8 both clamp to the same limit (|codes| <= 255). A block
// with any such lane, or a NaN (also a NaN from VREDUCEPS, whatever it does with
// infinities), is redone with the division; scales whose reciprocal is not a normal float
// take the division throughout. On random data ~3% of blocks are redone.
// Then the clamp in float (MAXPS returns its second operand, qmin, for NaN, as the
// reference sends NaN to qmin) and VCVTPS2DQ, which rounds to nearest even (= nearbyint in
// the default mode); clamping before rounding gives the same codes, the limits being
// integers.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstddef>

#include "runtime/layer.h"

namespace stern::kernels {

class QuantizeBlock {
 public:
  static constexpr size_t kVectors = 16;

  explicit QuantizeBlock(const ActQuant& act)
      : scale_(_mm512_set1_ps(act.scale)), rcp_(_mm512_set1_ps(1.0f / act.scale)),
        lo_(_mm512_set1_ps(float(act.qmin))), hi_(_mm512_set1_ps(float(act.qmax))),
        near_tie_(_mm512_set1_ps(0.5f - 0x1p-14f)), reciprocal_(std::isnormal(1.0f / act.scale)) {}

  // q[v] = the int32 codes of load(v) for v < n, zero for the others.
  template <typename Load>
  void codes(size_t n, const Load& load, __m512i (&q)[kVectors]) const {
    if (!reciprocal_ || !pass<true>(n, load, q)) pass<false>(n, load, q);
  }

 private:
  // With the reciprocal: false if a lane needs the division.
  template <bool kReciprocal, typename Load>
  bool pass(size_t n, const Load& load, __m512i (&q)[kVectors]) const {
    __m512 err = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (size_t v = 0; v < kVectors; ++v) {
      if (v >= n) {
        q[v] = _mm512_setzero_si512();
        continue;
      }
      const __m512 x = load(v);
      const __m512 y = kReciprocal ? _mm512_mul_ps(x, rcp_) : _mm512_div_ps(x, scale_);
      if (kReciprocal)
        err = _mm512_range_ps(err, _mm512_reduce_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 0x0B);
      q[v] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(y, lo_), hi_));
    }
    return !kReciprocal || _mm512_cmp_ps_mask(err, near_tie_, _CMP_NLE_UQ) == 0;
  }

  __m512 scale_, rcp_, lo_, hi_, near_tie_;
  bool reciprocal_;
};

}  // namespace stern::kernels
