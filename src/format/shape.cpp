// Shape inference and attribute checks, one function per operator, dispatched through a table
// indexed by OpType. Adding an operator: append it to OpType (graph.h), to the name table in
// graph.cpp and a row to kOpRules below; document it in docs/FORMAT.md.
//
// A dimension of -1 is unknown (the free batch dimension of a graph input). It propagates:
// a result that depends on an unknown dimension is unknown, and consistency checks compare
// only known dimensions.
#include "stern/shape.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>

#include "format/checked.h"
#include "format/container.h"
#include "stern/error.h"

namespace stern {
namespace {

constexpr int64_t kUnknown = -1;
constexpr size_t kNoConstants = std::numeric_limits<size_t>::max();

bool known(int64_t d) { return d != kUnknown; }


struct OpContext {
  const Node& node;
  std::vector<Shape> in;  // shapes of node.inputs
  std::string where;      // "<file>: node 'conv1' (conv2d)"

  [[noreturn]] void error(const std::string& what) const { fail(where, what); }

  // Attribute type errors from graph.h name only the attribute; add the node.
  template <typename F>
  auto checked(F&& get) const {
    try {
      return get();
    } catch (const Error& e) {
      error(e.what());
    }
  }

  const Shape& input(size_t i, size_t rank, const char* role) const {
    if (in[i].size() != rank) {
      error(std::string("input ") + std::to_string(i) + " (" + role + ") '" + node.inputs[i] +
            "' has shape " + shape_to_string(in[i]) + "; expected rank " + std::to_string(rank));
    }
    return in[i];
  }

  // An integer-list attribute of exactly `count` values in [min, kMaxDim].
  std::vector<int64_t> ints(const std::string& key, std::vector<int64_t> fallback, size_t count,
                            int64_t min) const {
    std::vector<int64_t> v = checked([&] { return attr_ints(node.attrs, key, fallback); });
    if (v.size() != count) {
      error("attribute '" + key + "' has " + std::to_string(v.size()) + " values; expected " +
            std::to_string(count));
    }
    for (const int64_t x : v) {
      if (x < min || x > format::kMaxDim) {
        error("attribute '" + key + "' value " + std::to_string(x) + " out of range; expected " +
              std::to_string(min) + ".." + std::to_string(format::kMaxDim));
      }
    }
    return v;
  }

  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
    const int64_t v = checked([&] { return attr_int(node.attrs, key, fallback); });
    if (v < min || v > max) {
      error("attribute '" + key + "' = " + std::to_string(v) + " out of range; expected " +
            std::to_string(min) + ".." + std::to_string(max));
    }
    return v;
  }

  // Normalizes a possibly negative axis into [0, rank + extra).
  int64_t axis(int64_t fallback, size_t rank, size_t extra) const {
    const auto r = static_cast<int64_t>(rank);
    const int64_t a = integer("axis", fallback, -r, r + static_cast<int64_t>(extra) - 1);
    return a < 0 ? a + r : a;
  }

};

void expect_dim(const OpContext& c, int64_t got, int64_t want, const std::string& what) {
  if (known(got) && known(want) && got != want) {
    c.error(what + " is " + std::to_string(got) + "; expected " + std::to_string(want));
  }
}

// Output size of a sliding window. With ceil_mode the last window may hang over the end, but
// (as in PyTorch and ONNX) it must start inside the input or the left padding.
int64_t window_out(const OpContext& c, int64_t size, int64_t pad_begin, int64_t pad_end,
                   int64_t extent, int64_t stride, bool ceil_mode, const char* axis) {
  if (!known(size)) return kUnknown;
  const int64_t span = size + pad_begin + pad_end - extent;
  if (span < 0) {
    c.error(std::string("window of extent ") + std::to_string(extent) + " exceeds the padded " +
            axis + " size " + std::to_string(size + pad_begin + pad_end));
  }
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= size + pad_begin) --out;
  return out;
}

