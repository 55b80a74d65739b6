// The integer layer driver (kernels/qmatmul.h) on every method and ISA against a direct
// float convolution of the fake-quantized input with the dequantized weights (the
// reference runtime's semantics, runtime/layer.h): odd channel counts, padding, stride 2,
// dilation, groups, 1x1 and 3x3, FGQ scale groups, asymmetric scales, signed and 4-bit
// activations, zero points, sparsity 0..100%.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/qmatmul.h"
#include "stern/error.h"

namespace stern::kernels {
namespace {

struct Case {
  const char* name;
  ConvGeometry g;
  int64_t group;  // scale group columns (0: one per row)
  bool asymmetric;
  ActQuant act;
};

ConvGeometry conv(int64_t c, int64_t h, int64_t w, int64_t o, int64_t k, int64_t stride,
                  int64_t pad, int64_t groups, int64_t dilation = 1) {
  ConvGeometry g;
  g.in_c = c, g.in_h = h, g.in_w = w, g.out_c = o;
  g.kernel_h = g.kernel_w = k;
  g.stride_h = g.stride_w = stride;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = pad;
  g.dilation_h = g.dilation_w = dilation;
  g.groups = groups;
  g.out_h = (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  g.out_w = (w + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  return g;
}

ConvGeometry linear(int64_t in, int64_t out) { return conv(in, 1, 1, out, 1, 1, 0, 1); }

const ActQuant kU8{8, 0.05f, false, 0, 255};
const ActQuant kS8{8, 0.03f, true, -127, 127};
const ActQuant kU4{4, 0.2f, false, 0, 15};
// Zero points (imported asymmetric activations): padding must hold the zero point's code.
const ActQuant kU8zp{8, 0.05f, false, 0, 255, 37};
const ActQuant kS8zp{8, 0.03f, true, -127, 127, -20};
const ActQuant kU4zp{4, 0.2f, false, 0, 15, 9};

const Case kCases[] = {
    {"conv3x3_pad1", conv(13, 9, 7, 19, 3, 1, 1, 1), 0, false, kU8},
    {"conv3x3_stride2", conv(16, 11, 10, 33, 3, 2, 1, 1), 0, false, kS8},
    {"conv3x3_groups", conv(12, 8, 8, 18, 3, 1, 1, 3), 0, false, kU4},
    {"conv1x1", conv(40, 5, 6, 24, 1, 1, 0, 1), 0, true, kU8},
    {"conv3x3_dilated_fgq16", conv(32, 10, 10, 17, 3, 1, 2, 1, 2), 16, false, kU8},
    {"conv3x3_fgq4_asym", conv(8, 6, 6, 9, 3, 1, 1, 1), 4, true, kS8},
    {"conv_many_pixels", conv(7, 12, 12, 5, 3, 1, 1, 1), 0, false, kU8},
    // More channels than the sparse GEMM's channel block (128): two segments, the second short.
    {"conv3x3_wide_channels", conv(201, 5, 6, 9, 3, 1, 1, 1), 0, false, kU8},
    // Dilation wider than a 64-pixel tile: sparse tiles made of dropped padding columns only.
    {"conv_dilation_wider_than_a_tile", conv(3, 2, 2, 4, 2, 1, 64, 1, 129), 0, false, kU8},
    // Channels a multiple of 16: dense layers read a padded NHWC image (no im2col rows; on
    // AMX the implicit GEMM, on AVX2 and AVX-512 the IGEMM, also at stride 2 above), with
    // padding, dilation, 1x1, and 16 / 32 channels (narrower tile steps).
    {"conv3x3_64ch_implicit", conv(64, 9, 7, 19, 3, 1, 1, 1), 0, false, kU8},
    {"conv3x3_128ch_dilated_implicit", conv(128, 6, 5, 33, 3, 1, 2, 1, 2), 0, false, kS8},
    {"conv1x1_64ch_implicit", conv(64, 5, 6, 17, 1, 1, 0, 1), 0, false, kU4},
    {"conv3x3_16ch_implicit", conv(16, 7, 7, 16, 3, 1, 1, 1), 0, false, kU8},
    {"conv3x3_32ch_implicit", conv(32, 8, 9, 20, 3, 1, 1, 1), 0, false, kS8},
    // im2col rows from the padded image: one channel (16-byte copies of 3- and 5-byte runs;
    // plane_conv on AVX2 and AVX-512, rows on the scalar ISA), a 5x5 kernel on 6 channels
    // (LeNet-5), 3 channels at stride 2 with ternary corrections.
    {"conv3x3_1ch_padded_rows", conv(1, 9, 11, 6, 3, 1, 1, 1), 0, false, kU8},
    {"conv5x5_6ch_padded_rows", conv(6, 9, 9, 16, 5, 1, 0, 1), 0, false, kS8},
    {"conv3x3_3ch_stride2_padded_rows", conv(3, 11, 9, 10, 3, 2, 1, 1), 0, false, kU4},
    // Dense layers of few input channels over channel planes (plane_conv, AVX2 and AVX-512):
    // one channel 5x5 (LeNet-5's first layer: kernel rows in runs of 4 and 1 taps), two
    // channels 4x4 dilated.
    {"conv5x5_1ch_planes", conv(1, 12, 10, 6, 5, 1, 2, 1), 0, false, kU8},
    {"conv4x4_2ch_dilated_planes", conv(2, 11, 13, 21, 4, 1, 3, 1, 2), 0, false, kS8},
    {"conv3x3_pad1_zero_point", conv(13, 9, 7, 19, 3, 1, 1, 1), 0, false, kU8zp},
    // 4-bit codes at stride 1: the sparse GEMM's packed planes (two output rows per byte); an
    // odd number of output rows, 2 and 3 of them, a dilated 5x5 kernel, more channels than a
    // block, FGQ groups with asymmetric weights, a zero point.
    {"conv3x3_odd_rows_u4", conv(20, 9, 13, 24, 3, 1, 1, 1), 0, false, kU4},
    {"conv3x3_two_rows_u4", conv(9, 2, 30, 7, 3, 1, 1, 1), 0, false, kU4},
    {"conv3x3_three_rows_u4zp", conv(17, 3, 5, 10, 3, 1, 1, 1), 0, false, kU4zp},
    {"conv5x5_dilated_u4", conv(6, 11, 12, 9, 5, 1, 4, 1, 2), 0, false, kU4},
    {"conv3x3_wide_fgq16_u4", conv(150, 6, 7, 11, 3, 1, 1, 1), 16, true, kU4zp},
    {"conv3x3_stride2_fgq16_zero_point", conv(32, 11, 10, 21, 3, 2, 1, 1), 16, true, kS8zp},
    // The sparse GEMM's k-major tiles at stride 2 with dilation and conv groups (build_tile).
    {"conv3x3_stride2_dilated_groups", conv(12, 13, 11, 10, 3, 2, 2, 2, 2), 0, false, kU8},
    {"conv3x3_64ch_implicit_zero_point", conv(64, 9, 7, 19, 3, 1, 1, 1), 0, false, kS8zp},
    {"conv3x3_1ch_padded_rows_zero_point", conv(1, 9, 11, 6, 3, 1, 1, 1), 0, false, kU4zp},
    {"linear_odd_zero_point", linear(301, 37), 0, false, kU8zp},
    {"linear_odd", linear(301, 37), 0, false, kU8},
    {"linear_fgq64", linear(256, 20), 64, true, kS8},
    {"linear_wide", linear(1000, 10), 0, false, kU4},
};

WeightMatrix random_weights(std::mt19937& rng, int64_t rows, int64_t cols, int64_t group,
                            bool asymmetric, double sparsity, bool int8) {
  WeightMatrix w;
  w.rows = rows, w.cols = cols, w.group = group ? group : cols, w.asymmetric = asymmetric;
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> v(int8 ? -127 : -1, int8 ? 127 : 1);
  w.codes.resize(rows * cols);
  for (auto& c : w.codes) {
    if (u(rng) < sparsity) continue;
    do c = static_cast<int8_t>(v(rng)); while (c == 0);
  }
  std::uniform_real_distribution<float> s(0.01f, 0.2f);
  w.scale_pos.resize(rows * w.groups_per_row());
  for (auto& x : w.scale_pos) x = s(rng);
  w.scale_neg = w.scale_pos;
  if (asymmetric)
    for (auto& x : w.scale_neg) x = s(rng);
  return w;
}

// Direct NCHW convolution in double over x_hat and w_hat; OHWI weights.
std::vector<double> reference(const WeightMatrix& w, const ConvGeometry& g, const ActQuant& act,
                              const std::vector<float>& in, int64_t batch,
                              const std::vector<float>& scale, const std::vector<float>& bias,
                              bool relu, std::vector<double>* magnitude) {
  const int64_t og = g.out_c / g.groups, cg = g.in_c / g.groups, ohw = g.out_h * g.out_w;
  std::vector<double> out(batch * g.out_c * ohw);
  magnitude->assign(out.size(), 0.0);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < g.out_c; ++o)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          double acc = 0, mag = 0;
          const int64_t grp = o / og;
          for (int64_t kh = 0; kh < g.kernel_h; ++kh)
            for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
              const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
              const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
              if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
              for (int64_t c = 0; c < cg; ++c) {
                const double x = fake_quantize_activation(
                    in[((n * g.in_c + grp * cg + c) * g.in_h + ih) * g.in_w + iw], act);
                const double wt = w.weight(o, (kh * g.kernel_w + kw) * cg + c);
                acc += x * wt;
                mag += std::abs(x * wt);
              }
            }
          double y = acc * scale[o] + bias[o];
          if (relu) y = std::max(y, 0.0);
          out[((n * g.out_c + o) * g.out_h + oh) * g.out_w + ow] = y;
          (*magnitude)[((n * g.out_c + o) * g.out_h + oh) * g.out_w + ow] = mag * std::abs(scale[o]) + std::abs(bias[o]);
        }
  return out;
}

void check(const Case& c, Method method, Isa isa, double sparsity, int64_t batch, int threads,
           uint32_t seed) {
  std::mt19937 rng(seed);
  const ConvGeometry& g = c.g;
  const int64_t cols = g.in_c / g.groups * g.kernel_h * g.kernel_w;
  const WeightMatrix w = random_weights(rng, g.out_c, cols, c.group, c.asymmetric, sparsity,
                                        method == Method::int8);
  std::vector<float> in(batch * g.in_c * g.in_h * g.in_w);
  // Inputs spanning below zero and past the clamp range, so both clamps are exercised.
  std::uniform_real_distribution<float> x(-2.0f, 14.0f);
  for (auto& v : in) v = x(rng);
  std::vector<float> scale(g.out_c), bias(g.out_c);
  std::uniform_real_distribution<float> s(0.5f, 1.5f), b(-1.0f, 1.0f);
  for (auto& v : scale) v = s(rng);
  for (auto& v : bias) v = b(rng);
  const bool relu = seed % 2;
  // Every convolution splits its image across the threads, however small; sparse ones with
  // more than 128 channels run in channel blocks, whatever the L1 (a 1-byte L1).
  IntLayer layer(w, g, c.act, scale, bias, relu, {method, isa, 0.0, 1}, c.name);
  std::vector<float> out(batch * g.out_c * g.out_h * g.out_w, NAN);
  ThreadPool pool(threads);
  layer.run(in.data(), out.data(), batch, pool);
  std::vector<double> mag;
  const std::vector<double> ref = reference(w, g, c.act, in, batch, scale, bias, relu, &mag);
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_NEAR(out[i], ref[i], 1e-5 * mag[i] + 1e-6)
        << c.name << " " << method_name(method) << " via " << layer.kernel_name(batch) << " isa "
        << isa_name(isa) << " sparsity " << sparsity << " batch " << batch << " index " << i;
}

TEST(IntLayer, MatchesFloatReferenceOnEveryMethodAndIsa) {
  uint32_t seed = 1;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512_vnni, Isa::amx}) {
    if (!cpu_features().supports(isa)) {
      std::printf("skipping %s: CPU lacks it\n", isa_name(isa));
      continue;
    }
    for (Method method : {Method::ternary_dense, Method::ternary_sparse, Method::int8})
      for (const Case& c : kCases)
        for (double sparsity : {0.0, 0.5, 0.9, 0.99, 1.0}) {
          if (method == Method::int8 && sparsity != 0.0 && sparsity != 0.9) continue;
          check(c, method, isa, sparsity, 1, 1, seed++);
        }
  }
}

