// graph.h helpers, shape inference against hand-computed (PyTorch/ONNX) shapes, and
// validate_graph's rejections.
#include <gtest/gtest.h>

#include "format/test_models.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/shape.h"

namespace stern {
namespace {

using Ints = std::vector<int64_t>;

// Expects `f` to throw a one-line stern::Error containing `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(Graph, OpNamesRoundTrip) {
  for (int i = 0; i < kOpTypeCount; ++i) {
    const auto op = static_cast<OpType>(i);
    EXPECT_EQ(op_from_name(op_name(op)), op);
  }
  expect_error([] { op_from_name("convolution"); }, "conv2d");
}

TEST(Graph, TypedAttributes) {
  const Attributes a = {{"i", int64_t{3}}, {"f", 0.5}, {"s", std::string("relu")}, {"v", Ints{1, 2}}};
  EXPECT_EQ(attr_int(a, "i", 0), 3);
  EXPECT_EQ(attr_int(a, "absent", 9), 9);
  EXPECT_EQ(attr_float(a, "f", 0), 0.5);
  EXPECT_EQ(attr_string(a, "s", ""), "relu");
  EXPECT_EQ(attr_ints(a, "v", {}), (Ints{1, 2}));
  expect_error([&] { attr_int(a, "f", 0); }, "attribute 'f'");
  expect_error([&] { attr_float(a, "i", 0); }, "attribute 'i'");
  expect_error([&] { attr_string(a, "v", ""); }, "attribute 'v'");
  expect_error([&] { attr_ints(a, "s", {}); }, "attribute 's'");
}

TEST(Graph, TensorViews) {
  const std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Tensor t = Tensor::from_floats("w", {2, 3, 2}, v);
  EXPECT_EQ(t.numel(), 12);
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.cols(), 6);
  EXPECT_EQ(t.payload.size(), 48u);
  EXPECT_EQ(t.to_floats(), v);
  expect_error([&] { Tensor::from_floats("w", {5}, v); }, "tensor 'w'");
  Graph g;
  g.tensors.push_back(t);
  EXPECT_EQ(g.find_tensor("w")->numel(), 12);
  EXPECT_EQ(g.find_tensor("nope"), nullptr);
}

TEST(Graph, NumelOverflowIsAnError) {
  Tensor t;
  t.name = "huge";
  t.shape = {int64_t{1} << 31, int64_t{1} << 31, int64_t{1} << 31};
  expect_error([&] { t.numel(); }, "tensor 'huge'");
}

TEST(Shapes, EveryOpGraph) {
  const auto shapes = infer_shapes(test::every_op_graph(), "m");
  EXPECT_EQ(shapes.at("conv1"), (Ints{-1, 4, 8, 8}));
  EXPECT_EQ(shapes.at("pool1"), (Ints{-1, 4, 4, 4}));
  EXPECT_EQ(shapes.at("conv3"), (Ints{-1, 4, 4, 4}));
  EXPECT_EQ(shapes.at("avg"), (Ints{-1, 4, 2, 2}));
  EXPECT_EQ(shapes.at("gap"), (Ints{-1, 4, 1, 1}));
  EXPECT_EQ(shapes.at("cat"), (Ints{-1, 20}));
  EXPECT_EQ(shapes.at("fc1"), (Ints{-1, 12}));
  EXPECT_EQ(shapes.at("y"), (Ints{-1, 10}));
}

// One-node graphs over input "x" of `in`; returns the output shape.
Ints infer_one(OpType op, Ints in, Attributes attrs, std::vector<Tensor> tensors = {},
               std::vector<std::string> extra_inputs = {}) {
  Graph g;
  g.inputs = {{"x", std::move(in)}};
  Node n;
  n.op = op;
  n.name = "n";
  n.inputs = {"x"};
  for (auto& s : extra_inputs) n.inputs.push_back(s);
  n.outputs = {"out"};
  n.attrs = std::move(attrs);
  g.nodes = {n};
  g.tensors = std::move(tensors);
  return infer_shapes(g, "m").at("out");
}

// A node over graph inputs "a" and "b" with output "out".
Graph binary_graph(OpType op, Ints a, Ints b) {
  Graph g;
  g.inputs = {{"a", std::move(a)}, {"b", std::move(b)}};
  Node n;
  n.op = op;
  n.name = "n";
  n.inputs = {"a", "b"};
  n.outputs = {"out"};
  g.nodes = {n};
  return g;
}

Tensor zeros(const std::string& name, Ints shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return Tensor::from_floats(name, shape, std::vector<float>(static_cast<size_t>(n)));
}

