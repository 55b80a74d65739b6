// ONNX -> stern Graph. Each supported ONNX operator has one converter in the table at the
// bottom; a converter declares the attributes it understands, so anything else is refused
// with the node, op type and attribute named (never silently ignored).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "data/file_bytes.h"
#include "onnx/tensor_proto.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/onnx.h"
#include "stern/shape.h"

namespace stern {
namespace {

using onnx_io::ConstTensor;
namespace pb = ::onnx;

constexpr int64_t kMaxNodes = 1 << 20;

class Importer;

// One ONNX node being converted: attribute access that records what was read, so that
// unread attributes can be reported as unsupported.
class NodeCtx {
 public:
  NodeCtx(Importer& im, const pb::NodeProto& node, std::string label)
      : im_(im), node_(node), label_(std::move(label)) {}

  const pb::NodeProto& node() const { return node_; }
  const std::string& label() const { return label_; }
  [[noreturn]] void error(const std::string& what) const { throw Error(label_ + ": " + what); }
  [[noreturn]] void unsupported_attr(const std::string& attr, const std::string& why) const {
    error("attribute '" + attr + "' " + why);
  }

  const pb::AttributeProto* find(const std::string& name) {
    for (const auto& a : node_.attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }
  bool has(const std::string& name) { return find(name) != nullptr; }
  int64_t get_int(const std::string& name, int64_t fallback) {
    const auto* a = find(name);
    if (!a) return fallback;
    if (a->type() != pb::AttributeProto::INT) unsupported_attr(name, "must be an int");
    return a->i();
  }
  double get_float(const std::string& name, double fallback) {
    const auto* a = find(name);
    if (!a) return fallback;
    if (a->type() != pb::AttributeProto::FLOAT) unsupported_attr(name, "must be a float");
    return a->f();
  }
  std::string get_string(const std::string& name, const std::string& fallback) {
    const auto* a = find(name);
    if (!a) return fallback;
    if (a->type() != pb::AttributeProto::STRING) unsupported_attr(name, "must be a string");
    return a->s();
  }
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback) {
    const auto* a = find(name);
    if (!a) return fallback;
    if (a->type() != pb::AttributeProto::INTS) unsupported_attr(name, "must be a list of ints");
    return {a->ints().begin(), a->ints().end()};
  }

  // Refuses attributes outside `known` (the converter's complete list).
  void allow_only(std::initializer_list<const char*> known) {
    for (const auto& a : node_.attribute()) {
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return a.name() == k; })) {
        unsupported_attr(a.name(), "is not supported");
      }
    }
  }

  // Input i resolved through aliases ("" when absent or optional-empty).
  std::string input(int i) const;
  int num_inputs() const;
  std::string output(int i) const;
  void inputs_between(int lo, int hi) const {
    const int n = num_inputs();
    if (n < lo || n > hi) {
      error("has " + std::to_string(n) + " inputs, expected " + std::to_string(lo) +
            (lo == hi ? "" : " to " + std::to_string(hi)));
    }
  }
  // Only output 0 may be used: optional extra outputs (masks, indices, running statistics)
  // have no stern equivalent.
  void single_output() const {
    for (int i = 1; i < node_.output_size(); ++i) {
      if (!node_.output(i).empty()) {
        error("output " + std::to_string(i) + " ('" + node_.output(i) +
              "') is not supported (only the first output)");
      }
    }
    if (node_.output_size() < 1 || node_.output(0).empty()) error("has no output");
  }

 private:
  Importer& im_;
  const pb::NodeProto& node_;
  std::string label_;
};

class Importer {
 public:
  Importer(std::string where, std::filesystem::path base_dir)
      : where_(std::move(where)), base_dir_(std::move(base_dir)) {}

  Graph run(const pb::ModelProto& model);

  // --- used by converters ---
  int64_t opset() const { return opset_; }
  std::string resolve(const std::string& name) const {
    auto it = alias_.find(name);
    return it == alias_.end() ? name : it->second;
  }
  void set_alias(const std::string& from, const std::string& to) { alias_[from] = resolve(to); }
  bool is_const(const std::string& name) const { return consts_.count(name) != 0; }
  const ConstTensor& const_tensor(const NodeCtx& n, const std::string& name, const char* role) {
    auto it = consts_.find(name);
    if (it == consts_.end()) {
      if (!defined_.count(name)) {
        n.error(std::string(role) + " '" + name + "' is not defined (missing initializer?)");
      }
      n.error(std::string(role) + " '" + name + "' is computed; only a constant (initializer or "
              "Constant) is supported here, a computed one is not supported");
    }
    return it->second;
  }
  const ConstTensor& const_floats(const NodeCtx& n, const std::string& name, const char* role) {
    const auto& t = const_tensor(n, name, role);
    if (!t.is_float()) {
      n.error(std::string(role) + " '" + name + "' has data type " +
              onnx_io::data_type_name(t.data_type) + ", which is not supported (expected FLOAT)");
    }
    return t;
  }
  const ConstTensor& const_ints(const NodeCtx& n, const std::string& name, const char* role) {
    const auto& t = const_tensor(n, name, role);
    if (t.is_float()) n.error(std::string(role) + " '" + name + "' is FLOAT; expected INT64");
    return t;
  }
  void add_const(const std::string& name, ConstTensor t) { consts_[name] = std::move(t); }