TEST(IntLayer, BatchesAndThreads) {
  uint32_t seed = 500;
  for (Method method : {Method::ternary_dense, Method::ternary_sparse, Method::int8})
    for (const Case& c : kCases)
      for (int64_t batch : {1, 3, 17, 130}) {  // 17: linear layers past kTileGemmMinRows rows
        // 130: linear layers over three sparse tiles, the last of 2 rows.
        if (batch == 130 && (c.g.in_h != 1 || c.g.in_w != 1)) continue;
        for (int threads : {1, 2}) check(c, method, cpu_features().best(), 0.5, batch, threads, seed++);
      }
}

// A case's weights (for `method`) and a batch of inputs spanning both clamps.
std::pair<WeightMatrix, std::vector<float>> weights_and_input(std::mt19937& rng, const Case& c, Method method,
                                                              double sparsity, int64_t batch) {
  const ConvGeometry& g = c.g;
  WeightMatrix w = random_weights(rng, g.out_c, g.in_c / g.groups * g.kernel_h * g.kernel_w, c.group,
                                  c.asymmetric, sparsity, method == Method::int8);
  std::vector<float> in(batch * g.in_c * g.in_h * g.in_w);
  std::uniform_real_distribution<float> x(-2.0f, 14.0f);
  for (auto& v : in) v = x(rng);
  return {std::move(w), std::move(in)};
}

