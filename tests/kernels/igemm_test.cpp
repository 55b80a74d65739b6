// Every integer micro-kernel of kernels.inc on every ISA the CPU has, bit-exact against
// a brute-force sum over the canonical codes (independent of the packed layouts) and
// against the family's scalar kernel, on odd shapes and sparsities 0..100%.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "kernels/igemm.h"
#include "kernels/qpack.h"
#include "runtime/layer.h"

namespace stern::kernels {
namespace {

std::vector<int8_t> random_codes(std::mt19937& rng, int64_t n, double sparsity, int lo, int hi) {
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> v(lo, hi);
  std::vector<int8_t> codes(n);
  for (auto& c : codes) {
    if (u(rng) < sparsity) continue;
    do c = static_cast<int8_t>(v(rng)); while (c == 0);
  }
  return codes;
}

// Kernels whose ISA the CPU lacks are skipped (and say so).
template <typename K>
bool runnable(const K& kern) {
  if (!kern.needs.met()) std::printf("skipping %s: CPU lacks its ISA\n", kern.name);
  return kern.needs.met();
}

struct Shape {
  int64_t m, n, k, group;
};
// Odd and edge shapes: single row/column, K and N off every block size, groups that do
// and do not divide K, groups below and above the 16-column block.
const Shape kShapes[] = {{1, 1, 1, 1},    {1, 17, 33, 33},  {3, 5, 7, 7},     {5, 31, 100, 16},
                         {8, 33, 130, 40}, {9, 48, 256, 64}, {13, 70, 129, 5}, {2, 16, 300, 300},
                         {12, 150, 200, 40}};

// `ternary_codes`: int8 weights limited to {-1, 0, 1}, as the runtime gives the int8 kernels
// of a ternary layer.
void check_dense(const DenseKernel& kern, const Shape& s, double sparsity, uint32_t seed,
                 bool ternary_codes = false) {
  std::mt19937 rng(seed);
  const bool int8 = kern.format == WeightFormat::int8;
  const int code_max = int8 && !ternary_codes ? 127 : 1;
  const std::vector<int8_t> codes = random_codes(rng, s.n * s.k, sparsity, -code_max, code_max);
  const ColumnLayout layout = column_layout(s.k, s.group, kKBlock);
  const aligned_vector<uint8_t> w = pack_dense(codes.data(), s.n, layout, kern.format);
  const size_t stride = panel_stride(layout, kern.format), kp = layout.padded_cols();
  const size_t panels = (s.n + kPanel - 1) / kPanel;
  const int64_t m = kern.op == KernelOp::gemv ? 1 : s.m;
  std::vector<uint8_t> a(m * kp + 64, 0);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < s.k; ++k) a[i * kp + layout.map(k)] = static_cast<uint8_t>(byte(rng));
  const DenseKernel& scalar = best_dense(kern.format, KernelOp::gemm, Isa::scalar);
  const size_t bpg = layout.padded_group / kKBlock, block_bytes = stride / (kp / kKBlock);
  for (int64_t g = 0; g < layout.groups; ++g) {
    std::vector<int32_t> got(m * panels * kPanel, -1), ref(got.size(), -2);
    // One call per scale group, as the layer driver makes them; rows in tiles of MR.
    for (int64_t i0 = 0; i0 < m; i0 += kern.mr) {
      const size_t rows = std::min<int64_t>(kern.mr, m - i0);
      kern.fn(rows, bpg, a.data() + i0 * kp + g * layout.padded_group, kp,
              w.data() + g * bpg * block_bytes, stride, panels, got.data() + i0 * panels * kPanel,
              panels * kPanel);
    }
    scalar.fn(m, bpg, a.data() + g * layout.padded_group, kp, w.data() + g * bpg * block_bytes,
              stride, panels, ref.data(), panels * kPanel);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        int64_t expect = 0;
        for (int64_t k = g * layout.group; k < std::min(s.k, (g + 1) * layout.group); ++k) {
          const uint8_t byte_v = a[i * kp + layout.map(k)];
          const int32_t x = int8 ? int32_t(byte_v) : int32_t(int8_t(byte_v));
          const int32_t wv = int8 ? codes[j * s.k + k] : codes[j * s.k + k] + 1;
          expect += int64_t(x) * wv;
        }
        ASSERT_EQ(got[i * panels * kPanel + j], expect)
            << kern.name << " m=" << i << " n=" << j << " group=" << g << " shape " << s.m << "x"
            << s.n << "x" << s.k << "/" << s.group;
        ASSERT_EQ(ref[i * panels * kPanel + j], expect) << scalar.name;
      }
  }
}

TEST(DenseKernels, MatchBruteForceOnOddShapes) {
  for (const DenseKernel& kern : dense_kernels()) {
    if (!runnable(kern)) continue;
    uint32_t seed = 1;
    for (const Shape& s : kShapes)
      for (double sparsity : {0.0, 0.5, 0.9, 0.99, 1.0}) check_dense(kern, s, sparsity, seed++);
  }
}