  // Activation quantization written as QuantizeLinear -> DequantizeLinear [-> Clip] (what
  // stern's exporter writes) folds into the act_* attributes of the consuming layer.
  struct ActQuant {
    std::string source;
    double scale = 0;
    bool is_signed = false;
    int64_t bits = 8;
    int64_t zero_point = 0;
  };
  std::map<std::string, ActQuant> quantized_;    // QuantizeLinear outputs
  std::map<std::string, ActQuant> dequantized_;  // DequantizeLinear [+ Clip] outputs
  // The input of a conv2d/linear: a pending activation quantizer becomes its attributes.
  std::string layer_input(const NodeCtx& n, const std::string& name, Attributes* attrs) {
    auto it = dequantized_.find(name);
    if (it == dequantized_.end()) return value(n, name);
    (*attrs)["act_bits"] = it->second.bits;
    (*attrs)["act_scale"] = it->second.scale;
    (*attrs)["act_signed"] = int64_t{it->second.is_signed ? 1 : 0};
    if (it->second.zero_point != 0) (*attrs)["act_zero_point"] = it->second.zero_point;
    return value(n, it->second.source);
  }

  // A value usable as a node input: runtime values pass through, float constants become
  // graph tensors (once, under their ONNX name).
  std::string value(const NodeCtx& n, const std::string& name) {
    if (quantized_.count(name) || dequantized_.count(name)) {
      n.error("input '" + name + "' comes from QuantizeLinear/DequantizeLinear; quantized "
              "activations are supported only as the input of Conv, Gemm or MatMul, not here");
    }
    if (!is_const(name)) {
      if (!defined_.count(name)) n.error("input '" + name + "' is not defined before use");
      return name;
    }
    const auto& t = const_floats(n, name, "input");
    add_tensor(n, name, t.dims, t.floats);
    return name;
  }
  void add_tensor(const NodeCtx& n, const std::string& name, std::vector<int64_t> dims,
                  const std::vector<float>& values) {
    if (auto* existing = graph_.find_tensor(name)) {
      if (existing->shape != dims || existing->to_floats() != values) {
        n.error("initializer '" + name + "' is shared by layers that need different layouts");
      }
      return;
    }
    graph_.tensors.push_back(Tensor::from_floats(name, std::move(dims), values));
  }
  // A fresh name for tensors derived from an initializer (transposed, folded).
  std::string derived_name(const std::string& base, const char* suffix) {
    std::string name = base + suffix;
    while (used_names_.count(name) || graph_.find_tensor(name)) name += "_";
    used_names_.insert(name);
    return name;
  }

  void emit(const NodeCtx& n, OpType op, std::vector<std::string> inputs, const std::string& output,
            Attributes attrs = {}) {
    Node node;
    node.op = op;
    node.name = n.node().name().empty() ? output : n.node().name();
    if (emitted_names_.count(node.name)) node.name = output;
    emitted_names_.insert(node.name);
    node.inputs = std::move(inputs);
    node.outputs = {output};
    node.attrs = std::move(attrs);
    graph_.nodes.push_back(std::move(node));
    defined_.insert(output);
    shapes_valid_ = false;
  }

  // Shape of a runtime value, by stern's shape inference over the graph built so far.
  Shape shape_of(const NodeCtx& n, const std::string& name) {
    if (const auto* c = consts_.count(name) ? &consts_.at(name) : nullptr) return c->dims;
    // A dequantized activation is not in the graph (it folds into its reader): its source's.
    if (auto dq = dequantized_.find(name); dq != dequantized_.end()) return shape_of(n, dq->second.source);
    if (!shapes_valid_) {
      Graph partial;
      partial.inputs = graph_.inputs;
      partial.nodes = graph_.nodes;
      partial.tensors = graph_.tensors;
      shapes_ = infer_shapes(partial, where_);
      shapes_valid_ = true;
    }
    auto it = shapes_.find(name);
    if (it == shapes_.end()) n.error("the shape of '" + name + "' is unknown");
    return it->second;
  }
  int64_t normalize_axis(const NodeCtx& n, int64_t axis, int64_t rank, const char* attr) {
    if (axis < -rank || axis >= rank) {
      n.unsupported_attr(attr, "= " + std::to_string(axis) + " is out of range for rank " +
                                   std::to_string(rank));
    }
    return axis < 0 ? axis + rank : axis;
  }

 private:
  void read_opset(const pb::ModelProto& model);
  void read_inputs(const pb::GraphProto& g);
  void convert_node(const pb::NodeProto& node, int64_t index);
  void finish_outputs(const pb::GraphProto& g);

  std::string where_;
  std::filesystem::path base_dir_;
  int64_t opset_ = 0;
  Graph graph_;
  std::map<std::string, ConstTensor> consts_;
  std::map<std::string, std::string> alias_;
  std::set<std::string> defined_;  // graph inputs and node outputs
  std::set<std::string> used_names_;
  std::set<std::string> emitted_names_;
  std::map<std::string, Shape> shapes_;
  bool shapes_valid_ = false;
};

std::string NodeCtx::input(int i) const {
  if (i >= node_.input_size() || node_.input(i).empty()) return "";
  return im_.resolve(node_.input(i));
}
int NodeCtx::num_inputs() const {
  int n = node_.input_size();
  while (n > 0 && node_.input(n - 1).empty()) --n;
  return n;
}
std::string NodeCtx::output(int i) const { return node_.output(i); }

