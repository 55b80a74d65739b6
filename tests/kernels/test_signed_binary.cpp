// Every signed-binary kernel (bitmap and lut method, every ISA this CPU has) against the
// integer product computed from the unpacked codes: bit-exact with unit scales, and the float
// epilogue against a double reference with random scales, bias and ReLU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kernels/signed_binary/bitmap_gemm.h"
#include "stern/error.h"
#include "test_signed_binary_util.h"

namespace stern::sbin {
namespace {

using testing::random_bytes;
using testing::random_signed_binary;
using testing::reference;

// One kernel to test: a method and the ISA that makes the driver pick a given config.
struct Variant {
  Method method;
  Isa isa;
  std::string name;
};

std::vector<Variant> supported_variants() {
  std::vector<Variant> v;
  for (const BitmapConfig& c : bitmap_configs())
    if (cpu_features().supports(c.isa)) v.push_back({Method::bitmap, c.isa, c.name});
  for (const LutConfig& c : lut_configs())
    if (cpu_features().supports(c.isa)) v.push_back({Method::lut, c.isa, c.name});
  return v;
}

std::string config_name(const Variant& v) {
  return v.method == Method::lut ? lut_config_for(v.isa).name : bitmap_config_for(v.isa).name;
}

// y of one variant with unit scales, no bias: the integer sums themselves.
std::vector<float> run_unit(const Variant& v, const WeightMatrix& wm, const std::vector<uint8_t>& x,
                            int64_t m, bool is_signed) {
  BitmapWeights w = pack_signed_binary(wm, "test");
  prepare(w, v.method);
  std::vector<float> y(size_t(m * wm.rows));
  gemm(w, v.method, v.isa, {x.data(), m, wm.cols, wm.cols, is_signed, 1.f}, nullptr, false,
       y.data(), wm.rows, 0, m, 0, wm.rows);
  return y;
}

// Unit scales: y is exact (integer sums below 2^24), so the comparison is exact.
void expect_exact(const std::vector<float>& y, const std::vector<double>& want) {
  ASSERT_EQ(y.size(), want.size());
  for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(double(y[i]), want[i]) << "at " << i;
}

struct Shape {
  int64_t m, n, k;
};
constexpr Shape kShapes[] = {{1, 1, 1},   {3, 5, 7},    {7, 13, 129},  {33, 17, 200},
                             {5, 9, 192}, {37, 19, 300}, {64, 6, 1000}, {2, 3, 4}};
constexpr double kSparsities[] = {0, 0.5, 0.69, 0.9, 0.99, 1};

TEST(SignedBinary, EveryKernelIsBitExact) {
  std::mt19937 rng(7);
  for (const Variant& v : supported_variants()) {
    SCOPED_TRACE(v.name);
    ASSERT_EQ(config_name(v), v.name);
    for (const Shape& s : kShapes)
      for (double sparsity : kSparsities)
        for (bool is_signed : {false, true}) {
          SCOPED_TRACE("m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" +
                       std::to_string(s.k) + " sparsity=" + std::to_string(sparsity) +
                       (is_signed ? " int8" : " uint8"));
          const WeightMatrix wm = random_signed_binary(s.n, s.k, sparsity, rng, /*unit_scales=*/true);
          const std::vector<uint8_t> x = random_bytes(size_t(s.m * s.k), rng);
          expect_exact(run_unit(v, wm, x, s.m, is_signed), reference(wm, x, s.m, is_signed, 1, {}, false));
        }
  }
}

TEST(SignedBinary, PartialLutBlocks) {
  // Many filters at 90% sparsity make a partial last block worth keeping on lut (60 rows:
  // 28 rows past a block of 32, 12 past 16, 4 past 8), so the lut kernels run with fewer
  // rows than lanes; the shapes above send such tails to the bitmap kernel.
  std::mt19937 rng(23);
  const int64_t m = 60, n = 256, k = 77;
  const WeightMatrix wm = random_signed_binary(n, k, 0.9, rng, true);
  const std::vector<uint8_t> x = random_bytes(size_t(m * k), rng);
  const std::vector<double> want = reference(wm, x, m, false, 1, {}, false);
  for (const Variant& v : supported_variants()) {
    SCOPED_TRACE(v.name);
    expect_exact(run_unit(v, wm, x, m, false), want);
  }
}

TEST(SignedBinary, LargestSumsDoNotWrap) {
  // All weights set and all activations 255: every uint16 chunk sum and int32 total at its
  // maximum, 255 * k.
  const int64_t m = 40, n = 5, k = 2000;
  std::mt19937 rng(1);
  WeightMatrix wm = random_signed_binary(n, k, 0, rng, true);
  for (int64_t c = 0; c < k; ++c) wm.codes[size_t(c)] = 1;  // filter 0 too
  const std::vector<uint8_t> x(size_t(m * k), 255);
  for (const Variant& v : supported_variants()) {
    SCOPED_TRACE(v.name);
    const std::vector<float> y = run_unit(v, wm, x, m, false);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) ASSERT_EQ(y[size_t(i * n + j)], (j % 2 ? -255.f : 255.f) * k);
  }
}

TEST(SignedBinary, EpilogueMatchesFloatReference) {
  std::mt19937 rng(3);
  const int64_t m = 35, n = 21, k = 333;
  const WeightMatrix wm = random_signed_binary(n, k, 0.69, rng, /*unit_scales=*/false);
  std::vector<float> bias(static_cast<size_t>(n));
  std::uniform_real_distribution<float> b(-50, 50);
  for (float& v : bias) v = b(rng);
  const std::vector<uint8_t> x = random_bytes(size_t(m * k), rng);
  for (const Variant& v : supported_variants())
    for (bool is_signed : {false, true})
      for (bool relu : {false, true}) {
        SCOPED_TRACE(v.name + (is_signed ? " int8" : " uint8") + (relu ? " relu" : ""));
        BitmapWeights w = pack_signed_binary(wm, "test");
        prepare(w, v.method);
        std::vector<float> y(size_t(m * n));
        gemm(w, v.method, v.isa, {x.data(), m, k, k, is_signed, 0.037f}, bias.data(), relu,
             y.data(), n, 0, m, 0, n);
        const std::vector<double> want = reference(wm, x, m, is_signed, 0.037f, bias, relu);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], want[i], 1e-5 * std::max(1.0, std::abs(want[i]))) << "at " << i;
      }
}

