// Session-level behaviour: BatchNorm folding and ReLU fusion, buffer reuse on a graph with
// branches and a residual add, batch changes, 1 vs 2 threads, the fake-quantized
// activation path with quantized weights, and clear errors on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "runtime/reference.h"
#include "stern/encoding.h"
#include "stern/error.h"
#include "stern/runtime.h"

namespace stern::test {
namespace {

using Ints = std::vector<int64_t>;

struct Bn {
  Floats scale, bias, mean, var;
  explicit Bn(int64_t c, uint32_t seed)
      : scale(random_floats(c, seed, 0.5f, 1.5f)), bias(random_floats(c, seed + 1)),
        mean(random_floats(c, seed + 2)), var(random_floats(c, seed + 3, 0.2f, 2.0f)) {}
  void add_to(GraphBuilder& gb, const std::string& p) const {
    const int64_t c = int64_t(scale.size());
    gb.tensor(p + "_s", {c}, scale).tensor(p + "_b", {c}, bias).tensor(p + "_m", {c}, mean)
        .tensor(p + "_v", {c}, var);
  }
  std::vector<std::string> inputs(const std::string& x, const std::string& p) const {
    return {x, p + "_s", p + "_b", p + "_m", p + "_v"};
  }
  FloatTensor apply(const FloatTensor& x) const { return batch_norm_ref(x, scale, bias, mean, var, 1e-5); }
};

std::vector<std::string> plan_ops(const Session& s) {
  std::vector<std::string> ops;
  for (const LayerPlan& p : s.plan()) ops.push_back(p.op);
  return ops;
}

Attributes conv_attrs(int64_t stride, int64_t pad) {
  return {{"strides", Ints{stride, stride}}, {"pads", Ints{pad, pad, pad, pad}}};
}

TEST(Session, FoldsBatchNormAndFusesReluIntoConvAndLinear) {
  const Ints ws = {5, 3, 3, 3};
  const Floats w = random_floats(numel(ws), 1), b = random_floats(5, 2);
  const Floats fw = random_floats(4 * 45, 3);
  const Bn bn1(5, 10), bn2(4, 20);
  GraphBuilder gb;
  gb.input("x", {-1, 3, 6, 6}).tensor("w", ws, w).tensor("b", {5}, b).tensor("fw", {4, 45}, fw);
  bn1.add_to(gb, "bn1");
  bn2.add_to(gb, "bn2");
  gb.node(OpType::conv2d, "conv", {"x", "w", "b"}, "c", conv_attrs(1, 1))
      .node(OpType::batch_norm, "bn1", bn1.inputs("c", "bn1"), "n")
      .node(OpType::relu, "relu", {"n"}, "r")
      .node(OpType::max_pool, "pool", {"r"}, "p", {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}})
      .node(OpType::flatten, "flat", {"p"}, "f")
      .node(OpType::linear, "fc", {"f", "fw"}, "l")
      .node(OpType::batch_norm, "bn2", bn2.inputs("l", "bn2"), "y");
  const Graph g = gb.done({"y"});
  Session s(g, options(2));
  EXPECT_EQ(plan_ops(s), (std::vector<std::string>{"conv2d+batch_norm+relu", "max_pool", "flatten",
                                                    "linear+batch_norm"}));
  const FloatTensor x = random_tensor({2, 3, 6, 6}, 4);
  PoolParams pool{2, 2, 2, 2};
  FloatTensor p = max_pool_ref(relu_ref(bn1.apply(conv2d_ref(x, w, ws, b, {1, 1, 1, 1, 1, 1}))), pool);
  p.shape = {2, 45};
  const FloatTensor want = bn2.apply(linear_ref(p, fw, 4, {}));
  EXPECT_LT(max_rel_diff(s.run({x})[0], want), 2e-6);
}

TEST(Session, DoesNotFuseAcrossValuesWithOtherReaders) {
  const Ints ws = {4, 1, 1, 3};
  const Floats w = random_floats(12, 1);
  const Bn bn(4, 30);
  GraphBuilder gb;
  gb.input("x", {-1, 3, 5, 5}).tensor("w", ws, w);
  bn.add_to(gb, "bn");
  gb.node(OpType::conv2d, "conv", {"x", "w"}, "c")
      .node(OpType::batch_norm, "bn", bn.inputs("c", "bn"), "n")
      .node(OpType::relu, "relu", {"n"}, "r");
  // "c" is also a graph output and "n" also feeds the add: neither may be fused away.
  gb.node(OpType::add, "add", {"n", "r"}, "y");
  const Graph g = gb.done({"y", "c"});
  Session s(g, options(1));
  EXPECT_EQ(plan_ops(s), (std::vector<std::string>{"conv2d", "batch_norm", "relu", "add"}));
  const FloatTensor x = random_tensor({3, 3, 5, 5}, 2);
  const FloatTensor c = conv2d_ref(x, w, ws, {}, {});
  const FloatTensor n = bn.apply(c);
  const auto out = s.run({x});
  EXPECT_LT(max_rel_diff(out[0], add_ref(n, relu_ref(n))), 2e-6);
  EXPECT_LT(max_rel_diff(out[1], c), 2e-6);
}

// A ResNet-style block with branches: stem conv, two-conv residual branch added to the
// stem, a strided 1x1 projection next to a pooled branch, concat, head. `c` channels on a
// `hw` x `hw` input.
struct ResidualNet {
  int64_t c, hw;
  Ints w1s = {c, 3, 3, 3}, w2s = {c, 3, 3, c}, w3s = {c, 3, 3, c}, w4s = {6, 1, 1, c};
  Floats w1 = random_floats(numel(w1s), 1), w2 = random_floats(numel(w2s), 2),
         w3 = random_floats(numel(w3s), 3), w4 = random_floats(numel(w4s), 4);
  Floats b1 = random_floats(c, 5), b4 = random_floats(6, 6);
  Floats fw = random_floats(10 * (6 + c), 7), fb = random_floats(10, 8);
  Bn bn2{c, 40}, bn3{c, 50};