// The tile GEMMs (AMX) on the shapes they are chosen for, at least kTileGemmMinRows rows:
// row counts off the 16-row tile and the 32-row kernel, K off the 64-column step (the
// 16 / 32 / 48-column tail pass alone and after whole steps, K from 1 to 4100), N off the
// panel pair, FGQ groups; int8 and ternary codes.
TEST(DenseKernels, TileGemmsMatchBruteForceOnOddShapes) {
  const Shape shapes[] = {{16, 16, 64, 64},     {17, 17, 27, 27},   {31, 33, 100, 100},
                          {33, 40, 130, 40},    {45, 5, 16, 16},    {50, 70, 1000, 1000},
                          {20, 17, 200, 16},    {64, 64, 176, 176}, {40, 31, 4100, 4100},
                          {196, 48, 2304, 2304}};
  bool ran = false;
  for (const DenseKernel& kern : dense_kernels()) {
    if (kern.op != KernelOp::tile_gemm || !runnable(kern)) continue;
    ran = true;
    uint32_t seed = 1000;
    for (const Shape& s : shapes)
      for (bool ternary : {false, true})
        for (double sparsity : {0.0, 0.5}) check_dense(kern, s, sparsity, seed++, ternary);
  }
  if (!ran) GTEST_SKIP() << "the CPU has no tile GEMM (AMX-INT8 with Linux's permission)";
}

// A convolution's padded NHWC image of random bytes (with the slack the layer leaves after
// it), the offsets of its 16-column blocks from a pixel's window (koff), random int8 weights,
// and the int8 scalar GEMM on the im2col rows of the output pixels whose windows start at
// row_offset[i]: what the implicit (ConvUkernel) and indirect (IgemmUkernel) GEMMs stand for.
struct Im2colCase {
  int64_t c, kh, kw, dilation, wp, hp, k, n;
  std::vector<uint8_t> image;
  std::vector<int32_t> koff;
  aligned_vector<uint8_t> w;
  size_t stride = 0, panels = 0;

  Im2colCase(std::mt19937& rng, int64_t c_, int64_t kh_, int64_t kw_, int64_t dilation_, int64_t wp_, int64_t hp_,
             int64_t n_)
      : c(c_), kh(kh_), kw(kw_), dilation(dilation_), wp(wp_), hp(hp_), k(kh_ * kw_ * c_), n(n_) {
    std::uniform_int_distribution<int> byte(0, 255);
    image.resize(hp * wp * c + 64 * c);
    for (auto& v : image) v = uint8_t(byte(rng));
    koff.resize(k / kKBlock);
    for (int64_t b = 0; b < int64_t(koff.size()); ++b) {
      const int64_t col = b * kKBlock, tap = col / c, ch = col % c;
      koff[b] = int32_t(((tap / kw) * dilation * wp + (tap % kw) * dilation) * c + ch);
    }
    const std::vector<int8_t> codes = random_codes(rng, n * k, 0.3, -127, 127);
    const ColumnLayout layout = column_layout(k, k, kKBlock);
    w = pack_dense(codes.data(), n, layout, WeightFormat::int8);
    stride = panel_stride(layout, WeightFormat::int8), panels = (n + kPanel - 1) / kPanel;
  }
  size_t ldc() const { return panels * kPanel; }
  std::vector<int32_t> reference(const std::vector<int32_t>& row_offset) const {
    const int64_t m = row_offset.size();
    std::vector<uint8_t> rows(m * k);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t col = 0; col < k; ++col)
        rows[i * k + col] = image[row_offset[i] + koff[col / kKBlock] + col % kKBlock];
    std::vector<int32_t> ref(m * ldc());
    best_dense(WeightFormat::int8, KernelOp::gemm, Isa::scalar)
        .fn(m, k / kKBlock, rows.data(), k, w.data(), stride, panels, ref.data(), ldc());
    return ref;
  }
};

// The implicit-im2col GEMMs: stride-1 convolutions over a padded NHWC image (pixels numbered
// over the padded width in tiles of 16, and the real pixels in tiles of one output row, as the
// layer calls them, in calls of kConvTiles tiles), 1x1 / 1x3 / 3x3
// kernels, dilation 2, channels giving whole 64-column steps, 16 / 48-column tails, and 16 /
// 32 / 48 channels (a 3x3 kernel's 64-column steps not contiguous: 16- or 32-column steps); K
// from 1024 to 3072 takes the AMX kernel's rows3 blocking (amx_tiles.h: 1, 2 and 3 row
// tiles), also with an odd number of steps (192 channels, 3x3: 27) and a 16-column tail (1040
// channels, 1x1), and with m <= 16 rows.
TEST(ConvKernels, MatchTheScalarGemmOnTheirIm2colRows) {
  struct Geometry {
    int64_t c, kh, kw, dilation, out_h, out_w, n;
  };
  const Geometry geometries[] = {{64, 3, 3, 1, 5, 7, 33},  {128, 3, 3, 2, 3, 4, 16}, {80, 1, 1, 1, 4, 9, 17},
                                 {48, 1, 1, 1, 2, 8, 40},  {64, 1, 3, 1, 6, 5, 32},  {16, 1, 1, 1, 7, 3, 5},
                                 {256, 3, 3, 1, 14, 14, 48}, {16, 3, 3, 1, 9, 11, 16},  {32, 3, 3, 2, 5, 6, 33},
                                 {48, 3, 3, 1, 4, 4, 20},  {192, 3, 3, 1, 5, 6, 40},  {1040, 1, 1, 1, 4, 5, 20},
                                 {128, 3, 3, 1, 1, 9, 16}};
  std::mt19937 rng(77);
  for (const Geometry& g : geometries) {
    const int64_t wp = g.out_w + (g.kw - 1) * g.dilation, hp = g.out_h + (g.kh - 1) * g.dilation;
    const Im2colCase t(rng, g.c, g.kh, g.kw, g.dilation, wp, hp, g.n);
    const int64_t m = g.out_h * wp;
    std::vector<int32_t> virtual_pixels(m);
    for (int64_t i = 0; i < m; ++i) virtual_pixels[i] = int32_t(i * g.c);
    const std::vector<int32_t> ref = t.reference(virtual_pixels);
    for (const ConvKernel& kern : conv_kernels()) {
      if (!runnable(kern)) continue;
      std::vector<int32_t> got(ref.size(), -1);
      for (int64_t i0 = 0; i0 < m; i0 += kConvTiles * 16)
        kern.fn(std::min<int64_t>(kConvTiles * 16, m - i0), t.k / kKBlock, t.image.data() + i0 * g.c, g.c, 16, 16,
                t.koff.data(), t.w.data(), t.stride, t.panels, got.data() + i0 * t.ldc(), t.ldc());
      ASSERT_EQ(got, ref) << kern.name << " channels " << g.c << " kernel " << g.kh << "x" << g.kw;
      // Output rows of at most 16 pixels one per tile, only the real pixels: the reference's
      // rows of the real pixels, in calls of kConvTiles tiles (the last one shorter).
      if (g.out_w > 16) continue;
      std::vector<int32_t> real_ref;
      for (int64_t y = 0; y < g.out_h; ++y)
        real_ref.insert(real_ref.end(), ref.begin() + y * wp * t.ldc(), ref.begin() + (y * wp + g.out_w) * t.ldc());
      const int64_t real = g.out_h * g.out_w, per_call = kConvTiles * g.out_w;
      std::vector<int32_t> got_real(real_ref.size(), -1);
      for (int64_t i0 = 0; i0 < real; i0 += per_call)
        kern.fn(std::min(per_call, real - i0), t.k / kKBlock, t.image.data() + i0 / g.out_w * wp * g.c, g.c, g.out_w,
                wp, t.koff.data(), t.w.data(), t.stride, t.panels, got_real.data() + i0 * t.ldc(), t.ldc());
      ASSERT_EQ(got_real, real_ref) << kern.name << " by output rows, channels " << g.c << " kernel " << g.kh << "x"
                                    << g.kw;
    }
  }
}