// Activation quantization of a conv2d / linear input and the fused epilogue (docs/FORMAT.md).
void check_activation_attrs(const OpContext& c) {
  const int64_t is_signed = c.integer("act_signed", 0, 0, 1);
  const int64_t bits = c.integer("act_bits", 0, 0, 16);
  if (bits > 0) {
    if (is_signed && bits < 2) c.error("attribute 'act_bits' = 1 with act_signed = 1; expected 2..16");
    const double scale = c.checked([&] { return attr_float(c.node.attrs, "act_scale", 0.0); });
    if (!(std::isfinite(scale) && scale > 0)) {
      c.error("attribute 'act_scale' = " + std::to_string(scale) +
              "; expected a finite value > 0 when act_bits > 0");
    }
    const int64_t qmax = is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
    c.integer("act_zero_point", 0, is_signed ? -qmax : 0, qmax);
  } else {
    c.integer("act_zero_point", 0, 0, 0);
  }
  const std::string activation = c.checked([&] { return attr_string(c.node.attrs, "activation", ""); });
  if (!activation.empty() && activation != "relu") {
    const bool printable = format::find_control_char(activation) < 0;
    c.error("attribute 'activation' = '" + (printable ? activation : "(not printable)") +
            "'; expected 'relu' or absent");
  }
}

void check_bias(const OpContext& c, int64_t out_channels) {
  if (c.in.size() < 3) return;
  const Shape& b = c.input(2, 1, "bias");
  expect_dim(c, b[0], out_channels, "bias length");
}

std::vector<Shape> infer_conv2d(const OpContext& c) {
  const Shape& x = c.input(0, 4, "x, NCHW");
  const Shape& w = c.input(1, 4, "weight, OHWI");
  const auto strides = c.ints("strides", {1, 1}, 2, 1);
  const auto pads = c.ints("pads", {0, 0, 0, 0}, 4, 0);  // top, left, bottom, right
  const auto dilations = c.ints("dilations", {1, 1}, 2, 1);
  const int64_t groups = c.integer("groups", 1, 1, format::kMaxDim);
  check_activation_attrs(c);
  if (w[0] % groups != 0) {
    c.error("weight has " + std::to_string(w[0]) + " output channels; expected a multiple of groups " +
            std::to_string(groups));
  }
  if (known(x[1]) && x[1] % groups != 0) {
    c.error("input has " + std::to_string(x[1]) + " channels; expected a multiple of groups " +
            std::to_string(groups));
  }
  expect_dim(c, w[3], known(x[1]) ? x[1] / groups : kUnknown,
             "weight input channels (OHWI dim 3, input channels / groups)");
  check_bias(c, w[0]);
  const int64_t h = window_out(c, x[2], pads[0], pads[2], dilations[0] * (w[1] - 1) + 1, strides[0],
                               false, "height");
  const int64_t wd = window_out(c, x[3], pads[1], pads[3], dilations[1] * (w[2] - 1) + 1, strides[1],
                                false, "width");
  return {{x[0], w[0], h, wd}};
}

std::vector<Shape> infer_linear(const OpContext& c) {
  const Shape& x = c.input(0, 2, "x, [N, in]");
  const Shape& w = c.input(1, 2, "weight, [out, in]");
  check_activation_attrs(c);
  expect_dim(c, x[1], w[1], "input features");
  check_bias(c, w[0]);
  return {{x[0], w[0]}};
}

std::vector<Shape> infer_batch_norm(const OpContext& c) {
  const Shape& x = c.in[0];
  if (x.size() < 2) c.error("input has shape " + shape_to_string(x) + "; expected rank >= 2 (N, C, ...)");
  const double eps = c.checked([&] { return attr_float(c.node.attrs, "epsilon", 1e-5); });
  if (!(std::isfinite(eps) && eps >= 0)) {
    c.error("attribute 'epsilon' = " + std::to_string(eps) + "; expected a finite value >= 0");
  }
  static const char* const kRoles[] = {"scale", "bias", "mean", "var"};
  for (size_t i = 1; i < 5; ++i) {
    const Shape& p = c.input(i, 1, kRoles[i - 1]);
    expect_dim(c, p[0], x[1], std::string(kRoles[i - 1]) + " length");
  }
  return {x};
}

std::vector<Shape> infer_same(const OpContext& c) { return {c.in[0]}; }