TEST(Shapes, Conv2dMatchesPyTorch) {
  // ResNet stem: 7x7 stride 2 pad 3 on 224 -> 112 (torchvision resnet18).
  EXPECT_EQ(infer_one(OpType::conv2d, {1, 3, 224, 224}, {{"strides", Ints{2, 2}}, {"pads", Ints{3, 3, 3, 3}}},
                      {zeros("w", {64, 7, 7, 3})}, {"w"}),
            (Ints{1, 64, 112, 112}));
  // Asymmetric pads and dilation: H = (10 + 1 + 0 - 2*2 - 1) / 1 + 1 = 7, W = (9 + 0 + 2 - 5) / 2 + 1 = 4.
  EXPECT_EQ(infer_one(OpType::conv2d, {2, 4, 10, 9},
                      {{"strides", Ints{1, 2}}, {"pads", Ints{1, 0, 0, 2}}, {"dilations", Ints{2, 2}},
                       {"groups", int64_t{2}}},
                      {zeros("w", {6, 3, 3, 2})}, {"w"}),
            (Ints{2, 6, 7, 4}));
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 8, 8}, {}, {zeros("w", {4, 3, 3, 2})}, {"w"}); },
               "weight input channels");
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 2, 2}, {}, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "exceeds the padded height");
  expect_error([] { infer_one(OpType::conv2d, {1, 4, 8, 8}, {{"groups", int64_t{3}}}, {zeros("w", {4, 3, 3, 2})}, {"w"}); },
               "multiple of groups");
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 8, 8}, {{"pads", Ints{1, 1}}}, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "attribute 'pads' has 2 values; expected 4");
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 8, 8}, {{"strides", 2.0}}, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "attribute 'strides'");
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 8, 8}, {{"act_bits", int64_t{8}}}, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "act_scale");
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 8, 8}, {{"activation", std::string("gelu")}}, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "activation");
  // A zero point must be a code of the act_bits range, and needs act_bits.
  const Attributes q4{{"act_bits", int64_t{4}}, {"act_scale", 0.1}};
  Attributes zp = q4;
  zp["act_zero_point"] = int64_t{15};
  EXPECT_NO_THROW(infer_one(OpType::conv2d, {1, 3, 8, 8}, zp, {zeros("w", {4, 3, 3, 3})}, {"w"}));
  zp["act_zero_point"] = int64_t{16};
  expect_error([&] { infer_one(OpType::conv2d, {1, 3, 8, 8}, zp, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "attribute 'act_zero_point' = 16 out of range; expected 0..15");
  zp["act_signed"] = int64_t{1};
  zp["act_zero_point"] = int64_t{-8};
  expect_error([&] { infer_one(OpType::conv2d, {1, 3, 8, 8}, zp, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "expected -7..7");
  expect_error([] { infer_one(OpType::conv2d, {1, 3, 8, 8}, {{"act_zero_point", int64_t{3}}}, {zeros("w", {4, 3, 3, 3})}, {"w"}); },
               "attribute 'act_zero_point' = 3 out of range; expected 0..0");
}

TEST(Shapes, PoolCeilModeMatchesPyTorch) {
  // GoogLeNet's MaxPool2d(3, 2, ceil_mode=True): 112 -> 56 (floor mode would give 55).
  const Attributes ceil = {{"kernel", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}};
  EXPECT_EQ(infer_one(OpType::max_pool, {1, 64, 112, 112}, ceil), (Ints{1, 64, 56, 56}));
  const Attributes floor = {{"kernel", Ints{3, 3}}, {"strides", Ints{2, 2}}};
  EXPECT_EQ(infer_one(OpType::max_pool, {1, 64, 112, 112}, floor), (Ints{1, 64, 55, 55}));
  // AvgPool2d(3, 2, padding=1, ceil_mode=True) on 6 -> 4 (floor: 3).
  const Attributes ceil_pad = {{"kernel", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}},
                               {"ceil_mode", int64_t{1}}};
  EXPECT_EQ(infer_one(OpType::avg_pool, {1, 1, 6, 6}, ceil_pad), (Ints{1, 1, 4, 4}));
  // The last window must start inside the input or the left padding: AvgPool2d(2, 2,
  // padding=1, ceil_mode=True) on 5 -> 3; a fourth window would start in the right padding.
  const Attributes edge = {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}},
                           {"ceil_mode", int64_t{1}}};
  EXPECT_EQ(infer_one(OpType::avg_pool, {1, 1, 5, 5}, edge), (Ints{1, 1, 3, 3}));
  expect_error([] { infer_one(OpType::max_pool, {1, 1, 5, 5}, {}); }, "'kernel' is required");
  expect_error([] { infer_one(OpType::max_pool, {1, 1, 5, 5}, {{"kernel", Ints{2, 2}}, {"pads", Ints{2, 0, 0, 0}}}); },
               "not smaller than the kernel");
}