// The indirect GEMMs: output pixels (only the real ones) of convolutions of strides 1-3 and
// dilations 1-2, 1x1 / 3x3 / 5x3 kernels, 16 to 272 channels, row counts off every kernel's
// tile (1, 5, 7, 13, 23 ...) and channel counts off its four panels (1, 2, 3, 5 panels), in
// one call and from a middle row on (a thread's share).
TEST(IgemmKernels, MatchTheScalarGemmOnTheirIm2colRows) {
  struct Geometry {
    int64_t c, kh, kw, stride, dilation, out_h, out_w, n;
  };
  const Geometry geometries[] = {{16, 3, 3, 1, 1, 5, 7, 33},   {64, 3, 3, 2, 1, 4, 5, 16}, {32, 1, 1, 1, 1, 1, 1, 17},
                                 {48, 5, 3, 1, 2, 3, 4, 70},   {256, 3, 3, 1, 1, 14, 14, 64},
                                 {272, 3, 3, 3, 1, 2, 3, 48},  {16, 1, 1, 2, 1, 7, 1, 5}, {128, 3, 3, 1, 2, 6, 6, 80}};
  std::mt19937 rng(91);
  for (const Geometry& g : geometries) {
    const int64_t wp = (g.out_w - 1) * g.stride + (g.kw - 1) * g.dilation + 1 + g.stride / 2;
    const int64_t hp = (g.out_h - 1) * g.stride + (g.kh - 1) * g.dilation + 1;
    const Im2colCase t(rng, g.c, g.kh, g.kw, g.dilation, wp, hp, g.n);
    const int64_t m = g.out_h * g.out_w;
    std::vector<int32_t> windows(m);
    for (int64_t i = 0; i < m; ++i) windows[i] = int32_t(((i / g.out_w) * g.stride * wp + (i % g.out_w) * g.stride) * g.c);
    const std::vector<int32_t> ref = t.reference(windows);
    for (const IgemmKernel& kern : igemm_kernels()) {
      if (!runnable(kern)) continue;
      for (const int64_t first : {int64_t(0), m / 3}) {
        std::vector<int32_t> got(ref.size(), -1);
        kern.fn(m - first, t.k / kKBlock, t.image.data(), windows.data() + first, t.koff.data(), t.w.data(), t.stride,
                t.panels, got.data() + first * t.ldc(), t.ldc());
        ASSERT_TRUE(std::equal(got.begin() + first * t.ldc(), got.end(), ref.begin() + first * t.ldc()))
            << kern.name << " channels " << g.c << " kernel " << g.kh << "x" << g.kw << " stride " << g.stride
            << " from row " << first;
        ASSERT_TRUE(std::all_of(got.begin(), got.begin() + first * t.ldc(), [](int32_t v) { return v == -1; }))
            << kern.name << " wrote rows before its first";
      }
    }
  }
}

// Extremes of the operand ranges: the accumulation bounds of igemm.h hold at K = 4096.
TEST(DenseKernels, ExtremeOperandsDoNotOverflow) {
  for (const DenseKernel& kern : dense_kernels()) {
    if (!kern.needs.met()) continue;
    const bool int8 = kern.format == WeightFormat::int8;
    const int64_t n = 32, k = 4096;
    for (int sign : {1, -1}) {
      std::vector<int8_t> codes(n * k, static_cast<int8_t>(int8 ? 127 * sign : sign));
      const ColumnLayout layout = column_layout(k, k, kKBlock);
      const aligned_vector<uint8_t> w = pack_dense(codes.data(), n, layout, kern.format);
      const uint8_t byte_v = int8 ? 255 : 0x80;  // 255 unsigned, -128 signed
      std::vector<uint8_t> a(8 * k + 64, byte_v);
      std::vector<int32_t> got(8 * n);
      const size_t m = kern.op == KernelOp::gemv ? 1 : std::min<size_t>(kern.mr, 8);
      kern.fn(m, k / kKBlock, a.data(), k, w.data(), panel_stride(layout, kern.format), 2, got.data(), n);
      const int64_t expect = int8 ? int64_t(255) * 127 * sign * k : int64_t(-128) * (sign + 1) * k;
      for (size_t i = 0; i < m * n; ++i) ASSERT_EQ(got[i], expect) << kern.name;
    }
  }
}