// The tile GEMM (AMX) computes the exact integer sums of the VNNI kernels, and a ternary
// layer's corrections turn either activation-byte convention into the same exact sum of
// q * w: the outputs are the VNNI layer's bit for bit, not merely close.
TEST(IntLayer, TileGemmLayersEqualTheVnniLayersBitForBit) {
  if (!cpu_features().supports(Isa::amx)) GTEST_SKIP() << "the CPU lacks AMX-INT8 (or Linux's permission)";
  uint32_t seed = 900;
  int on_tiles = 0;
  for (Method method : {Method::ternary_dense, Method::int8})
    for (const Case& c : kCases)
      for (int64_t batch : {1, 17}) {
        std::mt19937 rng(seed++);
        const ConvGeometry& g = c.g;
        const auto [w, in] = weights_and_input(rng, c, method, 0.3, batch);
        const std::vector<float> scale(g.out_c, 0.7f), bias(g.out_c, 0.1f);
        std::vector<float> out[2];
        std::string names[2];
        for (int i = 0; i < 2; ++i) {
          IntLayer layer(w, g, c.act, scale, bias, false, {method, i ? Isa::amx : Isa::avx512_vnni}, c.name);
          out[i].assign(batch * g.out_c * g.out_h * g.out_w, NAN);
          ThreadPool pool(1);
          layer.run(in.data(), out[i].data(), batch, pool);
          names[i] = layer.kernel_name(batch);
        }
        on_tiles += names[0] != names[1];
        for (size_t i = 0; i < out[0].size(); ++i)
          ASSERT_EQ(out[0][i], out[1][i]) << c.name << " " << method_name(method) << " batch " << batch
                                          << ": " << names[0] << " vs " << names[1] << " index " << i;
      }
  EXPECT_GT(on_tiles, 20);  // most convolutions, and the linear layers at batch 17
}

