// stern Graph -> ONNX (opset 13). One writer per operator in the table at the bottom.
#include <cmath>
#include <map>
#include <set>

#include "onnx/tensor_proto.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/onnx.h"

namespace stern {
namespace {

namespace pb = ::onnx;

constexpr int64_t kExportOpset = 13;

class Exporter {
 public:
  explicit Exporter(const Graph& g) : g_(g) {}
  pb::ModelProto run();

  // --- used by the op writers ---
  pb::NodeProto* add_node(const std::string& op, const Node& src, std::vector<std::string> inputs,
                          std::vector<std::string> outputs) {
    auto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(unique(src.name.empty() ? outputs.at(0) : src.name));
    for (const auto& s : inputs) n->add_input(s);
    for (const auto& s : outputs) n->add_output(s);
    return n;
  }
  static void attr(pb::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr(pb::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(pb::NodeProto* n, const std::string& name, double v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
  }
  std::string unique(const std::string& base) {
    std::string name = base;
    while (!names_.insert(name).second) name += "_";
    return name;
  }
  // A stern constant tensor as an FP32 initializer, once.
  std::string tensor(const std::string& name) {
    if (!emitted_.insert(name).second) return name;
    const Tensor* t = g_.find_tensor(name);
    const auto values = t->to_floats();
    onnx_io::encode_floats(graph_->add_initializer(), name, t->shape, values);
    return name;
  }
  std::string const_floats(const std::string& hint, const std::vector<int64_t>& dims, const std::vector<float>& v) {
    const std::string name = unique(hint);
    onnx_io::encode_floats(graph_->add_initializer(), name, dims, v);
    return name;
  }
  std::string const_ints(const std::string& hint, const std::vector<int64_t>& v) {
    const std::string name = unique(hint);
    onnx_io::encode_ints(graph_->add_initializer(), name, {static_cast<int64_t>(v.size())}, v);
    return name;
  }
  // Input `i` of a stern node: a constant becomes an initializer.
  std::string input(const Node& n, size_t i) {
    const std::string& v = n.inputs.at(i);
    return g_.find_tensor(v) ? tensor(v) : v;
  }
  const Graph& graph() const { return g_; }

  // The activation quantizer of graph.h on a conv2d/linear input, as Q/DQ (+ Clip).
  std::string quantize_input(const Node& n, const std::string& x);
  // A fused relu epilogue: the node writes to a temporary, then Relu to the real output.
  std::string epilogue_output(const Node& n) {
    return attr_string(n.attrs, "activation", "") == "relu" ? unique(n.outputs[0] + ":pre_relu") : n.outputs[0];
  }
  void epilogue(const Node& n, const std::string& pre) {
    if (pre != n.outputs[0]) add_node("Relu", n, {pre}, {n.outputs[0]});
  }

 private:
  const Graph& g_;
  pb::GraphProto* graph_ = nullptr;
  std::set<std::string> names_, emitted_;
};

std::string Exporter::quantize_input(const Node& n, const std::string& x) {
  const int64_t bits = attr_int(n.attrs, "act_bits", 0);
  if (bits == 0) return x;
  const std::string where = "onnx export: node '" + n.name + "'";
  if (bits > 8) fail(where, "act_bits " + std::to_string(bits) + " has no faithful ONNX form (at most 8)");
  const bool is_signed = attr_int(n.attrs, "act_signed", 0) != 0;
  const double scale = attr_float(n.attrs, "act_scale", 0.0);
  const int64_t zero_point = attr_int(n.attrs, "act_zero_point", 0);
  const std::string s = const_floats(n.name + ":act_scale", {}, {static_cast<float>(scale)});
  const std::string zp = unique(n.name + ":act_zero_point");
  auto* z = graph_->add_initializer();
  z->set_name(zp);
  z->set_data_type(is_signed ? pb::TensorProto::INT8 : pb::TensorProto::UINT8);
  z->set_raw_data(std::string(1, static_cast<char>(zero_point)));
  const std::string q = unique(x + ":q"), dq = unique(x + ":dq");
  add_node("QuantizeLinear", n, {x, s, zp}, {q});
  add_node("DequantizeLinear", n, {q, s, zp}, {dq});
  // uint8 / int8 saturate to [0, 255] / [-128, 127]; the contract's ranges are
  // [0, 2^bits - 1] / [-(2^(bits-1) - 1), 2^(bits-1) - 1]: clip the dequantized values there.
  const double qmax = is_signed ? std::ldexp(1.0, int(bits) - 1) - 1 : std::ldexp(1.0, int(bits)) - 1;
  if (!is_signed && bits == 8) return dq;
  const double qmin = is_signed ? -qmax : 0.0;
  const std::string lo = const_floats(n.name + ":act_min", {}, {static_cast<float>((qmin - double(zero_point)) * scale)});
  const std::string hi = const_floats(n.name + ":act_max", {}, {static_cast<float>((qmax - double(zero_point)) * scale)});
  const std::string clipped = unique(x + ":dq_clip");
  add_node("Clip", n, {dq, lo, hi}, {clipped});
  return clipped;
}

using Writer = void (*)(Exporter&, const Node&);

void write_conv2d(Exporter& ex, const Node& n) {
  const Tensor* w = ex.graph().find_tensor(n.inputs.at(1));
  const int64_t O = w->shape[0], H = w->shape[1], W = w->shape[2], I = w->shape[3];
  const auto ohwi = w->to_floats();
  std::vector<float> oihw(ohwi.size());
  for (int64_t o = 0; o < O; ++o)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t x = 0; x < W; ++x)
        for (int64_t i = 0; i < I; ++i) oihw[((o * I + i) * H + h) * W + x] = ohwi[((o * H + h) * W + x) * I + i];
  std::vector<std::string> inputs{ex.quantize_input(n, n.inputs[0]),
                                  ex.const_floats(w->name + ":oihw", {O, I, H, W}, oihw)};
  if (n.inputs.size() > 2) inputs.push_back(ex.input(n, 2));
  const std::string out = ex.epilogue_output(n);
  auto* c = ex.add_node("Conv", n, inputs, {out});
  Exporter::attr(c, "kernel_shape", std::vector<int64_t>{H, W});
  Exporter::attr(c, "strides", attr_ints(n.attrs, "strides", {1, 1}));
  Exporter::attr(c, "pads", attr_ints(n.attrs, "pads", {0, 0, 0, 0}));
  Exporter::attr(c, "dilations", attr_ints(n.attrs, "dilations", {1, 1}));
  Exporter::attr(c, "group", attr_int(n.attrs, "groups", 1));
  ex.epilogue(n, out);
}

void write_linear(Exporter& ex, const Node& n) {
  std::vector<std::string> inputs{ex.quantize_input(n, n.inputs[0]), ex.input(n, 1)};
  if (n.inputs.size() > 2) inputs.push_back(ex.input(n, 2));
  const std::string out = ex.epilogue_output(n);
  Exporter::attr(ex.add_node("Gemm", n, inputs, {out}), "transB", int64_t{1});
  ex.epilogue(n, out);
}

void write_batch_norm(Exporter& ex, const Node& n) {
  std::vector<std::string> inputs;
  for (size_t i = 0; i < 5; ++i) inputs.push_back(ex.input(n, i));
  Exporter::attr(ex.add_node("BatchNormalization", n, inputs, n.outputs), "epsilon",
                 attr_float(n.attrs, "epsilon", 1e-5));
}

void write_pool(Exporter& ex, const Node& n) {
  const bool is_max = n.op == OpType::max_pool;
  auto* p = ex.add_node(is_max ? "MaxPool" : "AveragePool", n, {ex.input(n, 0)}, n.outputs);
  Exporter::attr(p, "kernel_shape", attr_ints(n.attrs, "kernel", {}));
  Exporter::attr(p, "strides", attr_ints(n.attrs, "strides", {1, 1}));
  Exporter::attr(p, "pads", attr_ints(n.attrs, "pads", {0, 0, 0, 0}));
  Exporter::attr(p, "ceil_mode", attr_int(n.attrs, "ceil_mode", 0));
  if (!is_max) Exporter::attr(p, "count_include_pad", attr_int(n.attrs, "count_include_pad", 0));
}

void write_unary(Exporter& ex, const Node& n, const char* op) { ex.add_node(op, n, {ex.input(n, 0)}, n.outputs); }
void write_relu(Exporter& ex, const Node& n) { write_unary(ex, n, "Relu"); }
void write_global_avg_pool(Exporter& ex, const Node& n) { write_unary(ex, n, "GlobalAveragePool"); }
void write_add(Exporter& ex, const Node& n) { ex.add_node("Add", n, {ex.input(n, 0), ex.input(n, 1)}, n.outputs); }
void write_mul(Exporter& ex, const Node& n) { ex.add_node("Mul", n, {ex.input(n, 0), ex.input(n, 1)}, n.outputs); }
void write_matmul(Exporter& ex, const Node& n) { ex.add_node("MatMul", n, {ex.input(n, 0), ex.input(n, 1)}, n.outputs); }

void write_axis_op(Exporter& ex, const Node& n, const char* op, int64_t fallback) {
  std::vector<std::string> inputs;
  for (size_t i = 0; i < n.inputs.size(); ++i) inputs.push_back(ex.input(n, i));
  Exporter::attr(ex.add_node(op, n, inputs, n.outputs), "axis", attr_int(n.attrs, "axis", fallback));
}
void write_concat(Exporter& ex, const Node& n) { write_axis_op(ex, n, "Concat", 1); }
void write_flatten(Exporter& ex, const Node& n) { write_axis_op(ex, n, "Flatten", 1); }
void write_softmax(Exporter& ex, const Node& n) { write_axis_op(ex, n, "Softmax", -1); }

void write_clip(Exporter& ex, const Node& n) {
  std::vector<std::string> inputs{ex.input(n, 0)};
  const bool has_min = n.attrs.count("min") != 0, has_max = n.attrs.count("max") != 0;
  inputs.push_back(has_min ? ex.const_floats(n.name + ":min", {}, {float(attr_float(n.attrs, "min", 0))}) : "");
  if (has_max) inputs.push_back(ex.const_floats(n.name + ":max", {}, {float(attr_float(n.attrs, "max", 0))}));
  ex.add_node("Clip", n, inputs, n.outputs);
}

void write_reshape(Exporter& ex, const Node& n) {
  ex.add_node("Reshape", n, {ex.input(n, 0), ex.const_ints(n.name + ":shape", attr_ints(n.attrs, "shape", {}))},
              n.outputs);
}

void write_gemm(Exporter& ex, const Node& n) {
  std::vector<std::string> inputs;
  for (size_t i = 0; i < n.inputs.size(); ++i) inputs.push_back(ex.input(n, i));
  auto* g = ex.add_node("Gemm", n, inputs, n.outputs);
  Exporter::attr(g, "transA", attr_int(n.attrs, "trans_a", 0));
  Exporter::attr(g, "transB", attr_int(n.attrs, "trans_b", 0));
  Exporter::attr(g, "alpha", attr_float(n.attrs, "alpha", 1.0));
  Exporter::attr(g, "beta", attr_float(n.attrs, "beta", 1.0));
}

// Indexed by OpType.
constexpr Writer kWriters[] = {
    write_conv2d, write_linear, write_batch_norm, write_relu, write_pool, write_pool,
    write_global_avg_pool, write_add, write_concat, write_flatten, write_softmax, write_mul,
    write_clip, write_reshape, write_matmul, write_gemm,
};
static_assert(std::size(kWriters) == kOpTypeCount, "one ONNX writer per OpType");

void set_value_info(pb::ValueInfoProto* v, const ValueInfo& info) {
  v->set_name(info.name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(pb::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (int64_t d : info.shape) {
    if (d < 0) shape->add_dim()->set_dim_param("batch");
    else shape->add_dim()->set_dim_value(d);
  }
}

pb::ModelProto Exporter::run() {
  validate_graph(g_, "onnx export");
  pb::ModelProto model;
  model.set_ir_version(7);
  model.set_producer_name("stern");
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(kExportOpset);
  graph_ = model.mutable_graph();
  graph_->set_name("stern");
  for (const auto& v : g_.inputs) {
    set_value_info(graph_->add_input(), v);
    names_.insert(v.name);
  }
  for (const auto& n : g_.nodes) {
    for (const auto& o : n.outputs) names_.insert(o);
  }
  for (const auto& t : g_.tensors) names_.insert(t.name);
  for (const Node& n : g_.nodes) kWriters[static_cast<size_t>(n.op)](*this, n);
  for (const auto& v : g_.outputs) set_value_info(graph_->add_output(), v);
  return model;
}

}  // namespace

std::vector<uint8_t> export_onnx_bytes(const Graph& graph) {
  return onnx_io::serialize_proto(Exporter(graph).run(), "onnx export");
}

void export_onnx(const Graph& graph, const std::filesystem::path& path) {
  write_file_atomic(path, export_onnx_bytes(graph));
}

}  // namespace stern