  explicit ResidualNet(int64_t channels = 8, int64_t size = 9) : c(channels), hw(size) {}

  Graph graph() const {
    GraphBuilder gb;
    gb.input("x", {-1, 3, hw, hw}).tensor("w1", w1s, w1).tensor("b1", {c}, b1).tensor("w2", w2s, w2)
        .tensor("w3", w3s, w3).tensor("w4", w4s, w4).tensor("b4", {6}, b4)
        .tensor("fw", {10, 6 + c}, fw).tensor("fb", {10}, fb);
    bn2.add_to(gb, "bn2");
    bn3.add_to(gb, "bn3");
    gb.node(OpType::conv2d, "stem", {"x", "w1", "b1"}, "s", conv_attrs(1, 1))
        .node(OpType::relu, "stem_relu", {"s"}, "a")
        .node(OpType::conv2d, "c2", {"a", "w2"}, "c2", conv_attrs(1, 1))
        .node(OpType::batch_norm, "bn2", bn2.inputs("c2", "bn2"), "n2")
        .node(OpType::relu, "r2", {"n2"}, "h")
        .node(OpType::conv2d, "c3", {"h", "w3"}, "c3", conv_attrs(1, 1))
        .node(OpType::batch_norm, "bn3", bn3.inputs("c3", "bn3"), "n3")
        .node(OpType::add, "residual", {"n3", "a"}, "sum")
        .node(OpType::relu, "r3", {"sum"}, "blk")
        .node(OpType::conv2d, "proj", {"blk", "w4", "b4"}, "pr", conv_attrs(2, 0))
        .node(OpType::max_pool, "pool", {"blk"}, "pl",
              {{"kernel", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}})
        .node(OpType::concat, "cat", {"pr", "pl"}, "cat", {{"axis", int64_t(1)}})
        .node(OpType::global_avg_pool, "gap", {"cat"}, "g")
        .node(OpType::flatten, "flat", {"g"}, "f")
        .node(OpType::linear, "fc", {"f", "fw", "fb"}, "y");
    return gb.done({"y"});
  }

