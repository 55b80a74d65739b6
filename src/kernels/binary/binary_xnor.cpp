// Kernel table and driver of binary_xnor.h.
#include "kernels/binary/binary_xnor.h"

#include <algorithm>
#include <limits>

#include "stern/error.h"

namespace stern::sbin {

void binary_xnor_4x4__scalar(const uint64_t*, size_t, const uint64_t*, size_t, size_t, int32_t*, size_t);
void binary_xnor_2x4__avx2(const uint64_t*, size_t, const uint64_t*, size_t, size_t, int32_t*, size_t);
void binary_xnor_4x4__avx512(const uint64_t*, size_t, const uint64_t*, size_t, size_t, int32_t*, size_t);

namespace {
constexpr XnorConfig kXnorConfigs[] = {
    {Isa::scalar, "binary_xnor_4x4__scalar", 4, 4, false, binary_xnor_4x4__scalar},
    {Isa::avx2, "binary_xnor_2x4__avx2", 2, 4, false, binary_xnor_2x4__avx2},
    {Isa::avx512, "binary_xnor_4x4__avx512", 4, 4, true, binary_xnor_4x4__avx512},
};
}  // namespace

std::span<const XnorConfig> xnor_configs() { return kXnorConfigs; }

bool xnor_supported(const XnorConfig& cfg) {
  const CpuFeatures& f = cpu_features();
  return f.supports(cfg.isa) && (!cfg.needs_vpopcntdq || f.avx512_vpopcntdq);
}

const XnorConfig& xnor_config_for(Isa isa) {
  const XnorConfig* best = &kXnorConfigs[0];
  for (const XnorConfig& c : kXnorConfigs)
    if (c.isa <= isa && xnor_supported(c)) best = &c;
  return *best;
}

SignBits pack_sign_bits(const int8_t* x, int64_t rows, int64_t cols, int64_t ld) {
  if (rows < 0 || cols <= 0 || cols > kMaxCols || ld < cols)
    fail("binary activations", std::to_string(rows) + " x " + std::to_string(cols) +
                                   " with row stride " + std::to_string(ld) +
                                   ", expected cols in [1, " + std::to_string(kMaxCols) + "] and stride >= cols");
  SignBits s;
  s.rows = rows;
  s.cols = cols;
  s.words = (cols + 63) / 64;
  s.bits.assign(size_t(rows * s.words), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (x[r * ld + c] >= 0) s.bits[size_t(r * s.words + c / 64)] |= uint64_t{1} << (c % 64);
  return s;
}

void xnor_gemm(const BitmapWeights& w, const SignBits& a, float a_scale, const float* bias,
               bool relu, float* y, int64_t ldy, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
               Isa isa) {
  const Bitmap& b = w.bits;
  if (a.cols != b.cols)
    fail("binary xnor gemm", "activations have " + std::to_string(a.cols) + " columns, expected " +
                                 std::to_string(b.cols));
  if (m0 < 0 || m0 > m1 || m1 > a.rows || n0 < 0 || n0 > n1 || n1 > b.rows)
    fail("binary xnor gemm", "row or filter range outside the " + std::to_string(a.rows) + " x " +
                                 std::to_string(b.rows) + " output");
  for (int64_t n = n0; n < n1; ++n)
    if (w.coef_bits[n] != -2 * w.coef_sum[n])
      fail("binary xnor gemm", "filter " + std::to_string(n) +
                                   " has alpha+ != alpha-, expected symmetric binary weights");
  const XnorConfig& cfg = xnor_config_for(isa);
  const size_t ldc = size_t(n1 - n0);
  std::vector<int32_t> pop(size_t(m1 - m0) * ldc);
  for (int64_t m = m0; m < m1; m += int64_t(cfg.mr))
    for (int64_t n = n0; n < n1; n += int64_t(cfg.nr))
      cfg.ukernel(a.bits.data() + m * a.words, size_t(std::min<int64_t>(int64_t(cfg.mr), m1 - m)),
                  b.bits.data() + n * b.words, size_t(std::min<int64_t>(int64_t(cfg.nr), n1 - n)),
                  size_t(b.words), pop.data() + (m - m0) * ldc + (n - n0), ldc);
  // Float epilogue, vectorizable over filters: the dot product is exact in float (|dot| <= K
  // < 2^24).
  std::vector<float> scale(ldc), shift(ldc);
  for (int64_t n = n0; n < n1; ++n) {
    scale[size_t(n - n0)] = float(double(a_scale) * -w.coef_sum[n]);
    shift[size_t(n - n0)] = bias ? bias[n] : 0.f;
  }
  const float floor = relu ? 0.f : -std::numeric_limits<float>::infinity();
  const float cols = float(b.cols);
  for (int64_t m = m0; m < m1; ++m) {
    const int32_t* p = pop.data() + (m - m0) * int64_t(ldc);
    float* out = y + m * ldy + n0;
    for (size_t j = 0; j < ldc; ++j)
      out[j] = std::max(floor, scale[j] * (cols - 2.f * float(p[j])) + shift[j]);
  }
}

}  // namespace stern::sbin