// ---------------------------------------------------------------------------------------
// Converters

using Converter = void (*)(Importer&, NodeCtx&);

// 2-D spatial attributes shared by Conv and the pools. ONNX pads are
// [h_begin, w_begin, h_end, w_end], the order stern uses too.
struct Spatial {
  std::vector<int64_t> kernel, strides, pads, dilations;
};

Spatial read_spatial(Importer& im, NodeCtx& n, const std::string& x, std::vector<int64_t> kernel,
                     bool has_dilations) {
  Spatial s;
  s.kernel = n.get_ints("kernel_shape", kernel);
  if (s.kernel.size() != 2) {
    n.unsupported_attr("kernel_shape", "has rank " + std::to_string(s.kernel.size()) +
                                           ", which is not supported (only 2-D, NCHW)");
  }
  if (s.kernel != kernel && !kernel.empty()) n.unsupported_attr("kernel_shape", "contradicts the weight shape");
  s.strides = n.get_ints("strides", {1, 1});
  s.dilations = has_dilations ? n.get_ints("dilations", {1, 1}) : std::vector<int64_t>{1, 1};
  s.pads = n.get_ints("pads", {0, 0, 0, 0});
  if (s.strides.size() != 2) n.unsupported_attr("strides", "must have 2 values");
  if (s.dilations.size() != 2) n.unsupported_attr("dilations", "must have 2 values");
  if (s.pads.size() != 4) n.unsupported_attr("pads", "must have 4 values");
  for (int i = 0; i < 2; ++i) {
    if (s.kernel[i] < 1) n.unsupported_attr("kernel_shape", "must be positive");
    if (s.strides[i] < 1) n.unsupported_attr("strides", "must be positive");
    if (s.dilations[i] < 1) n.unsupported_attr("dilations", "must be positive");
  }
  for (int64_t p : s.pads) {
    if (p < 0) n.unsupported_attr("pads", "must be non-negative");
  }
  const std::string auto_pad = n.get_string("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    s.pads = {0, 0, 0, 0};
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const Shape xs = im.shape_of(n, x);
    if (xs.size() != 4) n.error("input '" + x + "' must be 4-D (NCHW)");
    for (int i = 0; i < 2; ++i) {
      const int64_t in = xs[2 + i];
      if (in < 0) n.unsupported_attr("auto_pad", "with an unknown spatial input size is not supported");
      const int64_t out = (in + s.strides[i] - 1) / s.strides[i];
      const int64_t extent = (s.kernel[i] - 1) * s.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s.strides[i] + extent - in);
      const int64_t small = total / 2;
      s.pads[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      s.pads[2 + i] = total - s.pads[i];
    }
  } else if (auto_pad != "NOTSET") {
    n.unsupported_attr("auto_pad", "= '" + auto_pad + "' is not a valid value");
  }
  return s;
}

// OIHW -> OHWI: the fan-in order (kh, kw, in) of encoding.h.
std::vector<float> oihw_to_ohwi(const std::vector<float>& w, const std::vector<int64_t>& d) {
  const int64_t O = d[0], I = d[1], H = d[2], W = d[3];
  std::vector<float> out(w.size());
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t x = 0; x < W; ++x)
          out[((o * H + h) * W + x) * I + i] = w[((o * I + i) * H + h) * W + x];
  return out;
}