// Every ISA's layer gives the scalar layer's outputs bit for bit: the integer sums are exact
// on every kernel, and the quantizer and epilogue kernels reproduce the scalar
// float operations (no FMA, the same rounding and NaN handling). Includes the 14x14 maps
// whose sparse runs are 14-pixel rows and inputs at quantization ties, NaN and infinities.
TEST(IntLayer, EveryIsaGivesTheScalarLayersBits) {
  std::vector<Case> cases(std::begin(kCases), std::end(kCases));
  cases.push_back({"conv3x3_14x14_wide", conv(160, 14, 14, 40, 3, 1, 1, 1), 0, false, kU8});
  cases.push_back({"conv3x3_14x14_implicit", conv(128, 14, 14, 40, 3, 1, 1, 1), 0, false, kU8});
  uint32_t seed = 1300;
  for (Method method : {Method::ternary_dense, Method::ternary_sparse, Method::int8})
    for (const Case& c : cases)
      for (int64_t batch : {1, 3}) {
        std::mt19937 rng(seed++);
        const ConvGeometry& g = c.g;
        auto [w, in] = weights_and_input(rng, c, method, 0.8, batch);
        for (size_t i = 0; i < in.size(); i += 7) in[i] = (float(i % 41) + 0.5f) * c.act.scale;  // ties
        in[0] = NAN, in[in.size() / 2] = INFINITY, in[in.size() - 1] = -INFINITY;
        std::vector<float> scale(g.out_c), bias(g.out_c);
        std::uniform_real_distribution<float> s(0.5f, 1.5f), b(-1.0f, 1.0f);
        for (auto& v : scale) v = s(rng);
        for (auto& v : bias) v = b(rng);
        const bool relu = seed % 2;
        std::vector<float> ref;
        for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512_vnni, Isa::amx}) {
          if (!cpu_features().supports(isa)) continue;
          IntLayer layer(w, g, c.act, scale, bias, relu, {method, isa}, c.name);
          std::vector<float> out(batch * g.out_c * g.out_h * g.out_w, 7.0f);
          ThreadPool pool(1);
          layer.run(in.data(), out.data(), batch, pool);
          if (isa == Isa::scalar) {
            ref = out;
            continue;
          }
          ASSERT_EQ(std::memcmp(out.data(), ref.data(), out.size() * sizeof(float)), 0)
              << c.name << " " << method_name(method) << " batch " << batch << " via "
              << layer.kernel_name(batch) << " isa " << isa_name(isa);
        }
      }
}

