// Whole models through the Session: the integer providers (automatic choice and each
// kernel_override) against SessionOptions::reference_only, the dequantizing f32 path.
// The model mixes every integer encoding, FGQ groups, asymmetric scales, a folded
// BatchNorm, fused ReLU, stride 2, and 8-bit unsigned, 4-bit and signed activations, two of
// them with zero points.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "kernels/igemm.h"
#include "kernels/quantized_model.h"
#include "runtime/reference.h"
#include "stern/encoding.h"

namespace stern {
namespace {

using test::Dims;
using test::GraphBuilder;
using test::act_attrs;

Tensor quantized(const std::string& name, Encoding e, Dims shape, int64_t group, bool asym,
                 double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  WeightMatrix m;
  m.rows = shape[0];
  m.cols = test::numel(shape) / shape[0];
  m.group = group ? group : m.cols;
  m.asymmetric = asym;
  const int hi = e == Encoding::i8 ? 127 : 1;
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> v(-hi, hi);
  m.codes.resize(m.rows * m.cols);
  for (auto& c : m.codes)
    if (u(rng) >= sparsity) do c = static_cast<int8_t>(v(rng)); while (c == 0);
  test::random_scales(m, rng);
  return Tensor::from_bytes(name, e, std::move(shape), encoding_traits(e).pack(m));
}

Graph model() {
  GraphBuilder b;
  b.input("x", {-1, 3, 12, 12});
  b.g.tensors.push_back(quantized("w1", Encoding::ternary2, {16, 3, 3, 3}, 0, false, 0.3, 1));
  b.tensor("b1", {16}, test::random_floats(16, 2));
  b.tensor("bn_scale", {16}, test::random_floats(16, 3, 0.5f, 1.5f));
  b.tensor("bn_bias", {16}, test::random_floats(16, 4));
  b.tensor("bn_mean", {16}, test::random_floats(16, 5));
  b.tensor("bn_var", {16}, test::random_floats(16, 6, 0.5f, 2.0f));
  b.g.tensors.push_back(quantized("w2", Encoding::ternary_sparse, {24, 3, 3, 16}, 16, true, 0.9, 7));
  b.g.tensors.push_back(quantized("w3", Encoding::i8, {32, 24 * 6 * 6}, 0, false, 0.0, 8));
  b.g.tensors.push_back(quantized("w4", Encoding::ternary2, {10, 32}, 16, false, 0.5, 9));
  b.tensor("b4", {10}, test::random_floats(10, 10));
  b.node(OpType::conv2d, "conv1", {"x", "w1", "b1"}, "c1",
         act_attrs(8, 0.02, false, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  b.node(OpType::batch_norm, "bn1", {"c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"}, "n1",
         {{"epsilon", 1e-5}});
  b.node(OpType::relu, "relu1", {"n1"}, "r1");
  b.node(OpType::conv2d, "conv2", {"r1", "w2"}, "c2",
         act_attrs(4, 0.15, false, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}},
                                    {"act_zero_point", int64_t{3}}}));
  b.node(OpType::flatten, "flat", {"c2"}, "f");
  b.node(OpType::linear, "fc1", {"f", "w3"}, "h", act_attrs(8, 0.05, true));
  b.node(OpType::relu, "relu2", {"h"}, "hr");
  b.node(OpType::linear, "fc2", {"hr", "w4", "b4"}, "y", act_attrs(8, 0.1, false, {{"act_zero_point", int64_t{90}}}));
  return b.done({"y"});
}

TEST(IntModel, MatchesTheReferenceRuntime) {
  const Graph g = model();
  // Batch 17: the int8 linear layer past kTileGemmMinRows rows (the tile GEMM on a CPU with
  // one; the convolutions have 144 and 36 pixels, so they take it at any batch).
  for (int64_t batch : {1, 3, 17}) {
    const FloatTensor x = test::random_tensor({batch, 3, 12, 12}, 11 + batch);
    Session reference(g, test::options(1, true));
    const FloatTensor want = reference.run({x})[0];
    for (const char* kernel : {"", "ternary_dense", "ternary_sparse", "int8"})
      for (int threads : {1, 2}) {
        Session s(g, test::options(threads, false, kernel));
        const FloatTensor got = s.run({x})[0];
        EXPECT_LT(test::max_rel_diff(got, want), 1e-5)
            << "override '" << kernel << "' threads " << threads << " batch " << batch;
      }
  }
}

TEST(IntModel, QuantizedLayersRunOnIntegerKernels) {
  Session s(model(), test::options(1));
  int integer = 0;
  for (const LayerPlan& p : s.plan()) {
    if (p.op.rfind("conv2d", 0) != 0 && p.op.rfind("linear", 0) != 0) continue;
    EXPECT_EQ(p.kernel.find("f32"), std::string::npos) << p.node << " ran on " << p.kernel;
    ++integer;
  }
  EXPECT_EQ(integer, 4);
  Session reference(model(), test::options(1, true));
  for (const LayerPlan& p : reference.plan()) {
    if (p.op.rfind("conv2d", 0) == 0 || p.op.rfind("linear", 0) == 0) {
      EXPECT_NE(p.kernel.find("f32"), std::string::npos) << p.node;
    }
  }
}

// Integer convolutions in a chain (conv -> conv -> conv, the middle one int8 with a zero
// point, the last stride 2 with signed 4-bit input), then one whose output has two readers.
Graph chain_model() {
  GraphBuilder b;
  b.input("x", {-1, 16, 10, 10});
  b.g.tensors.push_back(quantized("w1", Encoding::ternary2, {32, 3, 3, 16}, 0, false, 0.3, 21));
  b.tensor("bn_scale", {32}, test::random_floats(32, 22, 0.5f, 1.5f));
  b.tensor("bn_bias", {32}, test::random_floats(32, 23));
  b.tensor("bn_mean", {32}, test::random_floats(32, 24));
  b.tensor("bn_var", {32}, test::random_floats(32, 25, 0.5f, 2.0f));
  b.g.tensors.push_back(quantized("w2", Encoding::i8, {32, 3, 3, 32}, 0, false, 0.0, 26));
  b.g.tensors.push_back(quantized("w3", Encoding::ternary2, {16, 3, 3, 32}, 0, false, 0.5, 27));
  b.g.tensors.push_back(quantized("w4", Encoding::ternary2, {8, 1, 1, 16}, 0, false, 0.3, 28));
  b.g.tensors.push_back(quantized("w5", Encoding::ternary2, {4, 16 * 5 * 5}, 0, false, 0.3, 29));
  const Attributes pad1{{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  b.node(OpType::conv2d, "conv1", {"x", "w1"}, "c1", act_attrs(8, 0.01, false, pad1));
  b.node(OpType::batch_norm, "bn1", {"c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"}, "n1", {{"epsilon", 1e-5}});
  b.node(OpType::relu, "relu1", {"n1"}, "r1");
  Attributes zp = act_attrs(8, 0.02, false, pad1);
  zp["act_zero_point"] = int64_t{7};
  b.node(OpType::conv2d, "conv2", {"r1", "w2"}, "c2", zp);
  Attributes s2 = act_attrs(4, 0.5, true, pad1);
  s2["strides"] = std::vector<int64_t>{2, 2};
  b.node(OpType::conv2d, "conv3", {"c2", "w3"}, "c3", s2);
  b.node(OpType::relu, "relu3", {"c3"}, "r3");
  b.node(OpType::conv2d, "conv4", {"r3", "w4"}, "y", act_attrs(8, 0.05, false));
  b.node(OpType::flatten, "flat", {"r3"}, "f");
  b.node(OpType::linear, "fc", {"f", "w5"}, "z", act_attrs(8, 0.05, false));
  return b.done({"y", "z"});
}

TEST(IntModel, RequantizedHandOffGivesTheFloatRoundTripsBits) {
  const Graph g = chain_model();
  std::map<std::string, LayerPlan> plan = test::plan_of(g, "");
  // conv1 and conv2 write their reader's codes; conv3's output has two readers (conv4, flat)
  // and conv4's is a graph output.
  EXPECT_EQ(plan["conv1"].op, "conv2d+batch_norm+relu+requantize");
  EXPECT_EQ(plan["conv2"].op, "conv2d+requantize");
  EXPECT_EQ(plan["conv3"].op, "conv2d+relu");
  EXPECT_EQ(plan["conv4"].op, "conv2d");
  test::expect_hand_off_is_the_round_trip(g, {1, 16, 10, 10}, 31, "", true);
}

// A chain of 3x3 "same" convolutions conv1, conv2, ... (a ReLU after those that ask for
// one); layer i's weights seeded 40 + i.
struct ChainConv {
  Encoding encoding;
  int64_t out_c;
  double sparsity;
  int act_bits;
  double act_scale;
  bool act_signed;
  int64_t zero_point = 0;
  bool relu = false;
};
Graph conv_chain(const Dims& input, const std::vector<ChainConv>& convs) {
  GraphBuilder b;
  b.input("x", input);
  const Attributes pad1{{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  std::string in = "x";
  int64_t in_c = input[1];
  for (size_t i = 0; i < convs.size(); ++i) {
    const ChainConv& c = convs[i];
    const std::string n = std::to_string(i + 1), w = "w" + n;
    b.g.tensors.push_back(quantized(w, c.encoding, {c.out_c, 3, 3, in_c}, 0, false, c.sparsity, uint32_t(40 + i)));
    Attributes attrs = act_attrs(c.act_bits, c.act_scale, c.act_signed, pad1);
    if (c.zero_point) attrs["act_zero_point"] = c.zero_point;
    const std::string out = i + 1 == convs.size() ? "y" : "c" + n;
    b.node(OpType::conv2d, "conv" + n, {in, w}, c.relu ? "p" + n : out, attrs);
    if (c.relu) b.node(OpType::relu, "relu" + n, {"p" + n}, out);
    in = out, in_c = c.out_c;
  }
  return b.done({"y"});
}

// Sparse convolutions in the hand-off (the "ternary_sparse" override puts every ternary
// layer on the sparse GEMM): sparse to sparse (conv1 writes conv2's padded planes in place),
// sparse to dense int8 (NHWC) and dense int8 to sparse (NCHW), the readers stride 1; zero
// points and signed 4-bit codes.
TEST(IntModel, SparseConvolutionsHandOffCodes) {
  const Graph g = conv_chain({-1, 16, 9, 11}, {{Encoding::ternary2, 32, 0.9, 8, 0.01, false, 0, true},
                                               {Encoding::ternary2, 24, 0.8, 8, 0.02, false, 5},
                                               {Encoding::i8, 16, 0.0, 8, 0.03, true},
                                               {Encoding::ternary2, 8, 0.7, 4, 0.4, true}});
  std::map<std::string, LayerPlan> plan = test::plan_of(g, "ternary_sparse");
  EXPECT_EQ(plan["conv1"].op, "conv2d+relu+requantize");
  EXPECT_EQ(plan["conv2"].op, "conv2d+requantize");
  EXPECT_EQ(plan["conv3"].op, "conv2d+requantize");
  EXPECT_EQ(plan["conv4"].op, "conv2d");
  for (const char* sparse : {"conv1", "conv2", "conv4"})
    EXPECT_NE(plan[sparse].kernel.find("tsparse"), std::string::npos) << sparse << " ran " << plan[sparse].kernel;
  EXPECT_EQ(plan["conv3"].kernel.find("tsparse"), std::string::npos) << plan["conv3"].kernel;
  test::expect_hand_off_is_the_round_trip(g, {1, 16, 9, 11}, 51, "ternary_sparse", true);
}

// 4-bit sparse convolutions in a chain (packed planes on AVX-512, and under STERN_ISA=scalar):
// a packed writer hands NCHW codes to a packed reader (its own lanes are numbered by halves,
// so it declines the reader's planes), the second one also with a zero point; an 8-bit
// sparse writer then hands the last, 4-bit one its planes in place, which it packs. At 11 x
// 13 a tile's two halves are not consecutive pixels (rows 0-4 and 6-10 of the first tile).
TEST(IntModel, PackedSparseConvolutionsHandOffCodes) {
  const Graph g = conv_chain({-1, 12, 11, 13}, {{Encoding::ternary2, 20, 0.8, 4, 0.3, false, 0, true},
                                                {Encoding::ternary2, 16, 0.85, 4, 0.2, false, 3},
                                                {Encoding::ternary2, 16, 0.9, 8, 0.05, true},
                                                {Encoding::ternary2, 8, 0.9, 4, 0.4, true}});
  std::map<std::string, LayerPlan> plan = test::plan_of(g, "ternary_sparse");
  EXPECT_EQ(plan["conv1"].op, "conv2d+relu+requantize");
  EXPECT_EQ(plan["conv2"].op, "conv2d+requantize");
  EXPECT_EQ(plan["conv3"].op, "conv2d+requantize");
  const bool packed = kernels::best_sparse_gemm_p4(cpu_features().best()) != nullptr;
  for (const char* four_bit : {"conv1", "conv2", "conv4"})
    EXPECT_EQ(plan[four_bit].kernel.find("p4") != std::string::npos, packed) << four_bit << " ran " << plan[four_bit].kernel;
  test::expect_hand_off_is_the_round_trip(g, {1, 12, 11, 13}, 71, "ternary_sparse", true);
}

}  // namespace
}  // namespace stern