void convert_conv(Importer& im, NodeCtx& n) {
  n.allow_only({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  n.inputs_between(2, 3);
  n.single_output();
  Attributes attrs;
  const std::string x = im.layer_input(n, n.input(0), &attrs);
  const auto& w = im.const_floats(n, n.input(1), "weight");
  if (w.dims.size() != 4) {
    n.error("weight '" + n.input(1) + "' has rank " + std::to_string(w.dims.size()) +
            ", which is not supported (only 2-D convolution, OIHW weights)");
  }
  const Spatial s = read_spatial(im, n, x, {w.dims[2], w.dims[3]}, /*has_dilations=*/true);
  const int64_t group = n.get_int("group", 1);
  if (group < 1 || w.dims[0] % group != 0) n.unsupported_attr("group", "must divide the output channels");
  const std::string wname = im.derived_name(n.input(1), ":ohwi");
  im.add_tensor(n, wname, {w.dims[0], w.dims[2], w.dims[3], w.dims[1]}, oihw_to_ohwi(w.floats, w.dims));
  std::vector<std::string> inputs{x, wname};
  if (!n.input(2).empty()) {
    const auto& b = im.const_floats(n, n.input(2), "bias");
    if (b.numel() != w.dims[0]) n.error("bias '" + n.input(2) + "' does not have one value per output channel");
    inputs.push_back(im.value(n, n.input(2)));
  }
  attrs.insert({{"strides", s.strides}, {"pads", s.pads}, {"dilations", s.dilations}, {"groups", group}});
  im.emit(n, OpType::conv2d, inputs, n.output(0), attrs);
}

// Linear when the weight is a constant matrix and the bias broadcasts along rows; a general
// gemm otherwise.
void convert_gemm(Importer& im, NodeCtx& n) {
  if (im.opset() < 7) n.allow_only({"alpha", "beta", "transA", "transB", "broadcast"});
  else n.allow_only({"alpha", "beta", "transA", "transB"});
  n.inputs_between(2, 3);
  n.single_output();
  const double alpha = n.get_float("alpha", 1.0);
  const double beta = n.get_float("beta", 1.0);
  const int64_t trans_a = n.get_int("transA", 0);
  const int64_t trans_b = n.get_int("transB", 0);
  const std::string a = n.input(0), b = n.input(1), c = n.input(2);

  bool linear = trans_a == 0 && im.is_const(b) && !im.is_const(a);
  int64_t out_features = 0;
  if (linear) {
    const auto& bt = im.const_floats(n, b, "B");
    if (bt.dims.size() != 2) n.error("B '" + b + "' must be 2-D");
    out_features = trans_b ? bt.dims[0] : bt.dims[1];
    if (!c.empty()) {
      if (!im.is_const(c)) {
        linear = false;
      } else {
        const auto& ct = im.const_floats(n, c, "C");
        const int64_t cn = ct.numel();
        const bool row = cn == 1 || (cn == out_features && (ct.dims.size() == 1 ||
                                                            (ct.dims.size() == 2 && ct.dims[0] == 1)));
        linear = row;
      }
    }
  }
  if (!linear) {
    std::vector<std::string> inputs{im.value(n, a), im.value(n, b)};
    if (!c.empty()) inputs.push_back(im.value(n, c));
    im.emit(n, OpType::gemm, inputs, n.output(0),
            {{"trans_a", trans_a}, {"trans_b", trans_b}, {"alpha", alpha}, {"beta", beta}});
    return;
  }
  const auto& bt = im.const_floats(n, b, "B");
  const int64_t in_features = trans_b ? bt.dims[1] : bt.dims[0];
  std::vector<float> w(bt.floats.size());
  for (int64_t o = 0; o < out_features; ++o)
    for (int64_t i = 0; i < in_features; ++i)
      w[o * in_features + i] = static_cast<float>(
          alpha * (trans_b ? bt.floats[o * in_features + i] : bt.floats[i * out_features + o]));
  Attributes attrs;
  const std::string x = im.layer_input(n, a, &attrs);
  const std::string wname = (alpha == 1.0 && trans_b) ? b : im.derived_name(b, ":w");
  im.add_tensor(n, wname, {out_features, in_features}, w);
  std::vector<std::string> inputs{x, wname};
  if (!c.empty()) {
    const auto& ct = im.const_floats(n, c, "C");
    std::vector<float> bias(static_cast<size_t>(out_features));
    for (int64_t o = 0; o < out_features; ++o) {
      bias[o] = static_cast<float>(beta * ct.floats[ct.numel() == 1 ? 0 : o]);
    }
    const bool same = beta == 1.0 && ct.dims == std::vector<int64_t>{out_features};
    const std::string bname = same ? c : im.derived_name(c, ":b");
    im.add_tensor(n, bname, {out_features}, bias);
    inputs.push_back(bname);
  }
  im.emit(n, OpType::linear, inputs, n.output(0), attrs);
}

void convert_matmul(Importer& im, NodeCtx& n) {
  n.allow_only({});
  n.inputs_between(2, 2);
  n.single_output();
  const std::string a = n.input(0), b = n.input(1);
  if (!im.is_const(a) && im.is_const(b) && im.const_floats(n, b, "B").dims.size() == 2 &&
      im.shape_of(n, a).size() == 2) {
    const auto& bt = im.const_floats(n, b, "B");
    const int64_t in = bt.dims[0], out = bt.dims[1];
    std::vector<float> w(bt.floats.size());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) w[o * in + i] = bt.floats[i * out + o];
    const std::string wname = im.derived_name(b, ":w");
    im.add_tensor(n, wname, {out, in}, w);
    Attributes attrs;
    const std::string x = im.layer_input(n, a, &attrs);
    im.emit(n, OpType::linear, {x, wname}, n.output(0), attrs);
    return;
  }
  im.emit(n, OpType::matmul, {im.value(n, a), im.value(n, b)}, n.output(0));
}

void convert_binary(Importer& im, NodeCtx& n, OpType op) {
  n.inputs_between(2, 2);
  n.single_output();
  const std::string a = im.value(n, n.input(0)), b = im.value(n, n.input(1));
  if (im.opset() < 7) {
    // Opset 6 broadcasts only with broadcast = 1, aligning B at `axis` (default: as a
    // suffix, which is numpy's alignment); without it the shapes must be equal.
    n.allow_only({"broadcast", "axis"});
    if (n.has("axis")) {
      const int64_t ra = static_cast<int64_t>(im.shape_of(n, a).size());
      const int64_t rb = static_cast<int64_t>(im.shape_of(n, b).size());
      if (im.normalize_axis(n, n.get_int("axis", 0), ra, "axis") != ra - rb) {
        n.unsupported_attr("axis", "other than suffix alignment is not supported (opset < 7)");
      }
    }
    if (n.get_int("broadcast", 0) == 0 && im.shape_of(n, a) != im.shape_of(n, b)) {
      n.error("operand shapes differ and broadcast = 0");
    }
  } else {
    n.allow_only({});
  }
  im.emit(n, op, {a, b}, n.output(0));
}
void convert_add(Importer& im, NodeCtx& n) { convert_binary(im, n, OpType::add); }
void convert_mul(Importer& im, NodeCtx& n) { convert_binary(im, n, OpType::mul); }

void convert_relu(Importer& im, NodeCtx& n) {
  n.allow_only({});
  n.inputs_between(1, 1);
  n.single_output();
  im.emit(n, OpType::relu, {im.value(n, n.input(0))}, n.output(0));
}

void convert_clip(Importer& im, NodeCtx& n) {
  n.single_output();
  Attributes attrs;
  if (im.opset() < 11) {
    n.allow_only({"min", "max"});
    n.inputs_between(1, 1);
    if (n.has("min")) attrs["min"] = n.get_float("min", 0);
    if (n.has("max")) attrs["max"] = n.get_float("max", 0);
  } else {
    n.allow_only({});
    n.inputs_between(1, 3);
    const char* keys[] = {"min", "max"};
    for (int i = 0; i < 2; ++i) {
      const std::string name = n.input(1 + i);
      if (name.empty()) continue;
      const auto& t = im.const_floats(n, name, keys[i]);
      if (t.numel() != 1) n.error(std::string(keys[i]) + " '" + name + "' must be a scalar");
      attrs[keys[i]] = static_cast<double>(t.floats[0]);
    }
  }
  auto dq = im.dequantized_.find(n.input(0));
  if (dq != im.dequantized_.end()) {
    // The exporter narrows 8-bit Q/DQ to fewer bits with a Clip at the code range's ends.
    Importer::ActQuant q = dq->second;
    const double hi = attr_float(attrs, "max", NAN) / q.scale + double(q.zero_point);
    const double lo = attr_float(attrs, "min", NAN) / q.scale + double(q.zero_point);
    // unsigned: hi = 2^bits - 1, lo = 0; signed: hi = 2^(bits-1) - 1, lo = -hi.
    const double log_codes = std::log2(hi + 1);
    const int64_t base = std::lround(log_codes);
    q.bits = q.is_signed ? base + 1 : base;
    if (!(std::abs(log_codes - double(base)) < 1e-4) || !(std::abs(lo - (q.is_signed ? -hi : 0.0)) < 1e-3) ||
        q.bits < 2 || q.bits > 8) {
      n.error("Clip of a dequantized activation is supported only at a code range's ends");
    }
    im.dequantized_[n.output(0)] = q;
    return;
  }
  im.emit(n, OpType::clip, {im.value(n, n.input(0))}, n.output(0), attrs);
}

// Scalar scale and zero point of a QuantizeLinear/DequantizeLinear. A signed zero point must
// leave room for the symmetric code range [-127, 127] of stern's signed activations.
Importer::ActQuant read_qdq(Importer& im, NodeCtx& n) {
  n.allow_only({"axis"});
  n.inputs_between(2, 3);
  n.single_output();
  const auto& scale = im.const_floats(n, n.input(1), "scale");
  if (scale.numel() != 1) n.error("per-axis scale '" + n.input(1) + "' of an activation is not supported");
  Importer::ActQuant q;
  q.scale = scale.floats[0];
  if (!(q.scale > 0) || !std::isfinite(q.scale)) n.error("scale must be finite and > 0");
  if (!n.input(2).empty()) {
    const auto& zp = im.const_tensor(n, n.input(2), "zero point");
    if (zp.data_type != pb::TensorProto::UINT8 && zp.data_type != pb::TensorProto::INT8) {
      n.error(std::string("zero point type ") + onnx_io::data_type_name(zp.data_type) + " is not supported");
    }
    if (zp.ints.size() != 1) n.error("per-axis zero point '" + n.input(2) + "' of an activation is not supported");
    q.is_signed = zp.data_type == pb::TensorProto::INT8;
    q.zero_point = zp.ints[0];
    if (q.is_signed && q.zero_point == -128)
      n.error("int8 zero point -128 is not supported (signed codes are -127..127)");
  }
  return q;
}

void convert_quantize_linear(Importer& im, NodeCtx& n) {
  Importer::ActQuant q = read_qdq(im, n);
  q.source = im.value(n, n.input(0));
  im.quantized_[n.output(0)] = q;
}

void convert_dequantize_linear(Importer& im, NodeCtx& n) {
  const Importer::ActQuant q = read_qdq(im, n);
  auto src = im.quantized_.find(n.input(0));
  if (src == im.quantized_.end() || src->second.scale != q.scale || src->second.is_signed != q.is_signed ||
      src->second.zero_point != q.zero_point) {
    n.error("DequantizeLinear is supported only right after a QuantizeLinear with the same scale and zero point");
  }
  im.dequantized_[n.output(0)] = src->second;
}

void convert_pool(Importer& im, NodeCtx& n, OpType op) {
  const bool is_max = op == OpType::max_pool;
  if (is_max) {
    n.allow_only({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
    if (n.get_int("storage_order", 0) != 0) n.unsupported_attr("storage_order", "= 1 is not supported");
  } else {
    n.allow_only({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  }
  n.inputs_between(1, 1);
  n.single_output();
  if (!n.has("kernel_shape")) n.error("attribute 'kernel_shape' is required");
  const std::string x = im.value(n, n.input(0));
  const Spatial s = read_spatial(im, n, x, {}, is_max);
  if (s.dilations != std::vector<int64_t>{1, 1}) n.unsupported_attr("dilations", "other than 1 is not supported");
  const int64_t ceil_mode = n.get_int("ceil_mode", 0);
  Attributes attrs{{"kernel", s.kernel}, {"strides", s.strides}, {"pads", s.pads}, {"ceil_mode", ceil_mode}};
  if (!is_max) attrs["count_include_pad"] = n.get_int("count_include_pad", 0);
  im.emit(n, op, {x}, n.output(0), attrs);
}
void convert_max_pool(Importer& im, NodeCtx& n) { convert_pool(im, n, OpType::max_pool); }
void convert_avg_pool(Importer& im, NodeCtx& n) { convert_pool(im, n, OpType::avg_pool); }

void convert_global_avg_pool(Importer& im, NodeCtx& n) {
  n.allow_only({});
  n.inputs_between(1, 1);
  n.single_output();
  const std::string x = im.value(n, n.input(0));
  if (im.shape_of(n, x).size() != 4) n.error("input '" + x + "' must be 4-D (NCHW)");
  im.emit(n, OpType::global_avg_pool, {x}, n.output(0));
}

void convert_batch_norm(Importer& im, NodeCtx& n) {
  n.allow_only({"epsilon", "momentum", "spatial", "training_mode", "is_test"});
  if (n.get_int("spatial", 1) != 1) n.unsupported_attr("spatial", "= 0 is not supported");
  if (n.get_int("training_mode", 0) != 0) n.unsupported_attr("training_mode", "= 1 is not supported (inference only)");
  n.inputs_between(5, 5);
  n.single_output();
  std::vector<std::string> inputs{im.value(n, n.input(0))};
  const char* roles[] = {"scale", "bias", "mean", "var"};
  for (int i = 1; i < 5; ++i) {
    im.const_floats(n, n.input(i), roles[i - 1]);
    inputs.push_back(im.value(n, n.input(i)));
  }
  im.emit(n, OpType::batch_norm, inputs, n.output(0), {{"epsilon", n.get_float("epsilon", 1e-5)}});
}

void convert_flatten(Importer& im, NodeCtx& n) {
  n.allow_only({"axis"});
  n.inputs_between(1, 1);
  n.single_output();
  const std::string x = im.value(n, n.input(0));
  int64_t axis = n.get_int("axis", 1);
  if (axis < 0) axis = im.normalize_axis(n, axis, static_cast<int64_t>(im.shape_of(n, x).size()), "axis");
  im.emit(n, OpType::flatten, {x}, n.output(0), {{"axis", axis}});
}

void convert_reshape(Importer& im, NodeCtx& n) {
  n.single_output();
  n.allow_only({"allowzero"});
  n.inputs_between(2, 2);
  const std::vector<int64_t> shape = im.const_ints(n, n.input(1), "shape").ints;
  if (n.get_int("allowzero", 0) != 0 && std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    n.unsupported_attr("allowzero", "= 1 with a zero in the shape is not supported");
  }
  if (std::count(shape.begin(), shape.end(), -1) > 1) n.error("shape has more than one -1");
  for (int64_t d : shape) {
    if (d < -1) n.error("shape has the invalid dimension " + std::to_string(d));
  }
  im.emit(n, OpType::reshape, {im.value(n, n.input(0))}, n.output(0), {{"shape", shape}});
}

void convert_concat(Importer& im, NodeCtx& n) {
  n.allow_only({"axis"});
  if (n.num_inputs() < 1) n.error("has no inputs");
  n.single_output();
  if (!n.has("axis")) n.error("attribute 'axis' is required");
  std::vector<std::string> inputs;
  for (int i = 0; i < n.num_inputs(); ++i) {
    if (n.input(i).empty()) n.error("input " + std::to_string(i) + " is empty");
    inputs.push_back(im.value(n, n.input(i)));
  }
  int64_t axis = n.get_int("axis", 0);
  if (axis < 0) axis = im.normalize_axis(n, axis, static_cast<int64_t>(im.shape_of(n, inputs[0]).size()), "axis");
  im.emit(n, OpType::concat, inputs, n.output(0), {{"axis", axis}});
}

// Before opset 13 Softmax flattened the input to 2-D at `axis` (default 1); from 13 it acts
// on one axis (default -1). The old form equals the new one when axis is the last axis;
// otherwise it is flatten -> softmax -> reshape.
void convert_softmax(Importer& im, NodeCtx& n) {
  n.allow_only({"axis"});
  n.inputs_between(1, 1);
  n.single_output();
  const std::string x = im.value(n, n.input(0));
  const Shape xs = im.shape_of(n, x);
  const int64_t rank = static_cast<int64_t>(xs.size());
  if (im.opset() >= 13) {
    const int64_t axis = im.normalize_axis(n, n.get_int("axis", -1), rank, "axis");
    im.emit(n, OpType::softmax, {x}, n.output(0), {{"axis", axis}});
    return;
  }
  const int64_t axis = im.normalize_axis(n, n.get_int("axis", 1), rank, "axis");
  if (axis == rank - 1) {
    im.emit(n, OpType::softmax, {x}, n.output(0), {{"axis", axis}});
    return;
  }
  std::vector<int64_t> back(xs.begin(), xs.end());
  if (std::count(back.begin(), back.end(), int64_t{-1}) > 1) {
    n.unsupported_attr("axis", "with unknown dimensions after the axis is not supported (opset < 13)");
  }
  const std::string flat = im.derived_name(n.output(0), ":flat");
  const std::string soft = im.derived_name(n.output(0), ":softmax");
  im.emit(n, OpType::flatten, {x}, flat, {{"axis", axis}});
  im.emit(n, OpType::softmax, {flat}, soft, {{"axis", int64_t{1}}});
  im.emit(n, OpType::reshape, {soft}, n.output(0), {{"shape", back}});
}

void convert_identity(Importer& im, NodeCtx& n) {
  n.allow_only({});
  n.inputs_between(1, 1);
  n.single_output();
  im.set_alias(n.output(0), n.input(0));
}

void convert_dropout(Importer& im, NodeCtx& n) {
  n.allow_only({"ratio", "seed", "is_test"});
  n.inputs_between(1, 3);
  n.single_output();
  if (!n.input(2).empty()) {
    const auto& t = im.const_tensor(n, n.input(2), "training_mode");
    const bool training = t.is_float() ? t.floats.at(0) != 0 : (!t.ints.empty() && t.ints[0] != 0);
    if (training) n.error("training_mode = true is not supported (inference only)");
  }
  im.set_alias(n.output(0), n.input(0));
}

// PyTorch writes a Pad of zeros before every AveragePool; only that no-op form is accepted.
void convert_pad(Importer& im, NodeCtx& n) {
  n.single_output();
  std::vector<int64_t> pads;
  if (im.opset() < 11) {
    n.allow_only({"mode", "pads", "value"});
    n.inputs_between(1, 1);
    pads = n.get_ints("pads", {});
  } else {
    n.allow_only({"mode"});
    n.inputs_between(2, 3);
    pads = im.const_ints(n, n.input(1), "pads").ints;
  }
  if (n.get_string("mode", "constant") != "constant") n.unsupported_attr("mode", "other than 'constant' is not supported");
  if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; })) {
    n.error("non-zero padding is not supported (only the no-op Pad PyTorch emits)");
  }
  im.set_alias(n.output(0), n.input(0));
}

void convert_constant(Importer& im, NodeCtx& n) {
  n.allow_only({"value", "value_float", "value_floats", "value_int", "value_ints"});
  n.inputs_between(0, 0);
  n.single_output();
  if (n.node().attribute_size() != 1) n.error("must have exactly one value attribute");
  const auto& a = n.node().attribute(0);
  ConstTensor t;
  if (a.name() == "value") {
    if (a.type() != pb::AttributeProto::TENSOR) n.unsupported_attr("value", "must be a tensor");
    t = onnx_io::decode_tensor(a.t(), n.label(), {});
  } else if (a.name() == "value_float") {
    t.data_type = pb::TensorProto::FLOAT;
    t.floats = {static_cast<float>(n.get_float("value_float", 0))};
  } else if (a.name() == "value_floats") {
    if (a.type() != pb::AttributeProto::FLOATS) n.unsupported_attr("value_floats", "must be floats");
    t.data_type = pb::TensorProto::FLOAT;
    t.floats.assign(a.floats().begin(), a.floats().end());
    t.dims = {static_cast<int64_t>(t.floats.size())};
  } else if (a.name() == "value_int") {
    t.data_type = pb::TensorProto::INT64;
    t.ints = {n.get_int("value_int", 0)};
  } else {
    t.data_type = pb::TensorProto::INT64;
    t.ints = n.get_ints("value_ints", {});
    t.dims = {static_cast<int64_t>(t.ints.size())};
  }
  im.add_const(n.output(0), std::move(t));
}

struct OpEntry {
  const char* op_type;
  Converter convert;
};
constexpr OpEntry kConverters[] = {
    {"Add", convert_add},
    {"AveragePool", convert_avg_pool},
    {"BatchNormalization", convert_batch_norm},
    {"Clip", convert_clip},
    {"Concat", convert_concat},
    {"Constant", convert_constant},
    {"Conv", convert_conv},
    {"Dropout", convert_dropout},
    {"Flatten", convert_flatten},
    {"Gemm", convert_gemm},
    {"GlobalAveragePool", convert_global_avg_pool},
    {"Identity", convert_identity},
    {"MatMul", convert_matmul},
    {"MaxPool", convert_max_pool},
    {"Mul", convert_mul},
    {"Pad", convert_pad},
    {"QuantizeLinear", convert_quantize_linear},
    {"DequantizeLinear", convert_dequantize_linear},
    {"Relu", convert_relu},
    {"Reshape", convert_reshape},
    {"Softmax", convert_softmax},
};

// ---------------------------------------------------------------------------------------

void Importer::read_opset(const pb::ModelProto& model) {
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") opset_ = op.version();
  }
  if (opset_ < kOnnxMinOpset || opset_ > kOnnxMaxOpset) {
    fail(where_, "opset " + std::to_string(opset_) + " of the default domain is not supported (expected " +
                     std::to_string(kOnnxMinOpset) + " to " + std::to_string(kOnnxMaxOpset) + ")");
  }
}

std::vector<int64_t> value_shape(const pb::ValueInfoProto& v, const std::string& where, bool* known) {
  *known = false;
  if (!v.type().has_tensor_type()) fail(where, "value '" + v.name() + "' is not a tensor (sequence, map and optional types are not supported)");
  const auto& tt = v.type().tensor_type();
  // Some exporters leave an output's element type unset; anything else must be FLOAT.
  if (tt.elem_type() != pb::TensorProto::FLOAT && tt.elem_type() != pb::TensorProto::UNDEFINED) {
    fail(where, "value '" + v.name() + "' has element type " + onnx_io::data_type_name(tt.elem_type()) +
                    ", which is not supported (stern graph inputs and outputs are FLOAT)");
  }
  std::vector<int64_t> shape;
  if (!tt.has_shape()) return shape;
  *known = true;
  for (const auto& d : tt.shape().dim()) shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  if (shape.size() > static_cast<size_t>(onnx_io::kMaxTensorRank)) fail(where, "value '" + v.name() + "' has too many dimensions");
  return shape;
}

void Importer::read_inputs(const pb::GraphProto& g) {
  for (const auto& init : g.initializer()) {
    if (consts_.count(init.name())) fail(where_, "initializer '" + init.name() + "' is defined twice");
    consts_[init.name()] = onnx_io::decode_tensor(init, where_, base_dir_);
  }
  if (g.sparse_initializer_size() > 0) fail(where_, "sparse initializers are not supported");
  for (const auto& in : g.input()) {
    if (consts_.count(in.name())) continue;  // IR < 4 lists initializers as inputs too
    bool known = false;
    auto shape = value_shape(in, where_ + ": graph input", &known);
    if (!known) fail(where_, "graph input '" + in.name() + "' has no shape");
    if (defined_.count(in.name())) fail(where_, "graph input '" + in.name() + "' is listed twice");
    graph_.inputs.push_back({in.name(), std::move(shape)});
    defined_.insert(in.name());
  }
}

void Importer::convert_node(const pb::NodeProto& node, int64_t index) {
  std::string label = where_ + ": node " + std::to_string(index);
  if (!node.name().empty()) label += " '" + node.name() + "'";
  label += " (" + node.op_type() + ")";
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    fail(label, "operator domain '" + node.domain() + "' is not supported");
  }
  for (const auto& out : node.output()) {
    if (!out.empty() && (defined_.count(out) || consts_.count(out) || alias_.count(out))) {
      fail(label, "output '" + out + "' is defined twice");
    }
  }
  const auto* entry = std::find_if(std::begin(kConverters), std::end(kConverters),
                                   [&](const OpEntry& e) { return node.op_type() == e.op_type; });
  if (entry == std::end(kConverters)) fail(label, "operator '" + node.op_type() + "' is not supported");
  NodeCtx ctx(*this, node, label);
  entry->convert(*this, ctx);
}