// The codes of x (batch images of channels x h x w floats) in format f, each image's bytes
// from the start of its float slot; every other byte of the slot holds f.add (the planes'
// padding).
std::vector<float> codes_of(const std::vector<float>& x, int64_t batch, int64_t channels, int64_t h, int64_t w,
                            const CodeFormat& f) {
  std::vector<float> buf(x.size());
  auto* all = reinterpret_cast<uint8_t*>(buf.data());
  std::fill(all, all + buf.size() * sizeof(float), uint8_t(f.add));
  for (int64_t n = 0; n < batch; ++n) {
    auto* bytes = reinterpret_cast<uint8_t*>(buf.data() + n * channels * h * w);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t i = 0; i < w; ++i)
          bytes[code_offset(f, channels, h, w, c, y, i)] =
              static_cast<uint8_t>(quantize_activation(x[((n * channels + c) * h + y) * w + i], f.act) + f.add);
  }
  return buf;
}

// Planes in which a sparse stride-1 convolution of geometry g can write its output: rows at
// its padded input width, the dropped columns split between left and right padding.
CodeFormat planes_for(const ConvGeometry& g, const ActQuant& act, int32_t add) {
  const int64_t wp = g.in_w + g.pad_left + g.pad_right, left = (wp - g.out_w) / 2;
  return CodeFormat{act, add, CodeLayout::planes, wp, ((g.out_h + 2) * wp + 63) / 64 * 64 + 64, wp + left};
}