std::vector<Shape> infer_pool(const OpContext& c) {
  const Shape& x = c.input(0, 4, "x, NCHW");
  if (c.node.attrs.count("kernel") == 0) c.error("attribute 'kernel' is required");
  const auto kernel = c.ints("kernel", {}, 2, 1);
  const auto strides = c.ints("strides", {1, 1}, 2, 1);
  const auto pads = c.ints("pads", {0, 0, 0, 0}, 4, 0);
  const bool ceil_mode = c.integer("ceil_mode", 0, 0, 1) != 0;
  if (c.node.op == OpType::avg_pool) c.integer("count_include_pad", 0, 0, 1);
  for (size_t i = 0; i < 4; ++i) {
    // A window entirely in the padding would have no input element.
    if (pads[i] >= kernel[i % 2]) {
      c.error("pad " + std::to_string(pads[i]) + " is not smaller than the kernel size " +
              std::to_string(kernel[i % 2]));
    }
  }
  const int64_t h = window_out(c, x[2], pads[0], pads[2], kernel[0], strides[0], ceil_mode, "height");
  const int64_t w = window_out(c, x[3], pads[1], pads[3], kernel[1], strides[1], ceil_mode, "width");
  return {{x[0], x[1], h, w}};
}

std::vector<Shape> infer_global_avg_pool(const OpContext& c) {
  Shape y = c.in[0];
  if (y.size() < 3) c.error("input has shape " + shape_to_string(y) + "; expected rank >= 3 (N, C, spatial...)");
  for (size_t i = 2; i < y.size(); ++i) y[i] = 1;
  return {y};
}

// numpy broadcasting: trailing dimensions align, missing leading ones count as 1.
Shape broadcast(const OpContext& c, const Shape& a, const Shape& b) {
  Shape y(std::max(a.size(), b.size()));
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t k = y.size() - 1 - i;
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da == 1) {
      y[k] = db;
    } else if (db == 1) {
      y[k] = da;
    } else if (!known(da) || !known(db) || da == db) {
      y[k] = known(da) ? da : db;
    } else {
      c.error("shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
    }
  }
  return y;
}

std::vector<Shape> infer_broadcast(const OpContext& c) { return {broadcast(c, c.in[0], c.in[1])}; }

std::vector<Shape> infer_concat(const OpContext& c) {
  Shape y = c.in[0];
  if (y.empty()) c.error("input 0 is a scalar; expected rank >= 1");
  const auto axis = static_cast<size_t>(c.axis(1, y.size(), 0));
  for (size_t i = 1; i < c.in.size(); ++i) {
    const Shape& s = c.in[i];
    if (s.size() != y.size()) {
      c.error("input " + std::to_string(i) + " has shape " + shape_to_string(s) + "; expected rank " +
              std::to_string(y.size()) + " like input 0 " + shape_to_string(c.in[0]));
    }
    for (size_t d = 0; d < s.size(); ++d) {
      if (d == axis) {
        y[d] = known(y[d]) && known(s[d]) ? y[d] + s[d] : kUnknown;
      } else {
        expect_dim(c, s[d], y[d], "input " + std::to_string(i) + " dimension " + std::to_string(d));
      }
    }
  }
  return {y};
}

std::vector<Shape> infer_flatten(const OpContext& c) {
  const Shape& x = c.in[0];
  const auto axis = static_cast<size_t>(c.axis(1, x.size(), 1));
  Shape y = {1, 1};
  for (size_t d = 0; d < x.size(); ++d) {
    int64_t& part = y[d < axis ? 0 : 1];
    part = known(part) && known(x[d]) ? checked_mul(part, x[d], c.where) : kUnknown;
  }
  return {y};
}

std::vector<Shape> infer_softmax(const OpContext& c) {
  if (c.in[0].empty()) c.error("input is a scalar; expected rank >= 1");
  c.axis(-1, c.in[0].size(), 0);
  return {c.in[0]};
}

std::vector<Shape> infer_clip(const OpContext& c) {
  const double lo = c.checked([&] { return attr_float(c.node.attrs, "min", -INFINITY); });
  const double hi = c.checked([&] { return attr_float(c.node.attrs, "max", INFINITY); });
  if (std::isnan(lo) || std::isnan(hi) || lo > hi) {
    c.error("attributes min = " + std::to_string(lo) + ", max = " + std::to_string(hi) +
            "; expected min <= max");
  }
  return {c.in[0]};
}

