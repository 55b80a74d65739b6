#include "train/graph_net.h"

#include <cmath>
#include <map>

#include "stern/error.h"
#include "stern/shape.h"

namespace stern::train {
namespace {

bool all_equal(const std::vector<int64_t>& v, int64_t value) {
  for (int64_t x : v) {
    if (x != value) return false;
  }
  return true;
}

// Walks the nodes in order, keeping the value the Net's stack machine holds (`current`) and
// the values it has saved (`stack`); a value needed again later is pushed before its first
// consumer, and a consumer of the saved value swaps it back first.
class Converter {
 public:
  Converter(const Graph& g, const LayerQuantizer& quantizer)
      : g_(g), quantizer_(quantizer), shapes_(infer_shapes(g, "graph -> LibTorch")) {}

  GraphNet run() {
    if (g_.inputs.size() != 1 || g_.outputs.size() != 1) {
      fail("graph -> LibTorch", "the model must have one input and one output (has " +
                                    std::to_string(g_.inputs.size()) + " and " +
                                    std::to_string(g_.outputs.size()) + ")");
    }
    const ValueInfo& in = g_.inputs[0];
    if (in.shape.size() != 4 || in.shape[1] < 1 || in.shape[2] < 1 || in.shape[3] < 1) {
      fail("graph -> LibTorch: input '" + in.name + "'",
           "shape " + shape_to_string(in.shape) + "; expected [N, C, H, W] with known C, H, W");
    }
    out_.net = Net();
    out_.net->input_shape = {in.shape[1], in.shape[2], in.shape[3]};
    size_t count = 0;
    for (const Node& n : g_.nodes) {
      count += n.op == OpType::conv2d || n.op == OpType::linear;
      for (const std::string& v : n.inputs) {
        if (!g_.find_tensor(v)) ++uses_[v];
      }
    }
    layer_count_ = count;
    current_ = in.name;
    for (size_t i = 0; i < g_.nodes.size(); ++i) convert(g_.nodes[i], i);
    if (current_ != g_.outputs[0].name || !stack_.empty()) {
      fail("graph -> LibTorch: output '" + g_.outputs[0].name + "'",
           "is not the value the last node computes; only single-path graphs with residual adds "
           "are supported");
    }
    return std::move(out_);
  }

 private:
  std::string where(const Node& n, size_t i) const {
    return "graph -> LibTorch: node " + std::to_string(i) + " '" + n.name + "' (" +
           op_name(n.op) + ")";
  }

  // Makes `v` the current value, saving a copy when a later node needs it too.
  void take(const std::string& v, const std::string& w) {
    if (v != current_) {
      if (stack_.empty() || stack_.back() != v) {
        fail(w, "input '" + v + "' is neither the previous result nor the saved residual "
                "branch; only single-path graphs with residual adds are supported");
      }
      out_.net->add(Step::swap);
      std::swap(current_, stack_.back());
    }
    if (--uses_[v] > 0) {
      out_.net->add(Step::push);
      stack_.push_back(v);
    }
  }

  torch::Tensor constant(const Node& n, size_t input, const std::string& w) const {
    const Tensor* t = input < n.inputs.size() ? g_.find_tensor(n.inputs[input]) : nullptr;
    if (t == nullptr) fail(w, "input " + std::to_string(input) + " must be a constant tensor");
    const std::vector<float> v = t->to_floats();
    return torch::tensor(v, torch::kFloat).reshape(t->shape);
  }

  void convert(const Node& n, size_t i) {
    const std::string w = where(n, i);
    switch (n.op) {
      case OpType::conv2d:
      case OpType::linear: layer(n, w); break;
      case OpType::batch_norm: batch_norm(n, w); break;
      case OpType::relu: simple(n, w, Step::relu); break;
      case OpType::clip: {
        const double max = attr_float(n.attrs, "max", INFINITY);
        if (attr_float(n.attrs, "min", -INFINITY) != 0 || (max != 6 && max != INFINITY)) {
          fail(w, "only a clip with min 0 and max 6 or none (ReLU6, ReLU) is supported");
        }
        simple(n, w, max == 6 ? Step::relu6 : Step::relu);
        break;
      }
      case OpType::max_pool:
      case OpType::avg_pool: pool(n, w); break;
      case OpType::global_avg_pool: simple(n, w, Step::global_avg_pool); break;
      case OpType::flatten:
        if (attr_int(n.attrs, "axis", 1) != 1) fail(w, "only axis 1 is supported");
        simple(n, w, Step::flatten);
        break;
      case OpType::reshape: {
        const Shape& s = shapes_.at(n.outputs.at(0));
        if (s.size() != 2 || shapes_.at(n.inputs.at(0)).empty()) {
          fail(w, "only a reshape to [N, -1] (a flatten) is supported; output " + shape_to_string(s));
        }
        simple(n, w, Step::flatten);
        break;
      }
      case OpType::add: add(n, w); break;
      default:
        fail(w, "operator not supported for training; supported: conv2d, linear, batch_norm, "
                "relu, clip (as ReLU or ReLU6), max_pool, avg_pool, global_avg_pool, flatten, "
                "reshape (to [N, -1]), add (residual)");
    }
    if (n.outputs.size() != 1) fail(w, "expected one output");
    current_ = n.outputs[0];
  }

  void simple(const Node& n, const std::string& w, Step::Kind kind, int kernel = 2) {
    take(n.inputs.at(0), w);
    out_.net->add(kind, kernel);
  }