// The GEMV layout in bands of rows: every ISA against the brute-force sum and the scalar
// kernel, over a middle range of bands (a thread's share) and every scale group in one call.
// band 0: the one pack_sparse_bands picks for the density; 4, 8, 16 forced.
void check_sparse_gemv(const SparseGemvKernel& kern, const Shape& s, double sparsity, size_t band,
                       uint32_t seed, int byte_lo = 0) {
  std::mt19937 rng(seed);
  const std::vector<int8_t> codes = random_codes(rng, s.n * s.k, sparsity, -1, 1);
  const ColumnLayout layout = column_layout(s.k, s.group, kSparseBlock);
  const SparseBands w = pack_sparse_bands(codes.data(), s.n, layout, band);
  ASSERT_EQ(w.bands(), (s.n + w.band - 1) / w.band);
  std::vector<uint8_t> x(layout.padded_cols() + 64, 0);
  std::uniform_int_distribution<int> byte(byte_lo, 255);
  for (int64_t k = 0; k < s.k; ++k) x[layout.map(k)] = static_cast<uint8_t>(byte(rng));
  const size_t q0 = w.bands() / 3, q1 = w.bands(), ng = layout.groups, r0 = q0 * w.band;
  std::vector<int32_t> got((q1 - q0) * w.band * ng, -1), ref(got.size(), -2);
  kern.fn(x.data(), w, q0, q1, got.data());
  best_sparse_gemv(Isa::scalar).fn(x.data(), w, q0, q1, ref.data());
  for (int64_t r = r0; r < std::min<int64_t>(s.n, q1 * w.band); ++r)
    for (size_t g = 0; g < ng; ++g) {
      int32_t expect = 0;
      for (int64_t k = g * layout.group; k < std::min(s.k, int64_t(g + 1) * layout.group); ++k)
        expect += codes[r * s.k + k] * int32_t(x[layout.map(k)]);
      const size_t at = (r - r0) * ng + g;
      ASSERT_EQ(got[at], expect) << kern.name << " row " << r << " group " << g << " sparsity " << sparsity
                                 << " band " << w.band << " shape " << s.n << "x" << s.k << "/" << s.group;
      ASSERT_EQ(ref[at], expect) << "scalar";
    }
}

TEST(SparseKernels, GemvMatchesBruteForce) {
  for (const SparseGemvKernel& kern : sparse_gemv_kernels()) {
    if (!runnable(kern)) continue;
    uint32_t seed = 100;
    for (const Shape& s : kShapes)
      for (double sparsity : {0.0, 0.5, 0.9, 0.95, 0.98, 0.99, 1.0})
        for (size_t band : {0, 4, 8, 16}) check_sparse_gemv(kern, s, sparsity, band, seed++);
  }
}

// The band pack_sparse_bands picks: one pass per block on average.
TEST(SparseKernels, BandFollowsDensity) {
  const ColumnLayout layout = column_layout(4096, 4096, kSparseBlock);
  for (const auto& [sparsity, band] : {std::pair{0.5, 4}, {0.9, 4}, {0.95, 8}, {0.98, 16}, {1.0, 16}}) {
    std::mt19937 rng(3);
    const std::vector<int8_t> codes = random_codes(rng, 64 * 4096, sparsity, -1, 1);
    EXPECT_EQ(pack_sparse_bands(codes.data(), 64, layout).band, size_t(band)) << sparsity;
  }
  // 32-lane passes (the AVX2 kernel): half the entries per block.
  for (const auto& [sparsity, band] : {std::pair{0.9, 4}, {0.95, 4}, {0.98, 8}, {1.0, 16}}) {
    std::mt19937 rng(3);
    const std::vector<int8_t> codes = random_codes(rng, 64 * 4096, sparsity, -1, 1);
    EXPECT_EQ(pack_sparse_bands(codes.data(), 64, layout, 0, 32).band, size_t(band)) << sparsity;
  }
}

// Extremes: all-255 activations and dense rows of one sign (up to 2048 entries per band
// and block: 32 64-lane passes), K = 4096 and odd K.
TEST(SparseKernels, GemvExtremeOperands) {
  for (const SparseGemvKernel& kern : sparse_gemv_kernels()) {
    if (!runnable(kern)) continue;
    for (const Shape& s : {Shape{1, 9, 4096, 4096}, Shape{1, 7, 1001, 1001}, Shape{1, 6, 1001, 130}})
      for (size_t band : {4, 8, 16}) {
        check_sparse_gemv(kern, s, 0.0, band, 7, 255);
        for (int sign : {1, -1}) {
          const std::vector<int8_t> codes(s.n * s.k, static_cast<int8_t>(sign));
          const ColumnLayout layout = column_layout(s.k, s.group, kSparseBlock);
          const SparseBands w = pack_sparse_bands(codes.data(), s.n, layout, band);
          std::vector<uint8_t> x(layout.padded_cols() + 64, 0);
          for (int64_t k = 0; k < s.k; ++k) x[layout.map(k)] = 255;
          std::vector<int32_t> got(w.bands() * w.band * layout.groups);
          kern.fn(x.data(), w, 0, w.bands(), got.data());
          for (int64_t r = 0; r < s.n; ++r)
            for (int64_t g = 0; g < layout.groups; ++g)
              ASSERT_EQ(got[r * layout.groups + g],
                        255 * sign * (std::min(s.k, (g + 1) * layout.group) - g * layout.group))
                  << kern.name << " band " << band;
        }
      }
  }
}

