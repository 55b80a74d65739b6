// Whole signed-binary and binary models through the Session: the "signed_binary" and
// "binary" providers (runtime/binary_layers.cpp) against SessionOptions::reference_only, the
// dequantizing f32 path. The models have odd channel counts, stride 2, symmetric and
// asymmetric padding, a grouped and a 1x1 convolution, a folded BatchNorm, fused ReLU,
// asymmetric binary scales, and 8-bit unsigned, 8-bit signed and 4-bit activations.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "kernels/qmatmul.h"
#include "kernels/quantized_model.h"
#include "runtime/int_layers.h"
#include "runtime/reference.h"
#include "stern/cpu_features.h"
#include "stern/encoding.h"

namespace stern {
namespace {

using test::Dims;
using test::GraphBuilder;
using test::act_attrs;

// signed_binary: each filter one random sign, zeros at `sparsity`; binary: random +-1.
Tensor weights(const std::string& name, Encoding e, Dims shape, double sparsity, bool asym,
               uint32_t seed, int64_t group = 0) {
  std::mt19937 rng(seed);
  WeightMatrix m;
  m.rows = shape[0];
  m.cols = test::numel(shape) / shape[0];
  m.group = group ? group : m.cols;
  m.asymmetric = asym;
  std::bernoulli_distribution zero(sparsity), coin(0.5);
  m.codes.resize(size_t(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    const int8_t sign = coin(rng) ? 1 : -1;
    for (int64_t c = 0; c < m.cols; ++c)
      m.codes[size_t(r * m.cols + c)] = e == Encoding::binary ? (coin(rng) ? 1 : -1) : zero(rng) ? 0 : sign;
  }
  test::random_scales(m, rng);
  return Tensor::from_bytes(name, e, std::move(shape), encoding_traits(e).pack(m));
}

// conv 3x3 stride 2 pad 1 (+BN, ReLU) -> grouped conv 3x3 asymmetric pads (signed int8
// input) -> conv 1x1 (4-bit input) -> flatten -> linear.
Graph model(Encoding e) {
  const double sparsity = e == Encoding::signed_binary ? 0.69 : 0.0;
  GraphBuilder b;
  b.input("x", {-1, 5, 11, 9});
  b.g.tensors.push_back(weights("w1", e, {9, 3, 3, 5}, sparsity, false, 1));
  b.tensor("b1", {9}, test::random_floats(9, 2));
  b.tensor("bn_scale", {9}, test::random_floats(9, 3, 0.5f, 1.5f));
  b.tensor("bn_bias", {9}, test::random_floats(9, 4));
  b.tensor("bn_mean", {9}, test::random_floats(9, 5));
  b.tensor("bn_var", {9}, test::random_floats(9, 6, 0.5f, 2.0f));
  b.g.tensors.push_back(weights("w2", e, {15, 3, 3, 3}, sparsity, e == Encoding::binary, 7));
  b.tensor("b2", {15}, test::random_floats(15, 8));
  b.g.tensors.push_back(weights("w3", e, {7, 1, 1, 15}, sparsity, false, 9));
  b.g.tensors.push_back(weights("w4", e, {10, 7 * 6 * 4}, sparsity, false, 10));
  b.tensor("b4", {10}, test::random_floats(10, 11));
  b.node(OpType::conv2d, "conv1", {"x", "w1", "b1"}, "c1",
         act_attrs(8, 0.02, false, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}}));
  b.node(OpType::batch_norm, "bn1", {"c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"}, "n1",
         {{"epsilon", 1e-5}});
  b.node(OpType::relu, "relu1", {"n1"}, "r1");
  b.node(OpType::conv2d, "conv2", {"r1", "w2", "b2"}, "c2",
         act_attrs(8, 0.03, true, {{"pads", std::vector<int64_t>{1, 0, 1, 1}}, {"groups", int64_t(3)}}));
  b.node(OpType::conv2d, "conv3", {"c2", "w3"}, "c3", act_attrs(4, 0.2, false));
  b.node(OpType::flatten, "flat", {"c3"}, "f");
  b.node(OpType::linear, "fc", {"f", "w4", "b4"}, "y", act_attrs(8, 0.05, false));
  return b.done({"y"});
}

int64_t argmax(const FloatTensor& t, int64_t row) {
  const int64_t n = t.shape[1];
  const auto first = t.data.begin() + row * n;
  return std::max_element(first, first + n) - first;
}

void expect_matches_reference(const Graph& g, const Dims& input, const std::vector<std::string>& kernels,
                              const std::vector<int64_t>& batches = {1, 3}) {
  for (int64_t batch : batches) {
    Dims shape = input;
    shape[0] = batch;
    const FloatTensor x = test::random_tensor(shape, uint32_t(11 + batch));
    Session reference(g, test::options(1, true));
    const FloatTensor want = reference.run({x})[0];
    for (const std::string& kernel : kernels)
      for (int threads : {1, 2}) {
        Session s(g, test::options(threads, false, kernel));
        const FloatTensor got = s.run({x})[0];
        EXPECT_LT(test::max_rel_diff(got, want), 1e-5)
            << "override '" << kernel << "' threads " << threads << " batch " << batch;
        if (got.shape.size() == 2) {
          for (int64_t r = 0; r < batch; ++r) EXPECT_EQ(argmax(got, r), argmax(want, r)) << "row " << r;
        }
      }
  }
}

// Every conv2d / linear of `g` runs on `family` ("signed_binary" / "binary") when that
// provider is forced (automatically, convolutions may go to the AMX tile GEMM instead: the
// test below); returns the kernel names.
std::vector<std::string> expect_family(const Graph& g, const std::string& family) {
  Session s(g, test::options(1, false, family));
  std::vector<std::string> names;
  for (const LayerPlan& p : s.plan()) {
    if (p.op.rfind("conv2d", 0) != 0 && p.op.rfind("linear", 0) != 0) continue;
    EXPECT_EQ(p.kernel.rfind(family + ":", 0), 0u) << p.node << " ran on " << p.kernel;
    names.push_back(p.kernel);
  }
  return names;
}

TEST(BinaryLayers, SignedBinaryModelMatchesTheReferenceRuntime) {
  const Graph g = model(Encoding::signed_binary);
  EXPECT_EQ(expect_family(g, "signed_binary").size(), 4u);
  expect_matches_reference(g, {1, 5, 11, 9}, {"", "signed_binary"});
}

TEST(BinaryLayers, BinaryModelMatchesTheReferenceRuntime) {
  const Graph g = model(Encoding::binary);
  EXPECT_EQ(expect_family(g, "binary").size(), 4u);
  expect_matches_reference(g, {1, 5, 11, 9}, {"", "binary"});
}

// Layers wide enough for the lut method (sbin::choose_method: >= 96 filters at 69% sparsity,
// >= 201 dense, and a full block of rows): its tables, the bitmap tail rows, and the split
// of rows between threads at batch 3.
TEST(BinaryLayers, LutLayersMatchTheReferenceRuntime) {
  for (Encoding e : {Encoding::signed_binary, Encoding::binary}) {
    const bool sb = e == Encoding::signed_binary;
    const int64_t filters = sb ? 131 : 211;
    GraphBuilder b;
    b.input("x", {-1, 13, 9, 9});
    b.g.tensors.push_back(weights("w", e, {filters, 3, 3, 13}, sb ? 0.69 : 0.0, !sb, 21));
    b.tensor("b", {filters}, test::random_floats(size_t(filters), 22));
    b.node(OpType::conv2d, "conv", {"x", "w", "b"}, "y",
           act_attrs(8, 0.01, false, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"activation", std::string("relu")}}));
    const Graph g = b.done({"y"});
    const std::vector<std::string> names = expect_family(g, sb ? "signed_binary" : "binary");
    ASSERT_EQ(names.size(), 1u);
    EXPECT_NE(names[0].find(":lut:"), std::string::npos) << names[0];
    expect_matches_reference(g, {1, 13, 9, 9}, {""});
  }
}