// Codes between layers, every method as reader and as writer, split across 2 threads however
// small (each thread then copies the sparse planes for itself): a reader given its input as
// codes in any of its formats gives the outputs it gives from the floats, bit for bit; a
// writer asked for codes writes those the reader's quantizer makes of its float outputs, in
// each layout (the planes whole, padding included, over a buffer of other bytes).
TEST(IntLayer, CodesBetweenLayersAreTheFloatRoundTrip) {
  uint32_t seed = 1700;
  int readers[3] = {0, 0, 0}, writers[3] = {0, 0, 0};
  for (Method method : {Method::ternary_dense, Method::ternary_sparse, Method::int8})
    for (const Case& c : kCases)
      for (int64_t batch : {1, 3})
        for (int threads : {1, 2}) {
          std::mt19937 rng(seed++);
          const ConvGeometry& g = c.g;
          const auto [w, in] = weights_and_input(rng, c, method, 0.8, batch);
          const std::vector<float> scale(g.out_c, 0.7f), bias(g.out_c, 0.1f);
          const IntLayerOptions split{method, cpu_features().best(), 0.0};
          const std::string what = std::string(c.name) + " " + method_name(method) + " batch " +
                                   std::to_string(batch) + " threads " + std::to_string(threads);
          ThreadPool pool(threads);
          IntLayer plain(w, g, c.act, scale, bias, true, split, c.name);
          const int64_t ohw = g.out_h * g.out_w;
          std::vector<float> want(batch * g.out_c * ohw);
          plain.run(in.data(), want.data(), batch, pool);
          for (const CodeFormat& f : plain.code_inputs()) {
            IntLayer reader(w, g, c.act, scale, bias, true, split, c.name);
            reader.take_codes(f);
            const std::vector<float> codes = codes_of(in, batch, g.in_c, g.in_h, g.in_w, f);
            std::vector<float> got(want.size(), NAN);
            reader.run(codes.data(), got.data(), batch, pool);
            ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0)
                << what << " reading codes (layout " << int(f.layout) << ") via " << reader.kernel_name(batch);
            ++readers[int(f.layout)];
          }
          const CodeFormat planes = planes_for(g, kU8, 0);
          for (const CodeFormat& f : {CodeFormat{kU8, 0, CodeLayout::nchw}, CodeFormat{kS8, 128, CodeLayout::nhwc}, planes}) {
            IntLayer writer(w, g, c.act, scale, bias, true, split, c.name);
            const int64_t slot = g.out_c * ohw * int64_t(sizeof(float));
            // What the writer writes per image: the codes, or the whole planes up to the next
            // plane's first code.
            const int64_t bytes = f.layout == CodeLayout::planes ? g.out_c * f.plane_stride + f.origin : g.out_c * ohw;
            if (bytes > slot || !writer.emit_codes(f)) continue;
            std::vector<float> got(want.size());
            std::memset(got.data(), 0xab, got.size() * sizeof(float));  // no byte is f.add
            writer.run(in.data(), got.data(), batch, pool);
            const std::vector<float> expect = codes_of(want, batch, g.out_c, g.out_h, g.out_w, f);
            for (int64_t n = 0; n < batch; ++n)
              ASSERT_EQ(std::memcmp(got.data() + n * g.out_c * ohw, expect.data() + n * g.out_c * ohw, size_t(bytes)), 0)
                  << what << " writing codes (layout " << int(f.layout) << "), image " << n;
            ++writers[int(f.layout)];
          }
        }
  EXPECT_GT(readers[int(CodeLayout::nhwc)], 20);    // dense readers
  EXPECT_GT(readers[int(CodeLayout::nchw)], 20);    // sparse readers, copying the planes
  EXPECT_GT(readers[int(CodeLayout::planes)], 10);  // sparse readers of the writer's planes
  EXPECT_GT(writers[int(CodeLayout::nchw)] + writers[int(CodeLayout::nhwc)], 100);
  EXPECT_GT(writers[int(CodeLayout::planes)], 10);  // sparse stride-1 writers
}