// Column orders of the sparse GEMM layout: the layout's own (one segment per group), and
// every group's columns reversed in segments of 128 (as the runtime's channel blocks permute
// and split them).
std::vector<int64_t> column_order(const ColumnLayout& layout, bool reversed) {
  std::vector<int64_t> kperm(layout.cols);
  for (int64_t k = 0; k < layout.cols; ++k)
    kperm[k] = reversed ? (k / layout.group + 1) * layout.padded_group - 1 - k % layout.group : layout.map(k);
  return kperm;
}

// The sparse GEMM tables with the largest activation byte each takes.
struct SparseGemmTable {
  std::span<const SparseGemmKernel> kernels;
  int max_byte;
};
const SparseGemmTable kSparseGemmTables[] = {{sparse_gemm_kernels(), 255}, {sparse_gemm_u4_kernels(), 15}};

// A random sparse GEMM case: ternary codes of this sparsity in one of column_order's orders,
// and per column `width` activation bytes (byte(i) for pixel i) stored in reverse order, one
// byte off the cache lines, and reached through their offsets, as shifted windows are.
struct SparseGemmCase {
  std::vector<int8_t> codes;
  ColumnLayout layout;
  size_t width;
  std::vector<uint8_t> col, tiles;
  SparseRows w;
};
SparseGemmCase sparse_gemm_case(std::mt19937& rng, const Shape& s, double sparsity, bool reversed, size_t width,
                                const std::function<uint8_t(size_t)>& byte) {
  SparseGemmCase c;
  c.codes = random_codes(rng, s.n * s.k, sparsity, -1, 1);
  c.layout = column_layout(s.k, s.group, kSparseBlock);
  c.width = width;
  const std::vector<int64_t> kperm = column_order(c.layout, reversed);
  c.col.resize(s.k * width), c.tiles.resize(c.col.size() + width + 1);
  std::vector<int32_t> offset(c.layout.padded_cols(), 0);
  for (int64_t k = 0; k < s.k; ++k) {
    for (size_t i = 0; i < width; ++i) c.col[k * width + i] = byte(i);
    offset[kperm[k]] = int32_t((s.k - 1 - k) * width + 1);
    std::copy_n(c.col.begin() + k * width, width, c.tiles.begin() + offset[kperm[k]]);
  }
  c.w = pack_sparse(c.codes.data(), s.n, c.layout, kperm, reversed ? 128 : c.layout.padded_group, offset, "test");
  return c;
}

TEST(SparseKernels, GemmMatchesBruteForce) {
  for (const auto& [table, max_byte] : kSparseGemmTables)
  for (const SparseGemmKernel& kern : table) {
    if (!runnable(kern)) continue;
    uint32_t seed = 200;
    for (const Shape& s : kShapes)
      for (double sparsity : {0.0, 0.5, 0.9, 0.99, 1.0})
        for (bool reversed : {false, true}) {
          std::mt19937 rng(seed++);
          // Bytes: the extremes 0 and max_byte, then random (a copy: Clang 15 captures no
          // structured bindings).
          const int top = max_byte;
          std::uniform_int_distribution<int> q(0, top);
          const SparseGemmCase c = sparse_gemm_case(rng, s, sparsity, reversed, kSparseTileLanes, [&](size_t i) {
            return static_cast<uint8_t>(i == 0 ? top : i == 1 ? 0 : q(rng));
          });
          // Full tiles, short last tiles (one lane, half a vector, just over half) and last
          // tiles with the lanes of a short one after them (one more, 30 more, 32 more).
          for (size_t lanes : {64, 1, 32, 33, 65, 94, 96})
            for (int64_t g = 0; g < c.layout.groups; ++g) {
              const size_t ld = kSparseTileLanes;
              std::vector<int32_t> got(s.n * ld, 7), ref(got.size(), 8);
              kern.fn(c.tiles.data(), c.w, 0, s.n, g, lanes, got.data(), ld);
              best_sparse_gemm(Isa::scalar).fn(c.tiles.data(), c.w, 0, s.n, g, lanes, ref.data(), ld);
              for (int64_t r = 0; r < s.n; ++r)
                for (size_t i = 0; i < lanes; ++i) {
                  int32_t expect = 0;
                  for (int64_t k = g * c.layout.group; k < std::min(s.k, (g + 1) * c.layout.group); ++k)
                    expect += c.codes[r * s.k + k] * c.col[k * c.width + i];
                  ASSERT_EQ(got[r * ld + i], expect)
                      << kern.name << " row " << r << " pixel " << i << " lanes " << lanes << " sparsity "
                      << sparsity << " segments " << c.w.segments;
                  ASSERT_EQ(ref[r * ld + i], expect) << "scalar";
                }
            }
        }
  }
}

