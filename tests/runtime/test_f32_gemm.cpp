// Every compiled f32 GEMM micro-kernel, through the blocked driver, against a naive
// double-precision product and against the scalar reference kernel, on odd shapes that
// exercise the M, N and K edges (partial tiles, several K and M blocks).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/f32_gemm/f32_gemm.h"
#include "runtime/reference.h"

namespace stern::f32gemm {
namespace {

struct Case {
  size_t m, n, k;
};

using test::random_floats;

// C = A * B + bias_m + bias_n, ReLU, with A [m, k] (or transposed storage) and B [k, n].
std::vector<float> naive(const Case& c, MatrixRef a, MatrixRef b, const float* bias_m,
                         const float* bias_n, bool relu) {
  auto at = [](MatrixRef x, size_t r, size_t col) {
    return x.trans ? x.data[col * x.ld + r] : x.data[r * x.ld + col];
  };
  std::vector<float> out(c.m * c.n);
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < c.n; ++j) {
      double s = 0;
      for (size_t p = 0; p < c.k; ++p) s += double(at(a, i, p)) * at(b, p, j);
      if (bias_m) s += bias_m[i];
      if (bias_n) s += bias_n[j];
      if (relu) s = std::max(s, 0.0);
      out[i * c.n + j] = float(s);
    }
  return out;
}

// Runs one configuration; `split` computes the problem in 2 x 2 sub-rectangles the way
// the runtime splits it across threads.
std::vector<float> run(const Config& cfg, const Case& c, MatrixRef a, MatrixRef b, bool pre_a,
                       bool pre_b, const float* bias_m, const float* bias_n, bool relu,
                       bool split) {
  std::vector<float> pa, pb, out(c.m * c.n, -7.0f);
  Problem p{c.m, c.n, c.k, {a}, {b}, out.data(), c.n, bias_m, bias_n, relu};
  if (pre_a) pa = pack_a(cfg, a, c.m, c.k), p.a.packed = pa.data();
  if (pre_b) pb = pack_b(cfg, b, c.k, c.n), p.b.packed = pb.data();
  std::vector<float> scratch(scratch_floats(cfg, c.k, c.n));
  if (!split) {
    compute(cfg, p, 0, c.m, 0, c.n, scratch.data());
    return out;
  }
  const size_t ms = std::min(c.m, (c.m / 2) / cfg.mr * cfg.mr);
  const size_t ns = std::min(c.n, (c.n / 2) / cfg.nr * cfg.nr);
  for (auto [m0, m1] : {std::pair{size_t(0), ms}, std::pair{ms, c.m}})
    for (auto [n0, n1] : {std::pair{size_t(0), ns}, std::pair{ns, c.n}})
      if (m0 < m1 && n0 < n1) compute(cfg, p, m0, m1, n0, n1, scratch.data());
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, size_t k,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  // |error| of a float dot product of length k with |terms| <= 1 is below ~k * 2^-24 * k.
  const float tol = 1e-6f * float(k) + 1e-6f;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol) << what << " at " << i;
}

TEST(F32Gemm, EveryKernelMatchesNaiveAndScalarOnOddShapes) {
  const Case cases[] = {{1, 1, 1},   {3, 5, 7},    {7, 33, 129}, {13, 17, 300},
                        {9, 65, 257}, {31, 70, 3}, {300, 40, 20}, {17, 1100, 33}};
  const Config& scalar = all_configs()[0];
  ASSERT_EQ(scalar.isa, Isa::scalar);
  int checked = 0;
  for (const Config& cfg : all_configs()) {
    if (!cpu_features().supports(cfg.isa)) {
      std::printf("skipping %s: CPU lacks %s\n", cfg.name, isa_name(cfg.isa));
      continue;
    }
    for (const Case& c : cases) {
      // Bits: transposed A storage, transposed B storage, prepacked A, prepacked B, split
      // into sub-rectangles (a raw row-major B is read in place for small M ranges).
      for (int variant = 0; variant < 32; ++variant) {
        const bool trans_a = variant & 1, trans_b = variant & 2;
        const auto av = random_floats(c.m * c.k, 1 + c.m), bv = random_floats(c.k * c.n, 2 + c.n);
        const auto bm = random_floats(c.m, 3), bn = random_floats(c.n, 4);
        const MatrixRef a{av.data(), trans_a ? c.m : c.k, trans_a};
        const MatrixRef b{bv.data(), trans_b ? c.k : c.n, trans_b};
        const bool relu = variant % 3 != 1;
        const float* bias_m = variant % 5 == 2 ? nullptr : bm.data();
        const float* bias_n = variant % 7 == 3 ? nullptr : bn.data();
        const auto want = naive(c, a, b, bias_m, bias_n, relu);
        const std::string what = std::string(cfg.name) + " " + std::to_string(c.m) + "x" +
                                 std::to_string(c.n) + "x" + std::to_string(c.k) + " v" +
                                 std::to_string(variant);
        const auto got = run(cfg, c, a, b, variant & 4, variant & 8, bias_m, bias_n, relu,
                             variant & 16);
        expect_close(got, want, c.k, what);
        expect_close(got, run(scalar, c, a, b, false, false, bias_m, bias_n, relu, false), c.k,
                     what + " vs scalar");
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 8 * 32);
}

TEST(F32Gemm, ConfigForNeverExceedsTheRequestedIsa) {
  EXPECT_EQ(config_for(Isa::scalar).isa, Isa::scalar);
  EXPECT_LE(config_for(Isa::avx2).isa, Isa::avx2);
  EXPECT_TRUE(cpu_features().supports(config_for(Isa::avx512_vnni).isa));
}

}  // namespace
}  // namespace stern::f32gemm
