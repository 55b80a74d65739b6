// The scalar reference micro-kernel: the portable fallback and the truth the AVX2 and
// AVX-512 kernels are tested against (tests/runtime/f32_gemm_test.cpp).
#include <algorithm>

#include "kernels/f32_gemm/f32_gemm.h"

namespace stern::f32gemm {

void ukernel_4x8__scalar(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                         size_t ldc, const TileArgs& args) {
  constexpr size_t kMr = 4, kNr = 8;
  float acc[kMr][kNr] = {};
  for (size_t k = 0; k < kc; ++k, a += kMr, b += ldb)
    for (size_t i = 0; i < kMr; ++i)
      for (size_t j = 0; j < kNr; ++j) acc[i][j] += a[i] * b[j];
  for (size_t i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    for (size_t j = 0; j < kNr; ++j) {
      float v = acc[i][j];
      if (args.accumulate) v += row[j];
      if (args.last) {
        if (args.bias_m) v += args.bias_m[i];
        if (args.bias_n) v += args.bias_n[j];
        if (args.relu) v = std::max(v, 0.0f);
      }
      row[j] = v;
    }
  }
}

}  // namespace stern::f32gemm