// Rows of one sign over K = 4096 with all-255 activations (all-15 for the u4 kernels, whose
// byte sums of 16 entries then reach 240): 32 chunks of 128 entries, each at the int16 limit
// of the partial sums; full, half and one and a half tiles.
TEST(SparseKernels, GemmExtremeOperands) {
  for (const auto& [table, max_byte] : kSparseGemmTables)
  for (const SparseGemmKernel& kern : table) {
    if (!runnable(kern)) continue;
    const int64_t n = 3, k = 4096;
    for (int sign : {1, -1}) {
      const std::vector<int8_t> codes(n * k, static_cast<int8_t>(sign));
      const ColumnLayout layout = column_layout(k, k, kSparseBlock);
      const std::vector<int32_t> offset(k, 0);  // every column is the same 64 bytes
      const SparseRows w = pack_sparse(codes.data(), n, layout, column_order(layout, false), k, offset, "test");
      std::vector<uint8_t> at(kSparseTileLanes + 64, static_cast<uint8_t>(max_byte));
      for (size_t lanes : {64, 32, 96}) {
        std::vector<int32_t> got(n * kSparseTileLanes);
        kern.fn(at.data(), w, 0, n, 0, lanes, got.data(), kSparseTileLanes);
        for (int64_t r = 0; r < n; ++r)
          for (size_t i = 0; i < lanes; ++i)
            ASSERT_EQ(got[r * kSparseTileLanes + i], max_byte * sign * k) << kern.name << " lanes " << lanes;
      }
    }
  }
}

// The packed 4-bit sparse GEMM (two codes per byte: the low nibble a pixel of the tile's first
// half, the high nibble one of its second half) against brute force on the same shapes and
// column orders, with bytes 0x00, 0xff, 0x0f, 0xf0 and random ones; all 128 sums of a row.
TEST(SparseKernels, PackedGemmMatchesBruteForce) {
  int ran = 0;
  for (const SparseGemmKernel& kern : sparse_gemm_p4_kernels()) {
    if (!runnable(kern)) continue;
    ++ran;
    uint32_t seed = 900;
    for (const Shape& s : kShapes)
      for (double sparsity : {0.0, 0.5, 0.9, 0.99, 1.0})
        for (bool reversed : {false, true}) {
          std::mt19937 rng(seed++);
          const uint8_t fixed[] = {0xff, 0x00, 0x0f, 0xf0};
          const SparseGemmCase c = sparse_gemm_case(rng, s, sparsity, reversed, kSparseTile, [&](size_t i) {
            return i < 4 ? fixed[i] : static_cast<uint8_t>(rng());
          });
          for (size_t lanes : {size_t(64), size_t(1), size_t(33)})
            for (int64_t g = 0; g < c.layout.groups; ++g) {
              std::vector<int32_t> got(s.n * 2 * kSparseTile, 7);
              kern.fn(c.tiles.data(), c.w, 0, s.n, g, lanes, got.data(), 2 * kSparseTile);
              for (int64_t r = 0; r < s.n; ++r)
                for (size_t i = 0; i < lanes; ++i)
                  for (int half = 0; half < 2; ++half) {
                    int32_t expect = 0;
                    for (int64_t k = g * c.layout.group; k < std::min(s.k, (g + 1) * c.layout.group); ++k)
                      expect += c.codes[r * s.k + k] * ((c.col[k * c.width + i] >> (4 * half)) & 15);
                    ASSERT_EQ(got[r * 2 * kSparseTile + half * kSparseTile + i], expect)
                        << kern.name << " row " << r << " pixel " << i << " half " << half << " lanes " << lanes
                        << " sparsity " << sparsity << " segments " << c.w.segments;
                  }
            }
        }
    // Rows of one sign over K = 4096 on all-0xff bytes: byte sums of 16 entries reach 240 and
    // each chunk's int16 sums 1920.
    const int64_t n = 3, k = 4096;
    for (int sign : {1, -1}) {
      const std::vector<int8_t> codes(n * k, static_cast<int8_t>(sign));
      const ColumnLayout layout = column_layout(k, k, kSparseBlock);
      const SparseRows w =
          pack_sparse(codes.data(), n, layout, column_order(layout, false), k, std::vector<int32_t>(k, 0), "test");
      const std::vector<uint8_t> at(kSparseTile + 64, 0xff);
      std::vector<int32_t> got(n * 2 * kSparseTile);
      kern.fn(at.data(), w, 0, n, 0, kSparseTile, got.data(), 2 * kSparseTile);
      for (int32_t v : got) ASSERT_EQ(v, 15 * sign * k) << kern.name;
    }
  }
  EXPECT_GE(ran, 1);
}

// Quantizer inputs for `act`: random values over the clamp range and beyond; ties (round
// half to even), NaN, infinities and values at the clamp limits; near-ties of this scale: x
// within a few ulps of (h + 0.5) * scale, where x * (1 / scale) and x / scale can round to
// different sides (the AVX-512 NHWC kernel's exact path).
std::vector<float> quantizer_inputs(const ActQuant& act) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-400.0f, 400.0f);
  std::vector<float> x(1001);
  for (auto& v : x) v = u(rng);
  const float specials[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 254.5f, 255.5f, 126.5f, 127.5f,
                            std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY, 0.0f, -0.0f};
  std::copy(std::begin(specials), std::end(specials), x.begin());
  for (size_t i = 0; i < 300; ++i) {
    const float h = float(int(i % 150) - 20) + 0.5f;
    float v = h * act.scale;
    for (int s = 0; s < int(i / 150) * 3 + int(i % 3); ++s) v = std::nextafter(v, i % 2 ? INFINITY : -INFINITY);
    x[100 + i] = v;
  }
  return x;
}

// Scales of both kinds of reciprocal: normal, and infinite or subnormal (division only).
const ActQuant kQuantizerActs[] = {ActQuant{8, 1.0f, false, 0, 255}, ActQuant{8, 0.37f, true, -127, 127},
                                   ActQuant{4, 2.0f, false, 0, 15},  ActQuant{2, 1.0f, true, -1, 1},
                                   ActQuant{8, 0.02f, false, 0, 255}, ActQuant{8, 1e-39f, false, 0, 255},
                                   ActQuant{8, 3e38f, true, -128, 127}};