TEST(IntLayer, RejectsWhatItCannotRun) {
  WeightMatrix w;
  w.rows = 2, w.cols = 3, w.group = 3;
  w.codes = {2, 0, 0, 0, 0, 0};
  w.scale_pos = w.scale_neg = {1.0f, 1.0f};
  EXPECT_FALSE(IntLayer::supports(w, kU8, Method::ternary_dense));
  EXPECT_TRUE(IntLayer::supports(w, kU8, Method::int8));
  EXPECT_FALSE(IntLayer::supports(w, ActQuant{12, 1.0f, false, 0, 4095}, Method::int8));
  const std::vector<float> ones(2, 1.0f);
  const IntLayerOptions sparse{Method::ternary_sparse, Isa::scalar};
  EXPECT_THROW(IntLayer(w, linear(3, 2), kU8, ones, ones, false, sparse, "node 'fc'"), Error);
  // Codes in a format the layer does not list (a dense convolution reads NHWC, not planes; a
  // linear layer no codes at all) are refused, and the layer still runs from floats.
  WeightMatrix t = w;
  t.codes = {1, 0, -1, 0, 1, 0};
  const ConvGeometry g = conv(3, 4, 4, 2, 1, 1, 0, 1);
  IntLayer dense(t, g, kU8, ones, ones, false, {Method::ternary_dense, Isa::scalar}, "node 'conv'");
  ASSERT_EQ(dense.code_inputs().size(), 1u);
  EXPECT_THROW(dense.take_codes(CodeFormat{kU8, 0, CodeLayout::planes}), Error);
  IntLayer fc(t, linear(3, 2), kU8, ones, ones, false, {Method::ternary_dense, Isa::scalar}, "node 'fc'");
  EXPECT_TRUE(fc.code_inputs().empty());
  EXPECT_THROW(fc.take_codes(CodeFormat{kU8, 0, CodeLayout::nhwc}), Error);
  const std::vector<float> x(3 * 4 * 4, 0.5f);
  std::vector<float> want(2 * 4 * 4), got(want.size());
  ThreadPool pool(1);
  IntLayer(t, g, kU8, ones, ones, false, {Method::ternary_dense, Isa::scalar}, "node 'conv'").run(x.data(), want.data(), 1, pool);
  dense.run(x.data(), got.data(), 1, pool);
  EXPECT_EQ(got, want);
}

// The sparse GEMM addresses its activation planes by int32 byte offsets: a convolution whose
// planes would pass 2 GiB is refused when the layer is made, naming it; one below is made.
TEST(IntLayer, RejectsSparsePlanesPast2GiB) {
  WeightMatrix w;
  w.rows = 1, w.cols = 1024, w.group = 1024;
  w.codes.assign(1024, 0);
  w.codes[5] = 1;
  w.scale_pos = w.scale_neg = {1.0f};
  const std::vector<float> one(1, 1.0f);
  const IntLayerOptions sparse{Method::ternary_sparse, Isa::scalar};
  // 1024 planes of 1500 x 1500 bytes: 2.3 GB.
  try {
    IntLayer(w, conv(1024, 1500, 1500, 1, 1, 1, 0, 1), kU8, one, one, false, sparse, "node 'big'");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 'big'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 GiB"), std::string::npos) << e.what();
  }
  // 1024 planes of 1000 x 1000 bytes: 1.0 GB.
  EXPECT_NO_THROW(IntLayer(w, conv(1024, 1000, 1000, 1, 1, 1, 0, 1), kU8, one, one, false, sparse, "node 'ok'"));
}

}  // namespace
}  // namespace stern::kernels
