// The automatic dense / sparse ternary choice (runtime/int_layers.h choose_ternary_method)
// against the crossovers measured with `stern bench --layer ... --kernel
// ternary_dense|ternary_sparse` (docs/KERNELS.md "cost model"), per ISA table.
#include <gtest/gtest.h>

#include "kernels/igemm.h"
#include "runtime/int_layers.h"

namespace stern {
namespace {

using kernels::Method;

// The 3x3 256->256 layer at 14x14 (K = 2304).
ConvGeometry conv256() {
  ConvGeometry g;
  g.in_c = g.out_c = 256, g.in_h = g.in_w = g.out_h = g.out_w = 14;
  g.kernel_h = g.kernel_w = 3, g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  return g;
}

// A linear layer at batch 1: a 1x1 convolution over a 1x1 image.
ConvGeometry fc(int64_t n) {
  ConvGeometry g;
  g.in_c = g.out_c = n, g.in_h = g.in_w = g.out_h = g.out_w = 1;
  return g;
}

// The lowest sparsity, in whole percent, at which the choice is sparse; 101 for never. The
// last-level cache is given, not this machine's: by default one that holds any weights.
constexpr int64_t kHugeCache = int64_t(1) << 40;
int crossover_percent(const ConvGeometry& g, int64_t cols, Isa isa, int64_t llc_bytes = kHugeCache,
                      bool small_codes = false) {
  for (int s = 0; s <= 100; ++s)
    if (choose_ternary_method(g, cols, 1.0 - s / 100.0, isa, llc_bytes, small_codes) == Method::ternary_sparse)
      return s;
  return 101;
}

TEST(TernaryChoice, VnniConvolutionsGoSparseBetween75And80Percent) {
  // Ice Lake, session 8, min of 2 rounds: 75% dense 372 / sparse 470 us, 80% 385 / 356 us.
  const int s = crossover_percent(conv256(), 2304, Isa::avx512_vnni);
  EXPECT_GT(s, 75);
  EXPECT_LE(s, 80);
}

// A convolution of these channels at 14x14 (28x28 for the Fashion VGG's first ternary layer).
ConvGeometry conv(int64_t in_c, int64_t out_c, int64_t hw) {
  ConvGeometry g = conv256();
  g.in_c = in_c, g.out_c = out_c, g.in_h = g.in_w = g.out_h = g.out_w = hw;
  return g;
}

TEST(TernaryChoice, VnniLayersOfFewChannelsGoSparseSooner) {
  // Ice Lake, session 8, `stern bench --layer conv:... --kernel ternary_dense|ternary_sparse`,
  // min of 3 rounds: 16->16 at 28x28, 55%: dense 28.9 us, sparse 17.3; 32->32, 73%: 12.7 and
  // 9.6; 64->64, 60%: 31.1 and 42.9; 128->128, 60%: 118 and 155.
  const Isa isa = Isa::avx512_vnni;
  EXPECT_EQ(choose_ternary_method(conv(16, 16, 28), 144, 0.45, isa), Method::ternary_sparse);
  EXPECT_EQ(choose_ternary_method(conv(32, 32, 14), 288, 0.27, isa), Method::ternary_sparse);
  EXPECT_EQ(choose_ternary_method(conv(64, 64, 14), 576, 0.40, isa), Method::ternary_dense);
  EXPECT_EQ(choose_ternary_method(conv(128, 128, 14), 1152, 0.40, isa), Method::ternary_dense);
}

TEST(TernaryChoice, VnniLayersOfFewInputChannelsPricePlaneConv) {
  // Dense layers of at most 12 plane_conv operands run on it, not on an im2col GEMM. Ice Lake,
  // 1 thread, min (int_layers.h kPlaneConvNsPerOperand), dense / sparse at 50, 70, 90%: 3x3
  // 3->64 at 56x56 100 / 98, 80, 67 us; 1->16 at 28x28 4.6 / 5.3, 4.7, 4.4; 5x5 1->6 at 28x28
  // 4.4 / 3.0, 2.6, 2.4. As an im2col GEMM, 3->64 stayed dense up to ~75%.
  const Isa isa = Isa::avx512_vnni;
  ConvGeometry rgb = conv(3, 64, 56), gray = conv(1, 16, 28), lenet = conv(1, 6, 28);
  lenet.kernel_h = lenet.kernel_w = 5, lenet.pad_top = lenet.pad_left = lenet.pad_bottom = lenet.pad_right = 2;
  for (const ConvGeometry& g : {rgb, gray, lenet})
    if (!kernels::dense_on_plane_conv(g, Method::ternary_dense, isa)) GTEST_SKIP() << "no plane_conv kernel here";
  const int s_rgb = crossover_percent(rgb, 27, isa), s_gray = crossover_percent(gray, 9, isa);
  EXPECT_GE(s_rgb, 35);
  EXPECT_LE(s_rgb, 65);
  EXPECT_GE(s_gray, 55);
  EXPECT_LE(s_gray, 90);
  EXPECT_LE(crossover_percent(lenet, 25, isa), 50);
}

TEST(TernaryChoice, StridedConvolutionsPayForTheirPhases) {
  // Ice Lake, stride-2 3x3 layers at 90% sparsity, 1 thread, min of 3, dense / sparse: 16->32
  // at 28x28 12.6 / 10.6 us, 32->64 at 14x14 7.4 / 9.0; 64->128 at 56x56 374 / 226, 128->256
  // at 28x28 293 / 196, 256->512 at 14x14 366 / 192. Unpriced, the phases sent 32->64 sparse.
  const Isa isa = Isa::avx512_vnni;
  const auto strided = [](int64_t in_c, int64_t out_c, int64_t hw) {
    ConvGeometry g = conv(in_c, out_c, hw);
    g.stride_h = g.stride_w = 2, g.out_h = g.out_w = hw / 2;
    return g;
  };
  EXPECT_EQ(choose_ternary_method(strided(16, 32, 28), 144, 0.1, isa), Method::ternary_sparse);
  EXPECT_EQ(choose_ternary_method(strided(32, 64, 14), 288, 0.1, isa), Method::ternary_dense);
  EXPECT_EQ(choose_ternary_method(strided(64, 128, 56), 576, 0.1, isa), Method::ternary_sparse);
  EXPECT_EQ(choose_ternary_method(strided(128, 256, 28), 1152, 0.1, isa), Method::ternary_sparse);
  EXPECT_EQ(choose_ternary_method(strided(256, 512, 14), 2304, 0.1, isa), Method::ternary_sparse);
}

TEST(TernaryChoice, Avx2ConvolutionsGoSparseFromAbout40Percent) {
  // The maddubs dense GEMM is 3.4x the VNNI one's time; the AVX2 sparse GEMM 1.3x.
  const int s = crossover_percent(conv256(), 2304, Isa::avx2);
  EXPECT_GE(s, 35);
  EXPECT_LE(s, 50);
}

TEST(TernaryChoice, Avx2ConvolutionsOfFourBitCodesGoSparseFromAbout15Percent) {
  // (Below AVX2, e.g. STERN_ISA=scalar, the AVX2 costs do not describe the kernels that run.)
  if (kernels::best_sparse_gemm(Isa::avx2).needs.isa != Isa::avx2) GTEST_SKIP() << "this CPU lacks AVX2";
  // Ice Lake under STERN_ISA=avx2, 4-bit codes (the u4 sparse GEMM), 2 rounds: dense 1373 us,
  // sparse at 30% 1196, at 40% 1071 (8-bit: 1572, 1397).
  const int s = crossover_percent(conv256(), 2304, Isa::avx2, kHugeCache, true);
  EXPECT_GE(s, 10);
  EXPECT_LE(s, 25);
}

TEST(TernaryChoice, VnniConvolutionsOfFourBitCodesGoSparseFromAbout67Percent) {
  if (!kernels::sparse_planes_packed(conv256(), true, Isa::avx512_vnni)) GTEST_SKIP() << "no packed sparse GEMM here";
  // Ice Lake, `stern bench --layer conv:256x256x3x3@14x14 --act-bits 4 --kernel ...`, min of
  // 2 rounds: dense 367-373 us; sparse on packed planes 445 at 60%, 341 at 70%, 289 at 75%.
  const int s = crossover_percent(conv256(), 2304, Isa::avx512_vnni, kHugeCache, true);
  EXPECT_GE(s, 62);
  EXPECT_LE(s, 70);
  // Packed planes are for stride-1 convolutions: stride 2 keeps the 8-bit choice.
  ConvGeometry strided = conv256();
  strided.stride_h = strided.stride_w = 2, strided.out_h = strided.out_w = 7;
  EXPECT_EQ(crossover_percent(strided, 2304, Isa::avx512_vnni, kHugeCache, true),
            crossover_percent(strided, 2304, Isa::avx512_vnni));
}

TEST(TernaryChoice, LinearLayersAtBatchOneGoSparseAbove96PercentWithTheAvx2Gemv) {
  if (kernels::best_sparse_gemv(Isa::avx2).needs.isa != Isa::avx2) GTEST_SKIP() << "this CPU lacks AVX2";
  // Ice Lake capped at AVX2, bench_kernels gemv/4096x4096 medians: dense 272 us; sparse 303 us
  // at 95%, 205 us at 98%.
  const int s = crossover_percent(fc(4096), 4096, Isa::avx2);
  EXPECT_GT(s, 95);
  EXPECT_LE(s, 98);
}

TEST(TernaryChoice, LinearLayersAtBatchOneStayDenseWithTheScalarGemv) {
  // The scalar sparse GEMV took 1.36 ms at 98% on fc:4096x4096, the AVX2 dense GEMM ~0.25 ms.
  EXPECT_EQ(crossover_percent(fc(4096), 4096, Isa::scalar), 101);
}

TEST(TernaryChoice, LinearLayersAtBatchOneGoSparseAbove90PercentWithTheVbmiGemv) {
  if (!kernels::best_sparse_gemv(Isa::avx512_vnni).needs.vbmi)
    GTEST_SKIP() << "this CPU runs another sparse GEMV (no AVX-512 VBMI)";
  // Zen 4 (docs/KERNELS.md): 4096^2 dense 80-86 us, sparse 118-127 us at 90%, 77 us at 98%.
  const int s = crossover_percent(fc(4096), 4096, Isa::avx512_vnni);
  EXPECT_GT(s, 90);
  EXPECT_LE(s, 97);
}

// Weights past the last-level cache: the dense GEMV streams them from DRAM at 2-2.5x its L3
// cost per weight, so sparse pays sooner. Ice Lake, 16384^2 (64 MB at 2 bits, 48 MB L3), 1
// thread: AVX-512 dense 4.29 ms, sparse 2.08 ms at 90%; capped at AVX2 dense 7.4-8.1 ms,
// sparse 4.5 ms at 95% (at 90% ~9.4 ms, 16x the 4096^2 time).
TEST(TernaryChoice, LinearLayersInDramGoSparseSooner) {
  constexpr int64_t kL3 = int64_t(48) << 20;
  if (kernels::best_sparse_gemv(Isa::avx2).needs.isa == Isa::avx2) {
    EXPECT_GT(crossover_percent(fc(16384), 16384, Isa::avx2, kL3), 90);
    EXPECT_LE(crossover_percent(fc(16384), 16384, Isa::avx2, kL3), 95);
    EXPECT_GT(crossover_percent(fc(16384), 16384, Isa::avx2), 95);  // priced as in cache
  }
  if (kernels::best_sparse_gemv(Isa::avx512_vnni).needs.vbmi) {
    EXPECT_LE(crossover_percent(fc(16384), 16384, Isa::avx512_vnni, kL3), 90);
    EXPECT_GT(crossover_percent(fc(16384), 16384, Isa::avx512_vnni), 90);
  }
}

}  // namespace
}  // namespace stern