TEST(QuantizeKernels, MatchTheRuntimeQuantizer) {
  // Offsets to uint8 bytes, and -128 (int8 bytes: 8-bit unsigned codes for the dense ternary kernels).
  for (const ActQuant& act : kQuantizerActs)
    for (int32_t add : {act.is_signed ? 128 : 0, -128}) {
      const std::vector<float> x = quantizer_inputs(act);
      std::vector<uint8_t> ref(x.size());
      best_quantize(Isa::scalar).fn(x.data(), 1, x.size(), x.size(), act, add, ref.data(), x.size());
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(ref[i], uint8_t(quantize_activation(x[i], act) + add));
      for (const QuantizeKernel& kern : quantize_kernels()) {
        if (!kern.needs.met()) continue;
        for (size_t n : {size_t(1), size_t(15), size_t(17), x.size()}) {
          std::vector<uint8_t> got(n);
          kern.fn(x.data(), 1, n, n, act, add, got.data(), n);
          for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], ref[i]) << kern.name << " x=" << x[i] << " add " << add;
        }
        // Rows: 7 rows of 13 floats at stride 31 into rows of stride 19; the gaps stay untouched.
        const size_t rows = 7, cols = 13, ldx = 31, ldo = 19;
        std::vector<uint8_t> got(rows * ldo, 0xAB);
        kern.fn(x.data() + 3, rows, cols, ldx, act, add, got.data(), ldo);
        for (size_t i = 0; i < rows; ++i)
          for (size_t j = 0; j < ldo; ++j)
            ASSERT_EQ(got[i * ldo + j], j < cols ? ref[3 + i * ldx + j] : 0xAB) << kern.name << " row " << i;
      }
    }
}

// Rows of every width up to past two 64-byte vectors, at strides wider than the rows (the
// gaps, and the bytes around the rows, stay untouched).
// Every phase-dealing kernel against the definition (igemm.h DealPhasesUkernel), computed
// here, on strides 1-3 and rows shorter than, equal to and past 64 and 128 bytes; the bytes
// between phases (stride > ph pw) keep their canary.
TEST(DealPhasesKernels, MatchTheDefinitionOnOddShapes) {
  std::mt19937 rng(77);
  for (size_t sh : {1, 2, 3})
    for (size_t sw : {1, 2, 3})
      for (size_t ph : {1, 3, 7})
        for (size_t pw : {1, 15, 63, 64, 65, 100, 130}) {
          std::vector<uint8_t> plane(sh * ph * sw * pw);
          for (auto& b : plane) b = uint8_t(rng());
          const size_t stride = ph * pw + 13;
          std::vector<uint8_t> expected(sh * sw * stride, 0xA5);
          for (size_t py = 0; py < sh; ++py)
            for (size_t px = 0; px < sw; ++px)
              for (size_t i = 0; i < ph; ++i)
                for (size_t j = 0; j < pw; ++j)
                  expected[(py * sw + px) * stride + i * pw + j] = plane[(i * sh + py) * sw * pw + j * sw + px];
          for (const DealPhasesKernel& kern : deal_phases_kernels()) {
            if (!kern.needs.met()) continue;
            std::vector<uint8_t> out(expected.size(), 0xA5);
            kern.fn(plane.data(), sh, sw, ph, pw, stride, out.data());
            ASSERT_EQ(out, expected) << kern.name << " sh " << sh << " sw " << sw << " ph " << ph << " pw " << pw;
          }
        }
}

// Every plane_conv kernel against the definition, computed here from the unpacked codes:
// 1-3 channels, kernel rows of 1-7 taps (runs of 4), dilations 1-3 (up to each kernel's tap span), row
// ranges off the 8- and 16-row blocks, lanes off the 8- and 16-lane blocks, extreme bytes and
// weights.
TEST(PlaneConvKernels, MatchTheDefinitionOnOddShapes) {
  std::mt19937 rng(31);
  for (int64_t channels : {1, 2, 3})
    for (int64_t kh : {1, 3})
      for (int64_t kw : {1, 2, 3, 4, 5, 7})
        for (int64_t dil : {1, 2, 3}) {
          const int64_t rows = 21, plane = 331, wp = 29, cols = kh * kw * channels;
          std::vector<int8_t> codes(size_t(rows * cols));
          for (auto& c : codes) c = int8_t(int(rng() % 255) - 127);
          codes[0] = -127, codes[1 % codes.size()] = 127;
          const PlaneConvWeights w = pack_plane_conv(codes.data(), rows, channels, kh, kw, plane, dil * wp, dil);
          std::vector<uint8_t> at(size_t(channels * plane + 256));
          for (auto& b : at) b = uint8_t(rng());
          at[0] = 255;
          for (size_t lanes : {1, 7, 8, 9, 15, 16, 17, 64, 94, 96})
            for (auto [row0, row1] : {std::pair<size_t, size_t>{0, 21}, {3, 20}, {16, 17}, {5, 14}}) {
              const size_t ldc = 96;
              std::vector<int32_t> expected((row1 - row0) * ldc, 0);
              for (size_t r = row0; r < row1; ++r)
                for (size_t i = 0; i < lanes; ++i) {
                  int32_t sum = 0;
                  for (int64_t c = 0; c < channels; ++c)
                    for (int64_t y = 0; y < kh; ++y)
                      for (int64_t x = 0; x < kw; ++x)
                        sum += codes[r * cols + (y * kw + x) * channels + c] * at[c * plane + y * dil * wp + x * dil + i];
                  expected[(r - row0) * ldc + i] = sum;
                }
              for (const PlaneConvKernel& kern : plane_conv_kernels()) {
                if (!kern.needs.met() || (std::min<int64_t>(kw, kPlaneConvMaxTaps) - 1) * dil > plane_conv_max_tap_span(kern))
                  continue;
                std::vector<int32_t> got(expected.size(), 0);
                kern.fn(at.data(), w, row0, row1, lanes, got.data(), ldc);
                for (size_t r = 0; r < row1 - row0; ++r)
                  for (size_t i = 0; i < lanes; ++i)
                    ASSERT_EQ(got[r * ldc + i], expected[r * ldc + i])
                        << kern.name << " channels " << channels << " kernel " << kh << "x" << kw << " dilation " << dil
                        << " lanes " << lanes << " row " << row0 + r << " lane " << i;
              }
            }
        }
}

