// Every runtime operator against the naive references of reference.cpp, on odd shapes:
// odd channels, stride 2, asymmetric padding, dilation, groups incl. depthwise, 1x1 and
// 3x3, ceil_mode, count_include_pad, broadcasting. Each case runs with the automatic kernels
// on 2 threads and with reference_only on 1 thread.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/reference.h"
#include "stern/runtime.h"

namespace stern::test {
namespace {

using Ints = std::vector<int64_t>;

std::vector<FloatTensor> run_both(const Graph& g, const std::vector<FloatTensor>& inputs) {
  Session fast(g, options(2));
  Session ref(g, options(1, true));
  std::vector<FloatTensor> a = fast.run(inputs), b = ref.run(inputs);
  EXPECT_EQ(a.size(), b.size());
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void expect_matches(const Graph& g, const std::vector<FloatTensor>& inputs,
                    const FloatTensor& want, const std::string& what, double tol = 2e-6) {
  for (const FloatTensor& got : run_both(g, inputs)) {
    ASSERT_EQ(got.shape, want.shape) << what;
    EXPECT_LT(max_rel_diff(got, want), tol) << what;
  }
}

struct ConvCase {
  const char* name;
  Ints x;          // N, C, H, W
  int64_t out, kh, kw;
  ConvParams p;
  bool bias;
};

TEST(RuntimeOps, Conv2dMatchesNaive) {
  const ConvCase cases[] = {
      {"1x1 direct", {2, 5, 7, 9}, 7, 1, 1, {}, true},
      {"3x3 pad 1", {2, 3, 11, 13}, 5, 3, 3, {1, 1, 1, 1, 1, 1}, true},
      {"3x3 stride 2 asymmetric pads", {1, 7, 10, 9}, 6, 3, 3, {2, 2, 1, 0, 2, 1}, false},
      {"dilation 2", {2, 4, 12, 12}, 3, 3, 3, {1, 1, 2, 2, 2, 2, 2, 2}, true},
      {"groups 3", {2, 6, 8, 7}, 9, 3, 3, {1, 1, 1, 1, 1, 1, 1, 1, 3}, true},
      {"depthwise stride 2", {3, 5, 9, 9}, 5, 3, 3, {2, 2, 1, 1, 1, 1, 1, 1, 5}, true},
      {"depthwise dilated asymmetric", {1, 7, 10, 11}, 7, 3, 3, {1, 2, 2, 1, 1, 0, 2, 1, 7}, false},
      {"depthwise multiplier 2", {2, 4, 8, 8}, 8, 3, 3, {1, 1, 1, 1, 1, 1, 1, 1, 4}, true},
      {"1x1 stride 2", {2, 6, 9, 9}, 4, 1, 1, {2, 2}, true},
      {"1x1 groups 2 direct", {2, 6, 5, 5}, 4, 1, 1, {1, 1, 0, 0, 0, 0, 1, 1, 2}, true},
      {"5x5 lenet", {3, 1, 28, 28}, 6, 5, 5, {}, true},
      {"batch 1 column split", {1, 16, 20, 20}, 24, 3, 3, {1, 1, 1, 1, 1, 1}, true},
      {"batch 1 row split", {1, 32, 3, 3}, 70, 3, 3, {1, 1, 1, 1, 1, 1}, true},
      {"rectangular 1x3", {2, 3, 6, 11}, 4, 1, 3, {1, 2, 0, 1, 0, 1}, true},
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    const Ints ws = {c.out, c.kh, c.kw, c.x[1] / c.p.groups};
    const Floats w = random_floats(numel(ws), ++seed), b = random_floats(c.out, ++seed);
    GraphBuilder gb;
    gb.input("x", {-1, c.x[1], c.x[2], c.x[3]}).tensor("w", ws, w);
    std::vector<std::string> ins = {"x", "w"};
    if (c.bias) gb.tensor("b", {c.out}, b), ins.push_back("b");
    gb.node(OpType::conv2d, "conv", ins, "y",
            {{"strides", Ints{c.p.stride_h, c.p.stride_w}},
             {"pads", Ints{c.p.pad_top, c.p.pad_left, c.p.pad_bottom, c.p.pad_right}},
             {"dilations", Ints{c.p.dilation_h, c.p.dilation_w}},
             {"groups", int64_t(c.p.groups)}});
    const FloatTensor x = random_tensor(c.x, ++seed);
    expect_matches(gb.done({"y"}), {x}, conv2d_ref(x, w, ws, c.bias ? b : Floats{}, c.p), c.name);
  }
}

TEST(RuntimeOps, LinearMatchesNaive) {
  const Ints cases[][3] = {{{3}, {37}, {19}}, {{1}, {300}, {70}}, {{5}, {1}, {1}}, {{64}, {50}, {33}}};
  uint32_t seed = 100;
  for (const auto& c : cases) {
    const int64_t n = c[0][0], in = c[1][0], out = c[2][0];
    const Floats w = random_floats(out * in, ++seed), b = random_floats(out, ++seed);
    Graph g = GraphBuilder()
                  .input("x", {-1, in})
                  .tensor("w", {out, in}, w)
                  .tensor("b", {out}, b)
                  .node(OpType::linear, "fc", {"x", "w", "b"}, "y")
                  .done({"y"});
    const FloatTensor x = random_tensor({n, in}, ++seed);
    expect_matches(g, {x}, linear_ref(x, w, out, b), "linear " + std::to_string(in));
  }
}

TEST(RuntimeOps, StandaloneBatchNormAndReluMatchNaive) {
  for (const Ints& shape : {Ints{2, 3, 4, 5}, Ints{4, 6}}) {
    const int64_t c = shape[1];
    const Floats s = random_floats(c, 1), b = random_floats(c, 2), m = random_floats(c, 3),
                 v = random_floats(c, 4, 0.1f, 2.0f);
    Ints free = shape;
    free[0] = -1;
    Graph g = GraphBuilder()
                  .input("x", free)
                  .tensor("s", {c}, s).tensor("b", {c}, b).tensor("m", {c}, m).tensor("v", {c}, v)
                  .node(OpType::batch_norm, "bn", {"x", "s", "b", "m", "v"}, "h", {{"epsilon", 1e-3}})
                  .node(OpType::relu, "relu", {"h"}, "y")
                  .done({"y"});
    const FloatTensor x = random_tensor(shape, 5);
    expect_matches(g, {x}, relu_ref(batch_norm_ref(x, s, b, m, v, 1e-3)), "bn+relu");
  }
}

struct PoolCase {
  const char* name;
  Ints x;
  PoolParams p;
};

TEST(RuntimeOps, PoolsMatchNaive) {
  const PoolCase cases[] = {
      {"k3 s2 p1 ceil", {2, 3, 7, 9}, {3, 3, 2, 2, 1, 1, 1, 1, true, false}},
      {"k3 s2 p1 ceil incl pad", {2, 3, 7, 9}, {3, 3, 2, 2, 1, 1, 1, 1, true, true}},
      {"k2 s2", {1, 5, 8, 8}, {2, 2, 2, 2}},
      {"k2 s2 odd sizes (last row and column dropped)", {2, 3, 9, 7}, {2, 2, 2, 2}},
      {"k2 s2 ceil odd sizes (clipped windows)", {1, 2, 7, 5}, {2, 2, 2, 2, 0, 0, 0, 0, true, false}},
      {"k3 s2 ceil overhang", {2, 2, 6, 6}, {3, 3, 2, 2, 0, 0, 0, 0, true, true}},
      {"k3x2 s1x2 asym pads incl", {1, 3, 5, 7}, {3, 2, 1, 2, 1, 0, 2, 1, false, true}},
      {"k3x2 s1x2 asym pads excl", {1, 3, 5, 7}, {3, 2, 1, 2, 1, 0, 2, 1, false, false}},
  };
  uint32_t seed = 200;
  for (const PoolCase& c : cases) {
    const FloatTensor x = random_tensor(c.x, ++seed);
    for (OpType op : {OpType::max_pool, OpType::avg_pool}) {
      Attributes attrs = {{"kernel", Ints{c.p.kernel_h, c.p.kernel_w}},
                          {"strides", Ints{c.p.stride_h, c.p.stride_w}},
                          {"pads", Ints{c.p.pad_top, c.p.pad_left, c.p.pad_bottom, c.p.pad_right}},
                          {"ceil_mode", int64_t(c.p.ceil_mode)}};
      if (op == OpType::avg_pool) attrs["count_include_pad"] = int64_t(c.p.count_include_pad);
      Graph g = GraphBuilder()
                    .input("x", {-1, c.x[1], c.x[2], c.x[3]})
                    .node(op, "pool", {"x"}, "y", attrs)
                    .done({"y"});
      const FloatTensor want = op == OpType::max_pool ? max_pool_ref(x, c.p) : avg_pool_ref(x, c.p);
      expect_matches(g, {x}, want, std::string(op_name(op)) + " " + c.name);
    }
  }
}

// max_pool keeps std::max's order over each window (row by row): a NaN never wins over a
// number (an all-NaN window gives -inf), and of +0 and -0 the first stays. The 2x2 stride-2
// kernel and the generic windows (here: a ceil_mode overhang) must agree on that.
TEST(RuntimeOps, MaxPoolSkipsNaNAndKeepsTheFirstZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Two rows of four: windows {nan, 1, 2, nan}, {-0, +0, +0, -0} / ceil adds none for 2x4.
  const Floats row0 = {nan, 1.0f, -0.0f, 0.0f, nan, nan};
  const Floats row1 = {2.0f, nan, 0.0f, -0.0f, nan, nan};
  Floats data = row0;
  data.insert(data.end(), row1.begin(), row1.end());
  const FloatTensor x{{1, 1, 2, 6}, data};
  for (int64_t ceil_mode : {0, 1}) {
    Graph g = GraphBuilder()
                  .input("x", {-1, 1, 2, 6})
                  .node(OpType::max_pool, "pool", {"x"}, "y",
                        {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", ceil_mode}})
                  .done({"y"});
    const FloatTensor y = Session(g, options(1)).run({x})[0];
    ASSERT_EQ(y.data.size(), 3u);
    EXPECT_EQ(y.data[0], 2.0f);
    EXPECT_EQ(y.data[1], 0.0f);
    EXPECT_TRUE(std::signbit(y.data[1])) << "the window's first zero is -0";
    EXPECT_EQ(y.data[2], -inf);
  }
  // A ceil_mode overhang (2x5 input: the last window is clipped) goes through the generic
  // windows; its full windows must equal the 2x2 kernel's.
  const FloatTensor x5{{1, 1, 2, 5}, {nan, 1.0f, -0.0f, 0.0f, 3.0f, 2.0f, nan, 0.0f, -0.0f, nan}};
  Graph g = GraphBuilder()
                .input("x", {-1, 1, 2, 5})
                .node(OpType::max_pool, "pool", {"x"}, "y",
                      {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t(1)}})
                .done({"y"});
  const FloatTensor y5 = Session(g, options(1)).run({x5})[0];
  ASSERT_EQ(y5.data.size(), 3u);
  EXPECT_EQ(y5.data[0], 2.0f);
  EXPECT_TRUE(y5.data[1] == 0.0f && std::signbit(y5.data[1]));
  EXPECT_EQ(y5.data[2], 3.0f);
}

TEST(RuntimeOps, GlobalAvgPoolFlattenSoftmaxMatchNaive) {
  const FloatTensor x = random_tensor({3, 5, 7, 6}, 300);
  Graph g = GraphBuilder()
                .input("x", {-1, 5, 7, 6})
                .node(OpType::global_avg_pool, "gap", {"x"}, "p")
                .node(OpType::flatten, "flat", {"p"}, "f")
                .node(OpType::softmax, "sm", {"f"}, "y")
                .done({"y", "p"});
  FloatTensor pooled = global_avg_pool_ref(x);
  FloatTensor flat{{3, 5}, pooled.data};
  const auto got = run_both(g, {x});
  for (size_t i = 0; i < got.size(); i += 2) {
    EXPECT_LT(max_rel_diff(got[i], softmax_ref(flat, -1)), 1e-6);
    EXPECT_LT(max_rel_diff(got[i + 1], pooled), 1e-6);
  }
  // Softmax over a middle axis.
  const FloatTensor z = random_tensor({2, 4, 3}, 301);
  Graph g2 = GraphBuilder()
                 .input("z", {-1, 4, 3})
                 .node(OpType::softmax, "sm", {"z"}, "y", {{"axis", int64_t(1)}})
                 .done({"y"});
  expect_matches(g2, {z}, softmax_ref(z, 1), "softmax axis 1");
}

TEST(RuntimeOps, AddBroadcastsLikeNumpy) {
  struct Case {
    Ints a, b;
  };
  const Case cases[] = {{{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {3, 1, 1}},
                        {{2, 1, 4, 1}, {1, 3, 1, 5}}, {{2, 3, 1}, {7}}};
  uint32_t seed = 400;
  for (const Case& c : cases) {
    const FloatTensor a = random_tensor(c.a, ++seed), b = random_tensor(c.b, ++seed);
    // b as a second graph input (fixed shape) and as a constant tensor.
    Graph g1 = GraphBuilder().input("a", c.a).input("b", c.b)
                   .node(OpType::add, "add", {"a", "b"}, "y").done({"y"});
    expect_matches(g1, {a, b}, add_ref(a, b), "add inputs");
    Graph g2 = GraphBuilder().input("a", c.a).tensor("b", c.b, b.data)
                   .node(OpType::add, "add", {"a", "b"}, "y").done({"y"});
    expect_matches(g2, {a}, add_ref(a, b), "add constant");
  }
}

TEST(RuntimeOps, ConcatAlongChannelsAndLastAxis) {
  const FloatTensor a = random_tensor({2, 3, 4, 5}, 500), b = random_tensor({2, 1, 4, 5}, 501),
                    c = random_tensor({2, 2, 4, 5}, 502);
  Graph g = GraphBuilder().input("a", {-1, 3, 4, 5}).input("b", {-1, 1, 4, 5}).input("c", {-1, 2, 4, 5})
                .node(OpType::concat, "cat", {"a", "b", "c"}, "y", {{"axis", int64_t(1)}})
                .done({"y"});
  expect_matches(g, {a, b, c}, concat_ref({a, b, c}, 1), "concat axis 1");
  const FloatTensor d = random_tensor({2, 3, 4, 2}, 503);
  Graph g2 = GraphBuilder().input("a", {-1, 3, 4, 5}).input("d", {-1, 3, 4, 2})
                 .node(OpType::concat, "cat", {"a", "d"}, "y", {{"axis", int64_t(-1)}})
                 .done({"y"});
  expect_matches(g2, {a, d}, concat_ref({a, d}, 3), "concat axis -1");
}

}  // namespace
}  // namespace stern::test
