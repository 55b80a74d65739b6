// Binary weights: with uint8 / int8 activations through every bitmap kernel (the row-sum
// correction), and with binary activations through every XNOR-popcount kernel, against sums
// computed from the unpacked codes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kernels/binary/binary_xnor.h"
#include "stern/error.h"
#include "test_signed_binary_util.h"

namespace stern::sbin {
namespace {

using testing::random_binary;
using testing::random_bytes;
using testing::reference;

struct Shape {
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {{1, 1, 1},     {3, 5, 7},     {7, 13, 129}, {33, 17, 200},
                             {5, 9, 192},   {37, 19, 300}, {6, 7, 63},   {9, 11, 65},
                             {4, 4, 511},   {5, 6, 513},   {2, 3, 1000}};

TEST(Binary, RealActivationsEveryKernel) {
  std::mt19937 rng(11);
  std::vector<std::pair<Method, Isa>> variants;
  for (const BitmapConfig& c : bitmap_configs())
    if (cpu_features().supports(c.isa)) variants.push_back({Method::bitmap, c.isa});
  for (const LutConfig& c : lut_configs())
    if (cpu_features().supports(c.isa)) variants.push_back({Method::lut, c.isa});
  for (auto [method, isa] : variants) {
    SCOPED_TRACE(std::string(method_name(method)) + " " + isa_name(isa));
    for (const Shape& s : kShapes)
      for (bool is_signed : {false, true}) {
        SCOPED_TRACE("m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" +
                     std::to_string(s.k) + (is_signed ? " int8" : " uint8"));
        // Unit scales: bit-exact integer sums.
        const WeightMatrix wm = random_binary(s.n, s.k, rng, /*unit_scales=*/true, false);
        BitmapWeights w = pack_binary(wm, "test");
        prepare(w, method);
        const std::vector<uint8_t> x = random_bytes(size_t(s.m * s.k), rng);
        std::vector<float> y(size_t(s.m * s.n));
        gemm(w, method, isa, {x.data(), s.m, s.k, s.k, is_signed, 1.f}, nullptr, false, y.data(),
             s.n, 0, s.m, 0, s.n);
        const std::vector<double> want = reference(wm, x, s.m, is_signed, 1, {}, false);
        for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(double(y[i]), want[i]) << "at " << i;

        // Asymmetric alpha+ / alpha-, bias and ReLU: the float epilogue.
        const WeightMatrix wa = random_binary(s.n, s.k, rng, false, /*asymmetric=*/true);
        BitmapWeights wf = pack_binary(wa, "test");
        prepare(wf, method);
        std::vector<float> bias(size_t(s.n), 0.5f);
        gemm(wf, method, isa, {x.data(), s.m, s.k, s.k, is_signed, 0.02f}, bias.data(), true,
             y.data(), s.n, 0, s.m, 0, s.n);
        const std::vector<double> wantf = reference(wa, x, s.m, is_signed, 0.02f, bias, true);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], wantf[i], 1e-5 * std::max(1.0, std::abs(wantf[i]))) << "at " << i;
      }
  }
}

TEST(Binary, XnorPopcountEveryKernel) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> code(-1, 1);  // 0 binarizes to +1
  for (const XnorConfig& cfg : xnor_configs()) {
    if (!xnor_supported(cfg)) continue;
    SCOPED_TRACE(cfg.name);
    ASSERT_STREQ(xnor_config_for(cfg.isa).name, cfg.name);
    for (const Shape& s : kShapes) {
      SCOPED_TRACE("m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k));
      const WeightMatrix wm = random_binary(s.n, s.k, rng, true, false);
      const BitmapWeights w = pack_binary(wm, "test");
      std::vector<int8_t> x(size_t(s.m * s.k));
      for (auto& v : x) v = int8_t(code(rng));
      const SignBits a = pack_sign_bits(x.data(), s.m, s.k, s.k);
      std::vector<float> y(size_t(s.m * s.n));
      xnor_gemm(w, a, 1.f, nullptr, false, y.data(), s.n, 0, s.m, 0, s.n, cfg.isa);
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          int64_t dot = 0;
          for (int64_t c = 0; c < s.k; ++c)
            dot += (x[size_t(i * s.k + c)] >= 0 ? 1 : -1) * wm.codes[size_t(j * s.k + c)];
          ASSERT_EQ(y[size_t(i * s.n + j)], float(dot)) << "row " << i << " filter " << j;
        }
      // Scales, bias and ReLU on a sub-range.
      std::vector<float> bias(size_t(s.n), -1.5f), z(size_t(s.m * s.n), 7.f);
      xnor_gemm(w, a, 0.5f, bias.data(), true, z.data(), s.n, s.m / 2, s.m, 0, s.n, cfg.isa);
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          const float got = z[size_t(i * s.n + j)];
          const float want = i < s.m / 2 ? 7.f : std::max(0.f, 0.5f * y[size_t(i * s.n + j)] - 1.5f);
          ASSERT_EQ(got, want) << "row " << i << " filter " << j;
        }
    }
  }
}

TEST(Binary, BadInputThrowsOneClearError) {
  std::mt19937 rng(17);
  WeightMatrix zero_code = random_binary(2, 8, rng, true, false);
  zero_code.codes[3] = 0;
  EXPECT_THROW(pack_binary(zero_code, "fc.weight"), Error);
  const BitmapWeights asym = pack_binary(random_binary(2, 8, rng, false, true), "fc.weight");
  const std::vector<int8_t> x(16, 1);
  const SignBits a = pack_sign_bits(x.data(), 2, 8, 8);
  std::vector<float> y(4);
  EXPECT_THROW(xnor_gemm(asym, a, 1.f, nullptr, false, y.data(), 2, 0, 2, 0, 2, Isa::scalar), Error);
  const BitmapWeights sym = pack_binary(random_binary(2, 9, rng, true, false), "fc.weight");
  EXPECT_THROW(xnor_gemm(sym, a, 1.f, nullptr, false, y.data(), 2, 0, 2, 0, 2, Isa::scalar), Error);
  EXPECT_THROW(pack_sign_bits(x.data(), 2, 8, 4), Error);
}

}  // namespace
}  // namespace stern::sbin
