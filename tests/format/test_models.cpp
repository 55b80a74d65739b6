#include "format/test_models.h"

#include <random>

namespace stern::test {
namespace {

Tensor random_floats(const std::string& name, std::vector<int64_t> shape, uint32_t seed, float lo,
                     float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return Tensor::from_floats(name, std::move(shape), v);
}

Node node(OpType op, std::string name, std::vector<std::string> inputs, Attributes attrs = {}) {
  Node n;
  n.op = op;
  n.outputs = {name};
  n.name = std::move(name);
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  return n;
}

}  // namespace

Tensor random_weight(const std::string& name, Encoding e, std::vector<int64_t> shape, uint32_t seed) {
  if (e == Encoding::f32) return random_floats(name, std::move(shape), seed, -1.0f, 1.0f);
  const EncodingTraits& traits = encoding_traits(e);
  std::mt19937 rng(seed);
  WeightMatrix m;
  m.rows = shape[0];
  m.cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) m.cols *= shape[i];
  // Several scale groups per row where the row allows it, so group handling is exercised.
  m.group = m.cols % 2 == 0 ? m.cols / 2 : m.cols;
  std::uniform_int_distribution<int> code(traits.min_code, traits.max_code);
  std::uniform_real_distribution<float> scale(0.01f, 1.0f);
  m.codes.resize(static_cast<size_t>(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    const int8_t row_sign = r % 2 == 0 ? 1 : -1;  // signed_binary: one sign per row
    for (int64_t c = 0; c < m.cols; ++c) {
      auto v = static_cast<int8_t>(code(rng));
      if (e == Encoding::signed_binary) v = static_cast<int8_t>(v == 0 ? 0 : row_sign);
      if (e == Encoding::binary) v = static_cast<int8_t>(v >= 0 ? 1 : -1);  // no zero code
      m.codes[static_cast<size_t>(r * m.cols + c)] = v;
    }
  }
  m.scale_pos.resize(static_cast<size_t>(m.rows * m.groups_per_row()));
  for (float& s : m.scale_pos) s = scale(rng);
  m.scale_neg = m.scale_pos;
  return Tensor::from_bytes(name, e, std::move(shape), traits.pack(m));
}

Graph every_op_graph() {
  Graph g;
  g.inputs = {{"x", {-1, 3, 8, 8}}};
  g.outputs = {{"y", {-1, 10}}};
  g.tensors = {
      random_weight("conv1.w", Encoding::ternary2, {4, 3, 3, 3}, 1),
      random_floats("conv1.b", {4}, 2, -0.5f, 0.5f),
      random_floats("bn.scale", {4}, 3, 0.5f, 1.5f),
      random_floats("bn.bias", {4}, 4, -0.5f, 0.5f),
      random_floats("bn.mean", {4}, 5, -0.5f, 0.5f),
      random_floats("bn.var", {4}, 6, 0.5f, 2.0f),
      random_weight("conv2.w", Encoding::i8, {4, 3, 3, 2}, 7),
      random_weight("conv3.w", Encoding::signed_binary, {4, 2, 2, 4}, 8),
      random_weight("fc1.w", Encoding::ternary_sparse, {12, 20}, 9),
      random_floats("fc1.b", {12}, 10, -0.5f, 0.5f),
      random_weight("fc2.w", Encoding::binary, {10, 12}, 11),
      random_floats("mul.k", {10}, 12, 0.5f, 2.0f),
      random_weight("mm.w", Encoding::f32, {10, 10}, 13),
      random_floats("gemm.b", {10, 10}, 14, -1.0f, 1.0f),
      random_floats("gemm.c", {10}, 15, -1.0f, 1.0f),
  };
  using Ints = std::vector<int64_t>;
  g.nodes = {
      node(OpType::conv2d, "conv1", {"x", "conv1.w", "conv1.b"},
           {{"strides", Ints{1, 1}}, {"pads", Ints{1, 1, 1, 1}}, {"dilations", Ints{1, 1}},
            {"groups", int64_t{1}}, {"act_bits", int64_t{8}}, {"act_scale", 0.05},
            {"act_signed", int64_t{1}}, {"activation", std::string("relu")}}),
      node(OpType::batch_norm, "bn1", {"conv1", "bn.scale", "bn.bias", "bn.mean", "bn.var"},
           {{"epsilon", 1e-5}}),
      node(OpType::relu, "relu1", {"bn1"}),
      node(OpType::max_pool, "pool1", {"relu1"},
           {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}),
      node(OpType::conv2d, "conv2", {"pool1", "conv2.w"},
           {{"pads", Ints{1, 1, 1, 1}}, {"groups", int64_t{2}}}),
      node(OpType::add, "add1", {"conv2", "pool1"}),
      node(OpType::conv2d, "conv3", {"add1", "conv3.w"},
           {{"pads", Ints{1, 1, 1, 1}}, {"dilations", Ints{2, 2}}}),
      node(OpType::avg_pool, "avg", {"conv3"},
           {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"count_include_pad", int64_t{1}}}),
      node(OpType::global_avg_pool, "gap", {"add1"}),
      node(OpType::flatten, "flat1", {"avg"}, {{"axis", int64_t{1}}}),
      node(OpType::flatten, "flat2", {"gap"}),
      node(OpType::concat, "cat", {"flat1", "flat2"}, {{"axis", int64_t{1}}}),
      node(OpType::linear, "fc1", {"cat", "fc1.w", "fc1.b"},
           {{"act_bits", int64_t{4}}, {"act_scale", 0.1}}),
      node(OpType::linear, "fc2", {"fc1", "fc2.w"}),
      node(OpType::mul, "mul", {"fc2", "mul.k"}),
      node(OpType::clip, "clip", {"mul"}, {{"min", -5.0}, {"max", 5.0}}),
      node(OpType::reshape, "reshape", {"clip"}, {{"shape", Ints{0, -1}}}),
      node(OpType::matmul, "mm", {"reshape", "mm.w"}),
      node(OpType::gemm, "gemm", {"mm", "gemm.b", "gemm.c"},
           {{"trans_b", int64_t{1}}, {"alpha", 0.5}, {"beta", 1.0}}),
      node(OpType::softmax, "y", {"gemm"},
           {{"axis", int64_t{-1}}, {"calibration", std::vector<double>{0.25, 0.5}}}),
  };
  g.metadata = {{"producer", std::string("stern tests")},
                {"seed", int64_t{7}},
                {"accuracy", 0.5},
                {"input_shape", std::vector<int64_t>{3, 8, 8}},
                {"curve", std::vector<double>{0.1, 0.2, 0.3}}};
  return g;
}

}  // namespace stern::test
