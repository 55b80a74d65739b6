// LeNet-5 with seeded random weights in any encoding, at a chosen sparsity: the model the
// compress, cost and report tests share (a trained one replaces it in docs/RESULTS.md).
// Input "x" [-1, 1, 28, 28], output "y" [-1, 10]; conv weights OHWI.
#pragma once
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "stern/encoding.h"
#include "stern/graph.h"

namespace stern::test {

struct Lenet5Options {
  Encoding encoding = Encoding::ternary2;
  double sparsity = 0.95;  // fraction of zero codes (ignored by binary)
  bool asymmetric = false;
  int64_t group = 0;  // 0: one scale per row
  int act_bits = 8;   // input quantization of every conv/linear (0: float)
  bool vary_sparsity_by_row = false;  // rows cycle through 50%, 90%, 99% sparse (like trained filters)
  uint32_t seed = 1;
};

inline WeightMatrix random_codes(const Lenet5Options& o, int64_t rows, int64_t cols, std::mt19937& rng) {
  const EncodingTraits& t = encoding_traits(o.encoding);
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = o.group > 0 ? std::min(o.group, cols) : cols;
  m.asymmetric = o.asymmetric;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> gauss(0.0, 20.0);
  m.codes.resize(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t row_sign = r % 2 == 0 ? 1 : -1;
    const double sparsity = o.vary_sparsity_by_row ? (r % 3 == 0 ? 0.5 : (r % 3 == 1 ? 0.9 : 0.99)) : o.sparsity;
    for (int64_t c = 0; c < cols; ++c) {
      int8_t code = 0;
      const bool nonzero = u(rng) >= sparsity;
      switch (o.encoding) {
        case Encoding::binary: code = u(rng) < 0.5 ? 1 : -1; break;
        case Encoding::signed_binary: code = nonzero ? row_sign : 0; break;
        case Encoding::i8:
          code = nonzero ? int8_t(std::clamp(std::lround(gauss(rng)), long(t.min_code), long(t.max_code))) : 0;
          break;
        default: code = nonzero ? (u(rng) < 0.5 ? 1 : -1) : 0; break;
      }
      m.codes[r * cols + c] = code;
    }
  }
  std::uniform_real_distribution<float> scale(0.01f, 0.1f);
  for (int64_t i = 0; i < rows * m.groups_per_row(); ++i) {
    m.scale_pos.push_back(scale(rng));
    m.scale_neg.push_back(o.asymmetric ? scale(rng) : m.scale_pos.back());
  }
  return m;
}

inline Graph lenet5(const Lenet5Options& o) {
  std::mt19937 rng(o.seed);
  Graph g;
  g.inputs = {{"x", {-1, 1, 28, 28}}};
  g.outputs = {{"y", {-1, 10}}};
  g.metadata["producer"] = std::string("stern tests");
  std::normal_distribution<float> bias(0.0f, 0.1f);
  auto weight = [&](const std::string& layer, std::vector<int64_t> shape) {
    const std::string name = layer + ".weight";
    int64_t cols = 1;
    for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
    if (o.encoding == Encoding::f32) {
      std::normal_distribution<float> w(0.0f, 0.1f);
      std::vector<float> v(shape[0] * cols);
      for (float& x : v) x = w(rng);
      g.tensors.push_back(Tensor::from_floats(name, shape, v));
    } else {
      const WeightMatrix m = random_codes(o, shape[0], cols, rng);
      g.tensors.push_back(Tensor::from_bytes(name, o.encoding, shape, encoding_traits(o.encoding).pack(m)));
    }
    std::vector<float> b(shape[0]);
    for (float& x : b) x = bias(rng);
    g.tensors.push_back(Tensor::from_floats(layer + ".bias", {shape[0]}, b));
  };
  auto layer = [&](OpType op, const std::string& name, const std::string& in, const std::string& out,
                   std::vector<int64_t> shape, Attributes attrs) {
    weight(name, shape);
    if (o.act_bits > 0) {
      attrs["act_bits"] = int64_t{o.act_bits};
      attrs["act_scale"] = 0.02;
    }
    g.nodes.push_back({op, name, {in, name + ".weight", name + ".bias"}, {out}, attrs});
  };
  auto simple = [&](OpType op, const std::string& name, const std::string& in, const std::string& out,
                    Attributes attrs = {}) { g.nodes.push_back({op, name, {in}, {out}, attrs}); };
  const Attributes pool = {{"kernel", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}};
  layer(OpType::conv2d, "conv1", "x", "c1", {6, 5, 5, 1}, {{"pads", std::vector<int64_t>{2, 2, 2, 2}}});
  simple(OpType::relu, "relu1", "c1", "r1");
  simple(OpType::max_pool, "pool1", "r1", "p1", pool);
  layer(OpType::conv2d, "conv2", "p1", "c2", {16, 5, 5, 6}, {});
  simple(OpType::relu, "relu2", "c2", "r2");
  simple(OpType::max_pool, "pool2", "r2", "p2", pool);
  simple(OpType::flatten, "flatten", "p2", "f");
  layer(OpType::linear, "fc1", "f", "h1", {120, 400}, {});
  simple(OpType::relu, "relu3", "h1", "a1");
  layer(OpType::linear, "fc2", "a1", "h2", {84, 120}, {});
  simple(OpType::relu, "relu4", "h2", "a2");
  layer(OpType::linear, "fc3", "a2", "y", {10, 84}, {});
  return g;
}

}  // namespace stern::test