// ONNX Reshape (allowzero = 0): 0 copies the input dimension at the same index, one -1 takes
// what is left. Input and output products agree iff the input dimensions not copied by a 0
// multiply to the output dimensions that are not copies.
std::vector<Shape> infer_reshape(const OpContext& c) {
  const Shape& x = c.in[0];
  if (c.node.attrs.count("shape") == 0) c.error("attribute 'shape' is required");
  Shape y = c.checked([&] { return attr_ints(c.node.attrs, "shape", {}); });
  if (y.size() > format::kMaxRank) c.error("attribute 'shape' has rank " + std::to_string(y.size()));
  std::vector<bool> copied(x.size(), false);
  size_t free_axis = y.size();
  int64_t rest_out = 1;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0) {
      if (i >= x.size()) c.error("attribute 'shape' copies dimension " + std::to_string(i) + " of a rank-" +
                                 std::to_string(x.size()) + " input");
      y[i] = x[i];
      copied[i] = true;
    } else if (y[i] == -1) {
      if (free_axis != y.size()) c.error("attribute 'shape' has more than one -1");
      free_axis = i;
    } else if (y[i] < 1 || y[i] > format::kMaxDim) {
      c.error("attribute 'shape' value " + std::to_string(y[i]) + " out of range; expected -1, 0 or 1.." +
              std::to_string(format::kMaxDim));
    } else {
      rest_out = checked_mul(rest_out, y[i], c.where);
    }
  }
  int64_t rest_in = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    if (copied[i]) continue;
    if (!known(x[i])) return {y};  // the free dimension (if any) stays unknown
    rest_in = checked_mul(rest_in, x[i], c.where);
  }
  if (free_axis != y.size()) {
    if (rest_in % rest_out != 0) {
      c.error("cannot reshape " + shape_to_string(x) + " to " + shape_to_string(y) + ": " +
              std::to_string(rest_in) + " elements do not divide by " + std::to_string(rest_out));
    }
    y[free_axis] = rest_in / rest_out;
  } else if (rest_in != rest_out) {
    c.error("cannot reshape " + shape_to_string(x) + " to " + shape_to_string(y) + ": element counts differ");
  }
  return {y};
}

// numpy matmul: rank-1 operands are promoted (a to [1, K], b to [K, 1]) and the promoted
// dimension dropped again; leading (batch) dimensions broadcast.
std::vector<Shape> infer_matmul(const OpContext& c) {
  Shape a = c.in[0], b = c.in[1];
  if (a.empty() || b.empty()) c.error("matmul of a scalar; expected rank >= 1 operands");
  const bool vec_a = a.size() == 1, vec_b = b.size() == 1;
  if (vec_a) a.insert(a.begin(), 1);
  if (vec_b) b.push_back(1);
  expect_dim(c, b[b.size() - 2], a.back(), "inner dimension of input 1");
  Shape y = broadcast(c, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!vec_a) y.push_back(a[a.size() - 2]);
  if (!vec_b) y.push_back(b.back());
  return {y};
}

// ONNX Gemm: y = alpha * A' B' + beta * C, A' = trans_a ? A^T : A; C broadcasts to [M, N].
std::vector<Shape> infer_gemm(const OpContext& c) {
  const Shape& a = c.input(0, 2, "A");
  const Shape& b = c.input(1, 2, "B");
  const bool ta = c.integer("trans_a", 0, 0, 1) != 0;
  const bool tb = c.integer("trans_b", 0, 0, 1) != 0;
  for (const char* key : {"alpha", "beta"}) {
    const double v = c.checked([&] { return attr_float(c.node.attrs, key, 1.0); });
    if (!std::isfinite(v)) c.error(std::string("attribute '") + key + "' is not finite");
  }
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  expect_dim(c, kb, k, "inner dimension of B");
  const Shape y = {m, n};
  if (c.in.size() == 3) {
    const Shape& bias = c.in[2];
    if (bias.size() > 2 || broadcast(c, y, bias) != y) {
      c.error("C has shape " + shape_to_string(bias) + "; expected one that broadcasts to " + shape_to_string(y));
    }
  }
  return {y};
}

using InferFn = std::vector<Shape> (*)(const OpContext&);

struct OpRule {
  OpType op;
  size_t min_inputs, max_inputs;
  size_t outputs;
  size_t constants_from;  // inputs from this index on must be constant tensors
  InferFn infer;
};