TEST(SignedBinary, RangesComposeAndStrideIsHonoured) {
  // Four sub-ranges (as threads would split the work) with a row stride wider than K.
  std::mt19937 rng(5);
  const int64_t m = 45, n = 23, k = 130, ld = 151;
  const WeightMatrix wm = random_signed_binary(n, k, 0.69, rng, true);
  const std::vector<uint8_t> x = random_bytes(size_t(m * ld), rng);
  std::vector<uint8_t> packed(size_t(m * k));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < k; ++c) packed[size_t(i * k + c)] = x[size_t(i * ld + c)];
  const std::vector<double> want = reference(wm, packed, m, false, 1, {}, false);
  for (const Variant& v : supported_variants()) {
    SCOPED_TRACE(v.name);
    BitmapWeights w = pack_signed_binary(wm, "test");
    prepare(w, v.method);
    std::vector<float> y(size_t(m * n), -1.f);
    const QuantizedRows a{x.data(), m, k, ld, false, 1.f};
    for (auto [m0, m1] : {std::pair<int64_t, int64_t>{0, 17}, {17, m}})
      for (auto [n0, n1] : {std::pair<int64_t, int64_t>{0, 10}, {10, n}})
        gemm(w, v.method, v.isa, a, nullptr, false, y.data(), n, m0, m1, n0, n1);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(double(y[i]), want[i]) << "at " << i;
  }
}

TEST(SignedBinary, BadInputThrowsOneClearError) {
  std::mt19937 rng(9);
  WeightMatrix mixed = random_signed_binary(3, 10, 0, rng, true);
  mixed.codes[size_t(10 + 3)] = -mixed.codes[size_t(10 + 3)];  // row 1 now has both signs
  EXPECT_THROW(pack_signed_binary(mixed, "conv1.weight"), Error);
  try {
    pack_signed_binary(mixed, "conv1.weight");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv1.weight: row 1 mixes +1 and -1"), std::string::npos) << e.what();
  }
  WeightMatrix grouped = random_signed_binary(3, 10, 0.5, rng, true);
  grouped.group = 5;
  EXPECT_THROW(pack_signed_binary(grouped, "w"), Error);
  WeightMatrix bad_code = random_signed_binary(3, 10, 0.5, rng, true);
  bad_code.codes[0] = 2;
  EXPECT_THROW(pack_signed_binary(bad_code, "w"), Error);

  const WeightMatrix wm = random_signed_binary(4, 10, 0.5, rng, true);
  BitmapWeights w = pack_signed_binary(wm, "w");
  const std::vector<uint8_t> x(40);
  std::vector<float> y(16);
  EXPECT_THROW(gemm(w, Method::lut, Isa::scalar, {x.data(), 4, 10, 10, false, 1.f}, nullptr,
                    false, y.data(), 4, 0, 4, 0, 4),
               Error);  // lut layout not prepared
  EXPECT_THROW(gemm(w, Method::bitmap, Isa::scalar, {x.data(), 4, 9, 9, false, 1.f}, nullptr,
                    false, y.data(), 4, 0, 4, 0, 4),
               Error);  // K mismatch
  EXPECT_THROW(gemm(w, Method::bitmap, Isa::scalar, {x.data(), 4, 10, 10, false, 1.f}, nullptr,
                    false, y.data(), 4, 0, 5, 0, 4),
               Error);  // rows out of range
}

TEST(SignedBinary, ChoiceFollowsTheCostModel) {
  std::mt19937 rng(19);
  const Isa isa = cpu_features().best();
  const BitmapWeights wide = pack_signed_binary(random_signed_binary(256, 2304, 0.69, rng, true), "w");
  EXPECT_NEAR(wide.bits.nonzero_groups, 1 - std::pow(0.69, 4), 0.02);
  EXPECT_EQ(choose_method(wide.bits, 1, isa), Method::bitmap);    // GEMV: no tables
  EXPECT_EQ(choose_method(wide.bits, 196, isa), Method::lut);     // 3x3 256->256 at 14x14
  // 64 filters share each table too little to pay for building it.
  const BitmapWeights narrow = pack_signed_binary(random_signed_binary(64, 576, 0.69, rng, true), "w");
  EXPECT_EQ(choose_method(narrow.bits, 3136, isa), Method::bitmap);
}

}  // namespace
}  // namespace stern::sbin
