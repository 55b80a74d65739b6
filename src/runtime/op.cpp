// The operator table (ops/ops.inc) and helpers shared by the ops.
#include "runtime/op.h"

#include <cmath>

#include "stern/error.h"

namespace stern {

#define STERN_OP(type, factory) std::unique_ptr<OpKernel> factory(const OpBuild& build);
#include "runtime/ops/ops.inc"
#undef STERN_OP

namespace {

struct OpTable {
  OpFactory factories[kOpTypeCount] = {};
  OpTable() {
#define STERN_OP(type, factory) factories[static_cast<int>(OpType::type)] = factory;
#include "runtime/ops/ops.inc"
#undef STERN_OP
  }
};

}  // namespace

OpFactory op_factory(OpType op) {
  static const OpTable table;
  const int i = static_cast<int>(op);
  return i >= 0 && i < kOpTypeCount ? table.factories[i] : nullptr;
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t normalize_axis(int64_t axis, size_t rank, const std::string& where) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    fail(where, "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
  return axis < 0 ? axis + r : axis;
}

std::vector<float> constant_floats(const Tensor& t, int64_t expected, const std::string& where) {
  if (t.numel() != expected)
    fail(where, "tensor '" + t.name + "' has " + std::to_string(t.numel()) +
                    " elements, expected " + std::to_string(expected));
  return t.to_floats();
}

ChannelAffine batch_norm_affine(const Node& bn, const Graph& graph, const std::string& where) {
  if (bn.inputs.size() != 5) fail(where, "expected 5 inputs (x, scale, bias, mean, var)");
  std::vector<std::vector<float>> p;
  int64_t channels = -1;
  for (size_t i = 1; i < 5; ++i) {
    const Tensor* t = graph.find_tensor(bn.inputs[i]);
    if (!t) fail(where, "input '" + bn.inputs[i] + "' must be a constant tensor");
    if (channels < 0) channels = t->numel();
    p.push_back(constant_floats(*t, channels, where));
  }
  const double eps = attr_float(bn.attrs, "epsilon", 1e-5);
  if (!(eps >= 0.0)) fail(where, "epsilon must be >= 0");
  ChannelAffine a;
  a.scale.resize(channels);
  a.shift.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    if (!(p[3][c] + eps > 0.0))
      fail(where, "var[" + std::to_string(c) + "] + epsilon must be > 0");
    const double s = p[0][c] / std::sqrt(static_cast<double>(p[3][c]) + eps);
    a.scale[c] = static_cast<float>(s);
    a.shift[c] = static_cast<float>(p[1][c] - p[2][c] * s);
  }
  return a;
}

}  // namespace stern