TEST(Shapes, ElementwiseAndReshaping) {
  Graph g = binary_graph(OpType::add, {-1, 3, 1, 5}, {4, 1});
  EXPECT_EQ(infer_shapes(g, "m").at("out"), (Ints{-1, 3, 4, 5}));
  g.inputs[1].shape = {7, 1, 4};
  expect_error([&] { infer_shapes(g, "m"); }, "do not broadcast");

  EXPECT_EQ(infer_one(OpType::flatten, {2, 3, 4, 5}, {{"axis", int64_t{2}}}), (Ints{6, 20}));
  EXPECT_EQ(infer_one(OpType::flatten, {2, 3, 4, 5}, {{"axis", int64_t{0}}}), (Ints{1, 120}));
  EXPECT_EQ(infer_one(OpType::flatten, {-1, 3, 4}, {}), (Ints{-1, 12}));
  EXPECT_EQ(infer_one(OpType::global_avg_pool, {2, 3, 7, 7}, {}), (Ints{2, 3, 1, 1}));
  EXPECT_EQ(infer_one(OpType::softmax, {2, 10}, {{"axis", int64_t{1}}}), (Ints{2, 10}));
  expect_error([] { infer_one(OpType::softmax, {2, 10}, {{"axis", int64_t{2}}}); }, "attribute 'axis'");
  EXPECT_EQ(infer_one(OpType::reshape, {-1, 4, 2, 2}, {{"shape", Ints{0, -1}}}), (Ints{-1, 16}));
  EXPECT_EQ(infer_one(OpType::reshape, {6, 4}, {{"shape", Ints{3, -1, 2}}}), (Ints{3, 4, 2}));
  expect_error([] { infer_one(OpType::reshape, {6, 4}, {{"shape", Ints{5, -1}}}); }, "cannot reshape");
  EXPECT_EQ(infer_one(OpType::matmul, {7, 2, 3}, {}, {zeros("b", {3, 5})}, {"b"}), (Ints{7, 2, 5}));
  EXPECT_EQ(infer_one(OpType::matmul, {3}, {}, {zeros("b", {4, 3, 5})}, {"b"}), (Ints{4, 5}));
  EXPECT_EQ(infer_one(OpType::gemm, {3, 4}, {{"trans_a", int64_t{1}}}, {zeros("b", {3, 6})}, {"b"}),
            (Ints{4, 6}));
}

TEST(Shapes, Concat) {
  Graph g = binary_graph(OpType::concat, {-1, 3, 4}, {-1, 5, 4});
  EXPECT_EQ(infer_shapes(g, "m").at("out"), (Ints{-1, 8, 4}));
  g.nodes[0].attrs["axis"] = int64_t{-1};
  expect_error([&] { infer_shapes(g, "m"); }, "dimension 1");
}

TEST(Validate, RejectsBrokenGraphs) {
  auto broken = [](auto mutate) {
    Graph g = test::every_op_graph();
    mutate(g);
    return g;
  };
  const std::pair<std::function<void(Graph&)>, std::string> cases[] = {
      {[](Graph& g) { g.nodes[2].inputs[0] = "nowhere"; }, "input 'nowhere' is not defined before use"},
      {[](Graph& g) { std::swap(g.nodes[1], g.nodes[2]); }, "is not defined before use"},
      {[](Graph& g) { g.nodes[3].outputs[0] = "relu1"; }, "already defined"},
      {[](Graph& g) { g.nodes[3].name = g.nodes[2].name; }, "duplicate node name"},
      {[](Graph& g) { g.tensors[1] = test::random_weight("conv1.b", Encoding::f32, {5}, 1); }, "bias length"},
      {[](Graph& g) { g.tensors[2] = test::random_weight("bn.scale", Encoding::ternary2, {4, 1}, 1); },
       "only the weight (input 1) of conv2d/linear may be quantized"},
      {[](Graph& g) { g.nodes[0].inputs[1] = g.inputs[0].name; }, "must be a constant tensor"},
      {[](Graph& g) { g.outputs[0].shape = {-1, 11}; }, "graph output 'y': declared shape"},
      {[](Graph& g) { g.outputs[0].name = "ghost"; }, "not produced"},
      {[](Graph& g) { g.inputs.clear(); }, "no inputs"},
      {[](Graph& g) { g.tensors[1].payload = g.tensors[1].payload.first(12); }, "f32 payload is 12 bytes"},
      {[](Graph& g) { g.tensors[0].payload = g.tensors[0].payload.first(g.tensors[0].payload.size() - 1); },
       "tensor 'conv1.w'"},
      {[](Graph& g) { g.tensors[0].encoding = static_cast<Encoding>(77); }, "unknown encoding id 77"},
      {[](Graph& g) { g.tensors[1].shape = {0}; }, "dimension 0 out of range"},
      {[](Graph& g) { g.nodes[4].attrs["groups"] = int64_t{3}; }, "multiple of groups"},
      {[](Graph& g) { g.nodes[0].attrs["act_signed"] = int64_t{2}; }, "act_signed"},
      {[](Graph& g) { g.nodes[0].name.clear(); }, "empty name"},
      {[](Graph& g) { g.tensors[3].name += '\n'; }, "tensor 3 name contains a control character"},
      {[](Graph& g) { g.nodes[0].attrs["activation"] = std::string("re\nlu"); }, "(not printable)"},
      {[](Graph& g) { g.nodes[0].name = std::string(2000, 'n'); }, "name length 2000 exceeds the maximum"},
  };
  for (const auto& [mutate, needle] : cases) {
    const Graph g = broken(mutate);
    expect_error([&] { validate_graph(g, "model.stern"); }, needle);
    expect_error([&] { validate_graph(g, "model.stern"); }, "model.stern");
  }
}

}  // namespace
}  // namespace stern