  void layer(const Node& n, const std::string& w) {
    const bool conv = n.op == OpType::conv2d;
    const torch::Tensor weight = constant(n, 1, w);
    const bool has_bias = n.inputs.size() > 2;
    int64_t kernel = 1, stride = 1, pad = 0, in = weight.size(1);
    if (conv) {
      const auto strides = attr_ints(n.attrs, "strides", {1, 1});
      const auto pads = attr_ints(n.attrs, "pads", {0, 0, 0, 0});
      if (weight.size(1) != weight.size(2)) fail(w, "only square kernels are supported");
      if (strides.size() != 2 || strides[0] != strides[1]) fail(w, "only equal strides are supported");
      if (pads.size() != 4 || !all_equal(pads, pads[0])) fail(w, "only equal pads on all sides are supported");
      if (!all_equal(attr_ints(n.attrs, "dilations", {1, 1}), 1)) fail(w, "dilations are not supported");
      if (attr_int(n.attrs, "groups", 1) != 1) fail(w, "grouped convolution is not supported");
      kernel = weight.size(1);
      stride = strides[0];
      pad = pads[0];
      in = weight.size(3);
    } else if (shapes_.at(n.inputs.at(0)).size() != 2) {
      fail(w, "only a rank-2 input [N, features] is supported");
    }
    QuantSpec spec = quantizer_(n, out_.layer_nodes.size(), layer_count_);
    spec.act_bits = static_cast<int>(attr_int(n.attrs, "act_bits", 0));
    spec.act_signed = attr_int(n.attrs, "act_signed", 0) != 0;
    const double scale = spec.act_bits > 0 ? attr_float(n.attrs, "act_scale", 0.0) : 1.0;
    if (!(scale > 0)) fail(w, "act_scale must be positive when act_bits is set");
    if (const int64_t zero_point = attr_int(n.attrs, "act_zero_point", 0); zero_point != 0)
      fail(w, "act_zero_point " + std::to_string(zero_point) +
                  " is not supported by the trainer (its activation quantizers have zero point 0)");

    take(n.inputs.at(0), w);
    // add_layer leaves the bias out when a norm follows; here the graph decides.
    QLayer l = out_.net->add_layer(in, weight.size(0), kernel, stride, pad, conv, spec, !has_bias);
    torch::NoGradGuard no_grad;
    l->weight.copy_(conv ? weight.permute({0, 3, 1, 2}) : weight);  // OHWI -> OIHW
    if (has_bias) l->bias.copy_(constant(n, 2, w).reshape({-1}));
    if (spec.act_bits > 0) {
      l->act_log_scale.fill_(std::log(scale));
      l->act_ready.fill_(true);
    }
    out_.layer_nodes.push_back(n.name);
  }

  void batch_norm(const Node& n, const std::string& w) {
    const torch::Tensor scale = constant(n, 1, w).reshape({-1});
    take(n.inputs.at(0), w);
    out_.net->add_batch_norm(scale.size(0));
    auto& bn = out_.net->norms.back();
    torch::NoGradGuard no_grad;
    bn->options.eps(attr_float(n.attrs, "epsilon", 1e-5));
    bn->weight.copy_(scale);
    bn->bias.copy_(constant(n, 2, w).reshape({-1}));
    bn->running_mean.copy_(constant(n, 3, w).reshape({-1}));
    bn->running_var.copy_(constant(n, 4, w).reshape({-1}));
  }

  void pool(const Node& n, const std::string& w) {
    const auto kernel = attr_ints(n.attrs, "kernel", {});
    const auto strides = attr_ints(n.attrs, "strides", kernel);
    const Shape& s = shapes_.at(n.inputs.at(0));
    const bool square = kernel.size() == 2 && kernel[0] == kernel[1] && strides == kernel;
    if (!square || !all_equal(attr_ints(n.attrs, "pads", {0, 0, 0, 0}), 0)) {
      fail(w, "only square windows with stride = kernel and no padding are supported");
    }
    // ceil_mode only matters when the window does not tile the input.
    if (attr_int(n.attrs, "ceil_mode", 0) != 0 && (s[2] % kernel[0] != 0 || s[3] % kernel[0] != 0)) {
      fail(w, "ceil_mode on an input the window does not tile is not supported");
    }
    // Without padding avg_pool's count_include_pad changes nothing.
    simple(n, w, n.op == OpType::max_pool ? Step::max_pool : Step::avg_pool, static_cast<int>(kernel[0]));
  }

  void add(const Node& n, const std::string& w) {
    if (n.inputs.size() != 2 || g_.find_tensor(n.inputs[0]) || g_.find_tensor(n.inputs[1])) {
      fail(w, "only the sum of two computed values (a residual add) is supported");
    }
    const std::string& other = n.inputs[0] == current_ ? n.inputs[1] : n.inputs[0];
    if ((n.inputs[0] != current_ && n.inputs[1] != current_) || stack_.empty() ||
        stack_.back() != other) {
      fail(w, "operands are not the previous result and the saved residual branch");
    }
    if (shapes_.at(n.inputs[0]) != shapes_.at(n.inputs[1])) fail(w, "broadcasting is not supported");
    if (--uses_[current_] > 0 || --uses_[other] > 0) fail(w, "an operand is used again after the add");
    out_.net->add(Step::add);
    stack_.pop_back();
  }

  const Graph& g_;
  const LayerQuantizer& quantizer_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, int> uses_;  // consumers not converted yet
  std::string current_;
  std::vector<std::string> stack_;
  size_t layer_count_ = 0;
  GraphNet out_;
};

}  // namespace

GraphNet net_from_graph(const Graph& graph, const LayerQuantizer& quantizer) {
  return Converter(graph, quantizer).run();
}

}  // namespace stern::train