  FloatTensor reference(const FloatTensor& x) const {
    const ConvParams same{1, 1, 1, 1, 1, 1};
    const FloatTensor a = relu_ref(conv2d_ref(x, w1, w1s, b1, same));
    const FloatTensor h = relu_ref(bn2.apply(conv2d_ref(a, w2, w2s, {}, same)));
    const FloatTensor blk = relu_ref(add_ref(bn3.apply(conv2d_ref(h, w3, w3s, {}, same)), a));
    const FloatTensor pr = conv2d_ref(blk, w4, w4s, b4, {2, 2});
    const FloatTensor pl = max_pool_ref(blk, {3, 3, 2, 2, 1, 1, 1, 1});
    FloatTensor g = global_avg_pool_ref(concat_ref({pr, pl}, 1));
    g.shape = {g.shape[0], 6 + c};
    return linear_ref(g, fw, 10, fb);
  }
};

TEST(Session, ResidualGraphWithBufferReuseMatchesNaive) {
  const ResidualNet net;
  Session s(net.graph(), options(2));
  const FloatTensor x = random_tensor({4, 3, 9, 9}, 60);
  EXPECT_LT(max_rel_diff(s.run({x})[0], net.reference(x)), 5e-6);
  // Reuse is real: after fusion the values are x, 5 maps of 8x9x9 (a, h, n3, sum, blk),
  // pr, pl, cat, g, f and y; the arena holds far less than all of them side by side.
  const Session::Memory m = s.memory(4);
  EXPECT_EQ(m.values_bytes, 4 * sizeof(float) * (243 + 5 * 648 + 150 + 200 + 350 + 14 + 14 + 10));
  EXPECT_LT(m.arena_bytes, m.values_bytes * 6 / 10);
  EXPECT_GT(m.scratch_bytes, 0u);
  // A second run on different data reuses the same buffers and still agrees.
  const FloatTensor x2 = random_tensor({4, 3, 9, 9}, 61);
  EXPECT_LT(max_rel_diff(s.run({x2})[0], net.reference(x2)), 5e-6);
}

// run(inputs, outputs) writes graph outputs straight into the caller's vectors and reads
// inputs where they are: the same results as run(inputs), the same buffers from call to
// call, and outputs that later steps also read or that are graph inputs.
TEST(Session, RunIntoOutputsReusesTheCallersBuffers) {
  const ResidualNet net;
  Session s(net.graph(), options(2));
  std::vector<FloatTensor> out;
  const FloatTensor x = random_tensor({4, 3, 9, 9}, 81);
  s.run({x}, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_LT(max_rel_diff(out[0], net.reference(x)), 5e-6);
  EXPECT_EQ(out[0].data, s.run({x})[0].data);
  const float* buffer = out[0].data.data();
  const FloatTensor x2 = random_tensor({4, 3, 9, 9}, 82);
  s.run({x2}, out);
  EXPECT_EQ(out[0].data.data(), buffer);
  EXPECT_LT(max_rel_diff(out[0], net.reference(x2)), 5e-6);
  const FloatTensor x3 = random_tensor({1, 3, 9, 9}, 83);
  s.run({x3}, out);
  EXPECT_EQ(out[0].shape, (Ints{1, 10}));
  EXPECT_LT(max_rel_diff(out[0], net.reference(x3)), 5e-6);

  const Ints ws = {4, 1, 1, 3};
  const Floats w = random_floats(12, 1);
  GraphBuilder gb;
  gb.input("x", {-1, 3, 5, 5}).tensor("w", ws, w);
  gb.node(OpType::conv2d, "conv", {"x", "w"}, "c").node(OpType::relu, "relu", {"c"}, "y");
  Session s2(gb.done({"c", "y", "x"}), options(1));
  const FloatTensor xs = random_tensor({2, 3, 5, 5}, 84);
  std::vector<FloatTensor> got;
  s2.run({xs}, got);
  ASSERT_EQ(got.size(), 3u);
  const FloatTensor c = conv2d_ref(xs, w, ws, {}, {});
  EXPECT_LT(max_rel_diff(got[0], c), 2e-6);
  EXPECT_LT(max_rel_diff(got[1], relu_ref(c)), 2e-6);
  EXPECT_EQ(got[2].data, xs.data);
  EXPECT_EQ(got[2].shape, xs.shape);
  std::vector<FloatTensor> same{xs};
  EXPECT_THROW(s2.run(same, same), Error);
}

// SessionOptions::profile: one time per plan step and run, cleared on demand; none without.
TEST(Session, ProfileTimesEveryStepOfEveryRun) {
  const ResidualNet net;
  SessionOptions o = options(1);
  o.profile = true;
  Session s(net.graph(), o);
  const FloatTensor x = random_tensor({2, 3, 9, 9}, 85);
  const FloatTensor plain = Session(net.graph(), options(1)).run({x})[0];
  for (int run = 0; run < 3; ++run) EXPECT_EQ(s.run({x})[0].data, plain.data);
  ASSERT_EQ(s.step_times().size(), s.plan().size());
  for (const std::vector<double>& t : s.step_times()) {
    ASSERT_EQ(t.size(), 3u);
    for (double ms : t) EXPECT_GE(ms, 0.0);
  }
  s.clear_step_times();
  s.run({x});
  for (const std::vector<double>& t : s.step_times()) EXPECT_EQ(t.size(), 1u);
  Session quiet(net.graph(), options(1));
  quiet.run({x});
  EXPECT_TRUE(quiet.step_times().empty());
}

TEST(Session, BatchSizeChangesReplan) {
  const ResidualNet net;
  Session s(net.graph(), options(2));
  for (int64_t batch : {3, 1, 5, 3}) {
    const FloatTensor x = random_tensor({batch, 3, 9, 9}, 70 + uint32_t(batch));
    const FloatTensor y = s.run({x})[0];
    EXPECT_EQ(y.shape, (Ints{batch, 10}));
    EXPECT_LT(max_rel_diff(y, net.reference(x)), 5e-6) << "batch " << batch;
  }
}

TEST(Session, OneAndTwoThreadsGiveIdenticalResults) {
  // Large enough that every conv2d splits its work across threads (small layers run
  // inline, see ThreadPool::kMinParallelWork): batch 1 splits each GEMM by column blocks,
  // batch >= 2 hands whole images to threads.
  const ResidualNet net(/*channels=*/32, /*size=*/24);
  Session one(net.graph(), options(1)), two(net.graph(), options(2));
  EXPECT_EQ(one.threads(), 1);
  EXPECT_EQ(two.threads(), 2);
  for (int64_t batch : {1, 2, 5}) {
    const FloatTensor x = random_tensor({batch, 3, 24, 24}, 80 + uint32_t(batch));
    const FloatTensor y = two.run({x})[0];
    EXPECT_EQ(one.run({x})[0].data, y.data) << "batch " << batch;
    if (batch == 1) {
      EXPECT_LT(max_rel_diff(y, net.reference(x)), 5e-6);
    }
  }
  // A linear layer wide enough to split its output columns at batch 1.
  const Floats w = random_floats(700 * 800, 90);
  Graph g = GraphBuilder().input("x", {-1, 800}).tensor("w", {700, 800}, w)
                .node(OpType::linear, "fc", {"x", "w"}, "y").done({"y"});
  const FloatTensor x = random_tensor({1, 800}, 91);
  const FloatTensor y = Session(g, options(2)).run({x})[0];
  EXPECT_EQ(Session(g, options(1)).run({x})[0].data, y.data);
  EXPECT_LT(max_rel_diff(y, linear_ref(x, w, 700, {})), 1e-5);
}

// Whole-network batches: each thread runs its share of the images through every step, in
// chunks of up to 16 (the last one short). Every image must come out as it does alone (the
// batch-1 path runs layer by layer), in its place, on 1, 2 and 3 threads, and the session
// must say so in its memory: one chunk's arena per thread.
TEST(Session, WholeNetworkBatchesMatchImageByImage) {
  const ResidualNet net(/*channels=*/16, /*size=*/12);
  const int64_t batch = 35;
  const FloatTensor x = random_tensor({batch, 3, 12, 12}, 95);
  for (int threads : {1, 2, 3}) {
    Session s(net.graph(), options(threads));
    const FloatTensor y = s.run({x})[0];
    ASSERT_EQ(y.shape, (Ints{batch, 10}));
    const int64_t image = 3 * 12 * 12;
    for (int64_t i = 0; i < batch; ++i) {
      FloatTensor one;
      one.shape = {1, 3, 12, 12};
      one.data.assign(x.data.begin() + i * image, x.data.begin() + (i + 1) * image);
      const FloatTensor alone = s.run({one})[0];
      EXPECT_EQ(alone.data, Floats(y.data.begin() + i * 10, y.data.begin() + (i + 1) * 10))
          << "image " << i << " of " << batch << ", " << threads << " threads";
    }
    EXPECT_LT(max_rel_diff(y, net.reference(x)), 5e-6);
    const Session::Memory whole = s.memory(batch), single = s.memory(1);
    const int64_t chunk = std::min<int64_t>(16, (batch + threads - 1) / threads);
    EXPECT_LE(whole.arena_bytes, size_t(threads * chunk) * single.arena_bytes) << threads << " threads";
  }
}

// A step that mixes the images (softmax over the batch axis) keeps the batch layer by layer:
// lanes would normalize each thread's share, or each chunk, on its own.
TEST(Session, GraphsThatMixImagesRunLayerByLayer) {
  Graph g = GraphBuilder().input("x", {-1, 4})
                .node(OpType::softmax, "sm", {"x"}, "y", {{"axis", int64_t(0)}})
                .done({"y"});
  const FloatTensor x = random_tensor({37, 4}, 97);
  for (int threads : {1, 2})
    EXPECT_LT(max_rel_diff(Session(g, options(threads)).run({x})[0], softmax_ref(x, 0)), 1e-6) << threads << " threads";
}

// Random codes in the encoding's alphabet with one scale per row, packed by the encoding
// table; `dequant` receives code * scale, the value the reference must use.
Tensor quantized(const std::string& name, Encoding e, Ints shape, uint32_t seed, Floats& dequant) {
  const EncodingTraits& t = encoding_traits(e);
  WeightMatrix m;
  m.rows = shape[0];
  m.cols = numel(shape) / shape[0];
  m.group = m.cols;
  const Floats u = random_floats(m.rows * m.cols, seed, float(t.min_code) - 0.49f, float(t.max_code) + 0.49f);
  const Floats s = random_floats(m.rows, seed + 1, 0.01f, 0.1f);
  m.scale_pos = m.scale_neg = s;
  dequant.resize(m.rows * m.cols);
  for (int64_t i = 0; i < m.rows * m.cols; ++i) {
    m.codes.push_back(int8_t(std::lround(u[i])));
    dequant[i] = float(m.codes.back()) * s[i / m.cols];
  }
  return Tensor::from_bytes(name, e, shape, t.pack(m));
}

TEST(Session, FakeQuantizedActivationsWithQuantizedWeights) {
  const Ints ws = {6, 3, 3, 5};
  Floats w, fw;
  const Floats b = random_floats(6, 1);
  Graph g;
  g.inputs.push_back({"x", {-1, 5, 7, 7}});
  g.tensors.push_back(quantized("w", Encoding::ternary2, ws, 2, w));
  g.tensors.push_back(quantized("fw", Encoding::i8, {3, 6 * 25}, 3, fw));
  g.tensors.push_back(Tensor::from_floats("b", {6}, b));
  Attributes conv = conv_attrs(1, 0);
  conv["act_bits"] = int64_t(4);
  conv["act_scale"] = 0.13;
  g.nodes.push_back({OpType::conv2d, "conv", {"x", "w", "b"}, {"c"}, conv});
  g.nodes.push_back({OpType::relu, "relu", {"c"}, {"r"}, {}});
  g.nodes.push_back({OpType::flatten, "flat", {"r"}, {"f"}, {}});
  g.nodes.push_back({OpType::linear, "fc", {"f", "fw"}, {"y"},
                     {{"act_bits", int64_t(8)}, {"act_scale", 0.01}, {"act_signed", int64_t(1)}}});
  g.outputs.push_back({"y", {-1, 3}});

  FloatTensor x = random_tensor({3, 5, 7, 7}, 4);
  x.data[0] = 0.065f;  // exactly half a step of 0.13: rounds to even (0)
  FloatTensor xq = x;
  for (float& v : xq.data) v = fake_quant_ref(v, 4, 0.13, false);
  FloatTensor f = relu_ref(conv2d_ref(xq, w, ws, b, {}));
  f.shape = {3, 6 * 25};
  for (float& v : f.data) v = fake_quant_ref(v, 8, 0.01, true);
  const FloatTensor want = linear_ref(f, fw, 3, {});
  for (bool reference : {false, true}) {
    Session s(g, options(2, reference));
    EXPECT_LT(max_rel_diff(s.run({x})[0], want), 2e-6);
    const auto plan = s.plan();
    EXPECT_EQ(plan[0].encoding, "ternary2");
    EXPECT_EQ(plan.back().encoding, "i8");
  }
  // Without act_bits the result differs: the quantizer is really applied.
  g.nodes[0].attrs.erase("act_bits");
  g.nodes[3].attrs.erase("act_bits");
  EXPECT_GT(max_rel_diff(Session(g).run({x})[0], want), 1e-4);
}

TEST(Session, BadInputsGiveOneClearError) {
  const ResidualNet net;
  Session s(net.graph(), options(1));
  auto message = [&](const std::vector<FloatTensor>& in) {
    try {
      s.run(in);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("expected 1"), std::string::npos);
  EXPECT_NE(message({random_tensor({2, 3, 9, 8}, 1)}).find("session input 'x'"), std::string::npos);
  FloatTensor short_data = random_tensor({2, 3, 9, 9}, 1);
  short_data.data.pop_back();
  EXPECT_NE(message({short_data}).find("expected [-1, 3, 9, 9]"), std::string::npos);
  EXPECT_THROW(Session(net.graph(), options(0, false, "no_such_kernel")), Error);
  Graph cyclic = net.graph();
  cyclic.nodes[0].inputs[0] = "y";  // stem reads the head's output
  EXPECT_THROW(Session{cyclic}, Error);
}

TEST(Session, BadLayerAttributesNameTheNodeAndField) {
  auto message = [](const std::string& key, AttrValue value) {
    Graph g = GraphBuilder().input("x", {-1, 6}).tensor("w", {4, 6}, random_floats(24, 1))
                  .node(OpType::linear, "fc7", {"x", "w"}, "y").done({"y"});
    g.nodes[0].attrs["act_bits"] = int64_t(8);
    g.nodes[0].attrs["act_scale"] = 0.5;
    g.nodes[0].attrs[key] = value;
    try {
      Session s(g);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // validate_graph or the planner rejects each; either way the message names both.
  for (const auto& [key, value] : {std::pair{"act_bits", AttrValue(int64_t(1))},
                                   std::pair{"act_scale", AttrValue(0.0)},
                                   std::pair{"activation", AttrValue(std::string("gelu"))}}) {
    const std::string m = message(key, value);
    EXPECT_NE(m.find("fc7"), std::string::npos) << m;
    EXPECT_NE(m.find(key), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace stern::test