// Indexed by OpType.
constexpr OpRule kOpRules[] = {
    {OpType::conv2d, 2, 3, 1, 1, infer_conv2d},
    {OpType::linear, 2, 3, 1, 1, infer_linear},
    {OpType::batch_norm, 5, 5, 1, 1, infer_batch_norm},
    {OpType::relu, 1, 1, 1, kNoConstants, infer_same},
    {OpType::max_pool, 1, 1, 1, kNoConstants, infer_pool},
    {OpType::avg_pool, 1, 1, 1, kNoConstants, infer_pool},
    {OpType::global_avg_pool, 1, 1, 1, kNoConstants, infer_global_avg_pool},
    {OpType::add, 2, 2, 1, kNoConstants, infer_broadcast},
    {OpType::concat, 1, format::kMaxNodeValues, 1, kNoConstants, infer_concat},
    {OpType::flatten, 1, 1, 1, kNoConstants, infer_flatten},
    {OpType::softmax, 1, 1, 1, kNoConstants, infer_softmax},
    {OpType::mul, 2, 2, 1, kNoConstants, infer_broadcast},
    {OpType::clip, 1, 1, 1, kNoConstants, infer_clip},
    {OpType::reshape, 1, 1, 1, kNoConstants, infer_reshape},
    {OpType::matmul, 2, 2, 1, kNoConstants, infer_matmul},
    {OpType::gemm, 2, 3, 1, kNoConstants, infer_gemm},
};
static_assert(std::size(kOpRules) == kOpTypeCount, "one shape rule per OpType");

constexpr bool rules_in_order() {
  for (size_t i = 0; i < std::size(kOpRules); ++i) {
    if (static_cast<size_t>(kOpRules[i].op) != i) return false;
  }
  return true;
}
static_assert(rules_in_order(), "kOpRules must be indexed by OpType");

// Element count with unknown dimensions counted as 1: what one batch item needs.
void check_size(const Shape& s, const std::string& where) {
  int64_t n = 1;
  for (const int64_t d : s) {
    n = checked_mul(n, known(d) ? d : 1, where);
    if (n > kMaxElements) fail(where, "more than " + std::to_string(kMaxElements) + " elements");
  }
}

}  // namespace

std::string shape_to_string(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::map<std::string, Shape> infer_shapes(const Graph& graph, const std::string& where) {
  std::map<std::string, Shape> shapes;
  auto define = [&](const std::string& name, Shape shape, const std::string& by) {
    if (!shapes.emplace(name, std::move(shape)).second) {
      fail(where, by + " defines '" + name + "', which is already defined");
    }
  };
  std::set<std::string> constants;
  for (const Tensor& t : graph.tensors) {
    define(t.name, t.shape, "tensor '" + t.name + "'");
    constants.insert(t.name);
  }
  for (const ValueInfo& v : graph.inputs) {
    check_size(v.shape, where + ": graph input '" + v.name + "'");
    define(v.name, v.shape, "graph input '" + v.name + "'");
  }

  for (const Node& node : graph.nodes) {
    const size_t op = static_cast<size_t>(node.op);
    if (op >= std::size(kOpRules)) {
      fail(where, "node '" + node.name + "': unknown operator id " + std::to_string(op));
    }
    const OpRule& rule = kOpRules[op];
    OpContext c{node, {}, where + ": node '" + node.name + "' (" + op_name(node.op) + ")"};
    if (node.inputs.size() < rule.min_inputs || node.inputs.size() > rule.max_inputs) {
      c.error("has " + std::to_string(node.inputs.size()) + " inputs; expected " +
              std::to_string(rule.min_inputs) +
              (rule.max_inputs == rule.min_inputs ? "" : ".." + std::to_string(rule.max_inputs)));
    }
    if (node.outputs.size() != rule.outputs) {
      c.error("has " + std::to_string(node.outputs.size()) + " outputs; expected " +
              std::to_string(rule.outputs));
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const auto it = shapes.find(node.inputs[i]);
      if (it == shapes.end()) {
        c.error("input '" + node.inputs[i] + "' is not defined before use (expected a graph input, "
                "a tensor or an earlier node's output)");
      }
      if (i >= rule.constants_from && constants.count(node.inputs[i]) == 0) {
        c.error("input " + std::to_string(i) + " '" + node.inputs[i] + "' must be a constant tensor");
      }
      c.in.push_back(it->second);
    }
    std::vector<Shape> out = rule.infer(c);
    for (size_t i = 0; i < out.size(); ++i) {
      check_size(out[i], c.where + ": output '" + node.outputs[i] + "'");
      define(node.outputs[i], std::move(out[i]), "node '" + node.name + "'");
    }
  }
  return shapes;
}

}  // namespace stern