void Importer::finish_outputs(const pb::GraphProto& g) {
  for (const auto& out : g.output()) {
    bool known = false;
    auto declared = value_shape(out, where_ + ": graph output", &known);
    const std::string source = resolve(out.name());
    if (!defined_.count(source)) {
      fail(where_, "graph output '" + out.name() + "' is not produced by any node" +
                       (consts_.count(source) ? " (a constant output is not supported)" : ""));
    }
    if (source != out.name()) {
      // An Identity/Dropout chain ends at a graph output: keep the ONNX output name with a
      // copy, as the value it aliases may be a graph input or another output.
      pb::NodeProto copy;
      copy.set_name(out.name() + ":copy");
      NodeCtx ctx(*this, copy, where_ + ": graph output '" + out.name() + "'");
      const auto rank = shape_of(ctx, source).size();
      emit(ctx, OpType::reshape, {source}, out.name(),
           {{"shape", std::vector<int64_t>(rank, 0)}});
    }
    graph_.outputs.push_back({out.name(), known ? declared : std::vector<int64_t>{}});
  }
  const auto shapes = infer_shapes(graph_, where_);
  for (auto& out : graph_.outputs) {
    const Shape& inferred = shapes.at(out.name);
    if (out.shape.empty()) {
      out.shape = inferred;
      continue;
    }
    bool agree = out.shape.size() == inferred.size();
    for (size_t i = 0; agree && i < inferred.size(); ++i) {
      agree = out.shape[i] < 0 || inferred[i] < 0 || out.shape[i] == inferred[i];
    }
    if (!agree) {
      auto str = [](const Shape& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      fail(where_, "graph output '" + out.name + "' is declared " + str(out.shape) +
                       " but the graph computes " + str(inferred));
    }
    out.shape = inferred;
  }
}

Graph Importer::run(const pb::ModelProto& model) {
  read_opset(model);
  if (!model.has_graph()) fail(where_, "the model has no graph");
  const auto& g = model.graph();
  if (g.node_size() > kMaxNodes) fail(where_, "more than " + std::to_string(kMaxNodes) + " nodes");
  read_inputs(g);
  for (int i = 0; i < g.node_size(); ++i) convert_node(g.node(i), i);
  finish_outputs(g);
  graph_.metadata["producer"] = model.producer_name().empty() ? std::string("onnx")
                                                              : "onnx:" + model.producer_name();
  graph_.metadata["onnx_opset"] = opset_;
  validate_graph(graph_, where_);
  return std::move(graph_);
}

}  // namespace

Graph import_onnx_from_memory(std::span<const uint8_t> bytes, const std::string& name,
                              const std::filesystem::path& base_dir) {
  pb::ModelProto model;
  onnx_io::parse_proto(&model, bytes, name, "model");
  return Importer(name, base_dir).run(model);
}

Graph import_onnx(const std::filesystem::path& path) {
  const auto bytes = data::read_file_bytes(path, onnx_io::kMaxProtoBytes, data::Compression::none);
  return import_onnx_from_memory(bytes, path.string(), path.parent_path());
}

}  // namespace stern