// A batch larger than one slab of rows (binary_layers.cpp: kSlabRows = 2048): 1089 output
// pixels per image, so batch 3 runs as three slabs; and a linear layer at batch 70, wide
// enough for lut, whose rows split between the threads (at batch 1, in the other tests, it
// runs the ternary GEMV).
TEST(BinaryLayers, LargeBatchesMatchTheReferenceRuntime) {
  for (Encoding e : {Encoding::signed_binary, Encoding::binary}) {
    const bool sb = e == Encoding::signed_binary;
    GraphBuilder b;
    b.input("x", {-1, 3, 33, 33});
    b.g.tensors.push_back(weights("w1", e, {7, 3, 3, 3}, sb ? 0.5 : 0.0, false, 41));
    b.g.tensors.push_back(weights("w2", e, {211, 7}, sb ? 0.69 : 0.0, false, 42));
    b.tensor("b2", {211}, test::random_floats(211, 43));
    b.node(OpType::conv2d, "conv", {"x", "w1"}, "c",
           act_attrs(8, 0.01, false, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    b.node(OpType::global_avg_pool, "gap", {"c"}, "p");
    b.node(OpType::flatten, "flat", {"p"}, "f");
    b.node(OpType::linear, "fc", {"f", "w2", "b2"}, "y", act_attrs(8, 0.05, true));
    const Graph g = b.done({"y"});
    const std::vector<std::string> names = expect_family(g, sb ? "signed_binary" : "binary");
    ASSERT_EQ(names.size(), 2u);
    EXPECT_NE(names[1].find(":ternary_gemv:"), std::string::npos) << names[1];  // batch 1
    EXPECT_NE(names[1].find("lut from"), std::string::npos) << names[1];        // batch 70
    expect_matches_reference(g, {1, 3, 33, 33}, {""}, {3, 70});
  }
}

// The automatic choice: linear layers stay on the bitmap providers; convolutions go to the
// ternary provider where bitmap_conv_defers says (tested on its own below). model()'s
// signed-binary conv3 (7 filters, 31% dense) is one it runs on its sparse GEMM on either cost
// table (a dense tile of 16 or 64 channels would mostly compute nothing); conv1, at stride 2,
// pays for dealing its input planes out to their phases, and the model's pick between the two
// methods is a close call (Ice Lake: 1.3 us dense, 1.1-1.2 sparse).
TEST(BinaryLayers, ConvolutionsGoToTheTernaryProviderWhereItIsFaster) {
  // On AMX the tile GEMM's dense rate (~1.5 TMAC/s) takes conv3 too.
  const bool amx = cpu_features().supports(Isa::amx);
  for (Encoding e : {Encoding::signed_binary, Encoding::binary}) {
    const Graph g = model(e);
    const std::string family = e == Encoding::signed_binary ? "signed_binary" : "binary";
    Session s(g, test::options(1));
    int convs = 0;
    for (const LayerPlan& p : s.plan()) {
      if (p.op.rfind("conv2d", 0) == 0) {
        ++convs;
        if (e == Encoding::signed_binary && p.node == "conv3")
          EXPECT_EQ(p.kernel.rfind(amx ? "ternary_dense:" : "ternary_sparse:", 0), 0u) << p.node << " ran on "
                                                                                        << p.kernel;
        else
          EXPECT_TRUE(p.kernel.rfind("ternary", 0) == 0 || p.kernel.rfind(family + ":", 0) == 0) << p.kernel;
      } else if (p.op.rfind("linear", 0) == 0) {
        EXPECT_EQ(p.kernel.rfind(family + ":", 0), 0u) << p.node << " ran on " << p.kernel;
      }
    }
    EXPECT_EQ(convs, 3);
  }
}

// The rule itself, against the measurements of its comments (int_layers.cpp, qmatmul.cpp).
TEST(BinaryLayers, DeferralFollowsTheMeasurements) {
  const auto conv = [](int64_t c_in, int64_t c_out, int64_t hw) {
    ConvGeometry g;
    g.in_c = c_in, g.out_c = c_out, g.in_h = g.in_w = g.out_h = g.out_w = hw;
    g.kernel_h = g.kernel_w = 3, g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    return g;
  };
  const double dense69 = 0.31;  // 69% sparse
  // Sparse GEMM on any ISA for small layers; on AVX2 (sparse from ~41%) for the big ones too.
  for (Isa isa : {Isa::avx2, Isa::avx512_vnni}) {
    EXPECT_TRUE(bitmap_conv_defers(conv(16, 16, 28), 144, dense69, isa, false)) << isa_name(isa);
    EXPECT_TRUE(bitmap_conv_defers(conv(32, 32, 14), 288, dense69, isa, false)) << isa_name(isa);
  }
  EXPECT_TRUE(bitmap_conv_defers(conv(256, 256, 14), 2304, dense69, Isa::avx2, false));
  // One VNNI port (Zen 4): lut stays, 1.27x faster than the dense ternary GEMM there.
  EXPECT_FALSE(bitmap_conv_defers(conv(256, 256, 14), 2304, dense69, Isa::avx512_vnni, false));
}

// On two VNNI ports, by the measurements of kernels::bitmap_conv_runs_as_int8 (Ice Lake): the
// int8 GEMM while the weights fit L2, lut / bitmap for 512->512 (2.4 MB of int8 weights), and
// never with one port (Zen 4: lut 1.27x faster than the int8 GEMM at 256->256).
TEST(BinaryLayers, TwoVnniPortsTakeTheInt8GemmWhileItsWeightsFitL2) {
  if (!cpu_features().supports(Isa::avx512_vnni) || cpu_features().supports(Isa::amx))
    GTEST_SKIP() << "needs AVX-512 VNNI without AMX";
  const auto conv = [](int64_t c_in, int64_t c_out, int64_t hw) {
    ConvGeometry g;
    g.in_c = c_in, g.out_c = c_out, g.in_h = g.in_w = g.out_h = g.out_w = hw;
    g.kernel_h = g.kernel_w = 3, g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    return g;
  };
  const Isa vnni = Isa::avx512_vnni;
  for (const ConvGeometry& g : {conv(16, 16, 28), conv(64, 64, 56), conv(128, 128, 28), conv(256, 256, 14)}) {
    EXPECT_TRUE(kernels::bitmap_conv_runs_as_int8(g, vnni, true)) << g.in_c << "->" << g.out_c;
    EXPECT_FALSE(kernels::bitmap_conv_runs_as_int8(g, vnni, false)) << g.in_c << "->" << g.out_c;
  }
  EXPECT_FALSE(kernels::bitmap_conv_runs_as_int8(conv(512, 512, 14), vnni, true));
  EXPECT_FALSE(kernels::bitmap_conv_runs_as_int8(conv(512, 512, 7), vnni, true));
  EXPECT_FALSE(kernels::bitmap_conv_runs_as_int8(conv(256, 256, 14), Isa::avx2, true));
}

// What the bitmap kernels do not take falls through to the next provider: per-group scales
// and activation zero points (to "ternary") and float activations (to "f32").
TEST(BinaryLayers, UnsupportedLayersFallThrough) {
  GraphBuilder b;
  b.input("x", {-1, 32});
  b.g.tensors.push_back(weights("w1", Encoding::signed_binary, {8, 32}, 0.5, false, 31, 16));
  b.g.tensors.push_back(weights("w3", Encoding::signed_binary, {6, 8}, 0.5, false, 33));
  b.g.tensors.push_back(weights("w2", Encoding::binary, {5, 6}, 0.0, false, 32));
  b.node(OpType::linear, "fgq", {"x", "w1"}, "h", act_attrs(8, 0.02, false));
  b.node(OpType::linear, "zero_point", {"h", "w3"}, "z", act_attrs(8, 0.05, false, {{"act_zero_point", int64_t{40}}}));
  b.node(OpType::linear, "float_in", {"z", "w2"}, "y");
  const Graph g = b.done({"y"});
  Session s(g, test::options(1, false, "signed_binary"));
  for (const LayerPlan& p : s.plan()) {
    EXPECT_EQ(p.kernel.find("binary:"), std::string::npos) << p.node << " ran on " << p.kernel;
  }
  expect_matches_reference(g, {1, 32}, {"", "signed_binary", "binary"});
}

// Bitmap convolutions in the codes hand-off: conv1 writes conv2's codes (grouped, signed
// int8), conv2 conv3's (1x1, 4-bit); conv3's output goes to a flatten.
TEST(BinaryLayers, RequantizedHandOffGivesTheFloatRoundTripsBits) {
  for (Encoding e : {Encoding::signed_binary, Encoding::binary}) {
    const std::string family = e == Encoding::binary ? "binary" : "signed_binary";
    const Graph g = model(e);
    std::map<std::string, LayerPlan> plan = test::plan_of(g, family);
    EXPECT_EQ(plan["conv1"].op, "conv2d+batch_norm+relu+requantize") << family;
    EXPECT_EQ(plan["conv2"].op, "conv2d+requantize") << family;
    EXPECT_EQ(plan["conv3"].op, "conv2d") << family;
    test::expect_hand_off_is_the_round_trip(g, {1, 5, 11, 9}, 41, family, false);
  }
}

// Bitmap and integer layers hand codes to each other: a signed-binary conv writes a sparse
// ternary conv's NCHW planes, which writes the next signed-binary conv's NHWC codes.
TEST(BinaryLayers, HandOffBetweenBitmapAndIntegerLayers) {
  GraphBuilder b;
  b.input("x", {-1, 12, 9, 10});
  b.g.tensors.push_back(weights("w1", Encoding::signed_binary, {16, 3, 3, 12}, 0.69, false, 51));
  b.g.tensors.push_back(weights("w3", Encoding::signed_binary, {6, 3, 3, 16}, 0.69, false, 53));
  {
    std::mt19937 rng(52);
    WeightMatrix m;
    m.rows = 16, m.cols = 3 * 3 * 16, m.group = m.cols;
    std::bernoulli_distribution zero(0.9), coin(0.5);
    m.codes.resize(size_t(m.rows * m.cols));
    for (auto& c : m.codes) c = zero(rng) ? 0 : coin(rng) ? 1 : -1;
    // Random scales: a round scale such as 0.1 puts conv2's outputs on exact quantization
    // ties of conv3's codes, which the reference's float GEMM and the integer epilogue
    // resolve apart.
    test::random_scales(m, rng);
    b.g.tensors.push_back(Tensor::from_bytes("w2", Encoding::ternary2, {16, 3, 3, 16}, encoding_traits(Encoding::ternary2).pack(m)));
  }
  const Attributes pad1{{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  b.node(OpType::conv2d, "conv1", {"x", "w1"}, "c1", act_attrs(8, 0.02, false, pad1));
  b.node(OpType::relu, "relu1", {"c1"}, "r1");
  b.node(OpType::conv2d, "conv2", {"r1", "w2"}, "c2", act_attrs(8, 0.03, false, pad1));
  b.node(OpType::conv2d, "conv3", {"c2", "w3"}, "y", act_attrs(8, 0.05, true, pad1));
  const Graph g = b.done({"y"});
  // "signed_binary" forced: conv1 and conv3 on the bitmap kernels; conv2's ternary weights go
  // to the ternary provider, which picks the sparse GEMM at 90% (16 channels), or on AMX the
  // tile GEMM's implicit convolution.
  std::map<std::string, LayerPlan> plan = test::plan_of(g, "signed_binary");
  const bool amx = cpu_features().supports(Isa::amx);
  EXPECT_NE(plan["conv2"].kernel.find(amx ? "i8_conv_32x32__amx" : "tsparse_gemm"), std::string::npos)
      << plan["conv2"].kernel;
  EXPECT_EQ(plan["conv1"].kernel.rfind("signed_binary:", 0), 0u) << plan["conv1"].kernel;
  EXPECT_EQ(plan["conv3"].kernel.rfind("signed_binary:", 0), 0u) << plan["conv3"].kernel;
  EXPECT_EQ(plan["conv1"].op, "conv2d+relu+requantize");
  EXPECT_EQ(plan["conv2"].op, "conv2d+requantize");
  test::expect_hand_off_is_the_round_trip(g, {1, 12, 9, 10}, 41, "signed_binary", false);
  const FloatTensor x = test::random_tensor({2, 12, 9, 10}, 61);
  EXPECT_LT(test::max_rel_diff(Session(g, test::options(2, false, "signed_binary")).run({x})[0],
                               Session(g, test::options(1, true)).run({x})[0]),
            1e-5);
}

}  // namespace
}  // namespace stern