// Every 2x2 max-pool kernel against the window maximum computed here in std::max's order,
// bit for bit: widths around the 8- and 16-output steps, row strides wider than the windows,
// NaNs, infinities and both zeros among the values, and untouched gaps in the output.
TEST(MaxPool2x2Kernels, MatchStdMaxOnOddShapes) {
  std::mt19937 rng(5);
  const float special[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::infinity(), 0.0f, -0.0f, 1.0f};
  for (size_t rows : {1, 2, 5})
    for (size_t cols = 1; cols <= 37; ++cols) {
      const size_t ldx = 2 * cols + 3, ldy = cols + 2;
      std::vector<float> x(2 * rows * ldx);
      for (auto& v : x) v = rng() % 4 == 0 ? special[rng() % 6] : float(int(rng() % 7) - 3);
      std::vector<float> want(rows * ldy, 42.0f);
      for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j) {
          float m = -std::numeric_limits<float>::infinity();
          for (size_t di = 0; di < 2; ++di)
            for (size_t dj = 0; dj < 2; ++dj) m = std::max(m, x[(2 * i + di) * ldx + 2 * j + dj]);
          want[i * ldy + j] = m;
        }
      for (const MaxPool2x2Kernel& kern : max_pool_2x2_kernels()) {
        if (!kern.needs.met()) continue;
        std::vector<float> got(want.size(), 42.0f);
        kern.fn(x.data(), rows, cols, ldx, got.data(), ldy);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
            << kern.name << " rows " << rows << " cols " << cols;
      }
    }
}

TEST(CopyRowsKernels, MatchTheReferenceOnOddShapes) {
  std::mt19937 rng(9);
  for (size_t cols = 0; cols <= 140; ++cols)
    for (size_t rows : {size_t(1), size_t(3)}) {
      const size_t ldx = cols + 5, ldo = cols + 3 + cols % 7;
      std::vector<uint8_t> x(rows * ldx);
      for (auto& b : x) b = uint8_t(rng());
      for (const CopyRowsKernel& kern : copy_rows_kernels()) {
        if (!kern.needs.met()) continue;
        std::vector<uint8_t> got(rows * ldo + 2, 0xAB);
        kern.fn(x.data(), rows, cols, ldx, got.data() + 1, ldo);
        for (size_t i = 0; i < got.size(); ++i) {
          const size_t at = i - 1, row = at / ldo, j = at % ldo;
          const bool copied = i >= 1 && row < rows && j < cols;
          ASSERT_EQ(got[i], copied ? x[row * ldx + j] : uint8_t(0xAB)) << kern.name << " cols " << cols << " byte " << i;
        }
      }
    }
}

// Planes off the 16 x 16 blocks (channels, pixels across rows), wider strides than the data
// (planes, pixels, rows) with untouched gaps, offsets that wrap the bytes (-128 on signed
// codes) and the quantizer inputs above.
TEST(QuantizeNhwcKernels, MatchTheRuntimeQuantizerOnOddShapes) {
  for (const ActQuant& act : kQuantizerActs) {
    const std::vector<float> x = quantizer_inputs(act);
    for (int32_t add : {act.is_signed ? 128 : 0, -128})
      for (size_t channels : {1, 5, 16, 17, 40})
        for (auto [rows, cols] : {std::pair<size_t, size_t>{1, 1}, {3, 5}, {1, 37}, {7, 13}, {14, 14}}) {
          const size_t ldx = rows * cols + 3, ldp = channels + 2, ldo = cols * ldp + 5;
          std::vector<float> planes(channels * ldx);
          for (size_t i = 0; i < planes.size(); ++i) planes[i] = x[(i * 7 + channels) % x.size()];
          std::vector<uint8_t> ref(rows * ldo, 0xAB);
          best_quantize_nhwc(Isa::scalar).fn(planes.data(), channels, rows, cols, ldx, act, add, ref.data(), ldp, ldo);
          for (size_t i = 0; i < rows; ++i)
            for (size_t j = 0; j < ldo; ++j) {
              const size_t jj = j / ldp, c = j % ldp;
              const uint8_t want = jj < cols && c < channels
                                       ? uint8_t(quantize_activation(planes[c * ldx + i * cols + jj], act) + add)
                                       : uint8_t(0xAB);
              ASSERT_EQ(ref[i * ldo + j], want);
            }
          for (const QuantizeNhwcKernel& kern : quantize_nhwc_kernels()) {
            if (!kern.needs.met()) continue;
            std::vector<uint8_t> got(rows * ldo, 0xAB);
            kern.fn(planes.data(), channels, rows, cols, ldx, act, add, got.data(), ldp, ldo);
            ASSERT_EQ(got, ref) << kern.name << " scale " << act.scale << " add " << add << " " << channels
                                << " x " << rows << " x " << cols;
          }
        }
  }
}

}  // namespace
}  // namespace stern::kernels
