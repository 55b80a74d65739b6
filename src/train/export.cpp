#include "train/export.h"

#include <algorithm>

#include "stern/error.h"
#include "stern/runtime.h"

namespace stern::train {
namespace {

std::vector<float> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Fills codes and scales from the dequantized weight q [rows, cols] (OHWI order): within
// a scale group every non-zero of one sign has the same magnitude, so the scale is the
// largest magnitude of that sign and code = q / scale exactly.
WeightMatrix matrix_from_levels(const torch::Tensor& q, int64_t group, bool asymmetric) {
  WeightMatrix m;
  m.rows = q.size(0);
  m.cols = q.size(1);
  m.group = group;
  m.asymmetric = asymmetric;
  // The last group of a row may be shorter (FGQ's groups): zero columns complete it.
  const int64_t groups = m.groups_per_row();
  const torch::Tensor g =
      torch::constant_pad_nd(q, {0, groups * group - m.cols}).reshape({m.rows, groups, group});
  torch::Tensor pos = g.clamp_min(0).amax(2), neg = (-g).clamp_min(0).amax(2);
  if (!asymmetric) pos = neg = torch::maximum(pos, neg);
  m.scale_pos = to_vector(pos);
  m.scale_neg = to_vector(neg);
  const torch::Tensor codes = torch::sign(q).to(torch::kInt8).contiguous();
  m.codes.assign(codes.data_ptr<int8_t>(), codes.data_ptr<int8_t>() + codes.numel());
  return m;
}

// Of two encodings that both hold m, the one whose payload is smaller (a on a tie).
Encoding smaller(Encoding a, Encoding b, const WeightMatrix& m) {
  return encoding_traits(b).pack(m).size() < encoding_traits(a).pack(m).size() ? b : a;
}

}  // namespace

ExportedWeight export_weight(QLayerImpl& layer) {
  torch::NoGradGuard no_grad;
  const QuantSpec& spec = layer.spec();
  const torch::Tensor q = to_ohwi_matrix(layer.quantized_weight());
  const int64_t rows = q.size(0), cols = q.size(1);
  ExportedWeight out;
  switch (spec.kind) {
    case WeightQuant::none:
      out.encoding = Encoding::f32;
      out.matrix.rows = rows;
      out.matrix.cols = cols;
      out.matrix.group = cols;
      out.matrix.values = to_vector(q);
      break;
    case WeightQuant::uniform: {
      out.encoding = Encoding::i8;
      // The same per-output-channel scale the forward pass used (it is a function of the
      // OIHW rows, which are the OHWI rows permuted within each row).
      const torch::Tensor scale =
          uniform_scale(layer.weight.detach().reshape({rows, -1}), spec.bits);
      WeightMatrix& m = out.matrix;
      m.rows = rows;
      m.cols = cols;
      m.group = cols;
      m.scale_pos = m.scale_neg = to_vector(scale);
      const torch::Tensor codes = torch::round(q / scale).to(torch::kInt8).contiguous();
      m.codes.assign(codes.data_ptr<int8_t>(), codes.data_ptr<int8_t>() + codes.numel());
      break;
    }
    case WeightQuant::ternary: {
      const int64_t group =
          spec.granularity == Granularity::group ? std::min(spec.group_size, cols) : cols;
      out.matrix = matrix_from_levels(q, group, spec.asymmetric);
      if (spec.granularity == Granularity::layer) {
        // One scale for the whole layer: rows without a non-zero of some sign still carry it.
        auto fill = [](std::vector<float>& s) {
          const float v = *std::max_element(s.begin(), s.end());
          std::fill(s.begin(), s.end(), v);
        };
        fill(out.matrix.scale_pos);
        fill(out.matrix.scale_neg);
      }
      out.encoding = smaller(Encoding::ternary2, Encoding::ternary_sparse, out.matrix);
      break;
    }
    case WeightQuant::binary:
      out.encoding = Encoding::binary;
      out.matrix = matrix_from_levels(q, cols, false);
      break;
    case WeightQuant::signed_binary:
      // Its sparse form is ternary_sparse, whose rows then hold one list each (16 bits per
      // non-zero against the bitmap's 1 per weight: smaller above ~94% sparsity).
      out.matrix = matrix_from_levels(q, cols, false);
      out.encoding = smaller(Encoding::signed_binary, Encoding::ternary_sparse, out.matrix);
      break;
  }
  return out;
}

namespace {

class GraphBuilder {
 public:
  explicit GraphBuilder(Graph& g) : g_(g) {}

  std::string node(OpType op, const std::string& name, std::vector<std::string> inputs,
                   Attributes attrs = {}) {
    std::string out = "v" + std::to_string(++values_);
    g_.nodes.push_back({op, name, std::move(inputs), {out}, std::move(attrs)});
    return out;
  }
  std::string tensor(const std::string& name, const torch::Tensor& t) {
    const std::vector<float> v = to_vector(t);
    g_.tensors.push_back(Tensor::from_floats(name, t.sizes().vec(), v));
    return name;
  }
  std::string tensor(const std::string& name, const ExportedWeight& w,
                     std::vector<int64_t> shape) {
    g_.tensors.push_back(Tensor::from_bytes(name, w.encoding, std::move(shape),
                                            encoding_traits(w.encoding).pack(w.matrix)));
    return name;
  }

 private:
  Graph& g_;
  int values_ = 0;
};

std::string export_layer(GraphBuilder& b, QLayerImpl& layer, const std::string& name,
                         const std::string& x) {
  const ExportedWeight w = export_weight(layer);
  std::vector<int64_t> shape = layer.weight.sizes().vec();
  if (layer.conv) shape = {shape[0], shape[2], shape[3], shape[1]};  // OIHW -> OHWI
  std::vector<std::string> inputs{x, b.tensor(name + ".weight", w, shape)};
  if (layer.bias.defined()) inputs.push_back(b.tensor(name + ".bias", layer.bias));
  Attributes attrs;
  const QuantSpec& spec = layer.spec();
  if (spec.act_bits > 0) {
    attrs["act_bits"] = int64_t{spec.act_bits};
    attrs["act_scale"] = static_cast<double>(layer.activation_scale().item<float>());
    attrs["act_signed"] = int64_t{spec.act_signed ? 1 : 0};
  }
  if (!layer.conv) return b.node(OpType::linear, name, inputs, attrs);
  attrs["strides"] = std::vector<int64_t>{layer.stride, layer.stride};
  attrs["pads"] = std::vector<int64_t>(4, layer.padding);
  attrs["dilations"] = std::vector<int64_t>{1, 1};
  attrs["groups"] = int64_t{1};
  return b.node(OpType::conv2d, name, inputs, attrs);
}

}  // namespace

Graph export_graph(NetImpl& net, const Attributes& metadata) {
  torch::NoGradGuard no_grad;
  Graph g;
  g.metadata = metadata;
  std::vector<int64_t> in{-1};
  in.insert(in.end(), net.input_shape.begin(), net.input_shape.end());
  g.inputs.push_back({"input", in});
  GraphBuilder b(g);
  std::string x = "input";
  std::vector<std::string> stack;
  int64_t classes = 0;
  for (size_t i = 0; i < net.steps.size(); ++i) {
    const Step& s = net.steps[i];
    const std::string id = std::to_string(s.index);
    switch (s.kind) {
      case Step::layer:
        x = export_layer(b, *net.layers[s.index], "layer" + id, x);
        classes = net.layers[s.index]->weight.size(0);
        break;
      case Step::batch_norm: {
        const auto& bn = net.norms[s.index];
        const std::string p = "bn" + id;
        x = b.node(OpType::batch_norm, p,
                   {x, b.tensor(p + ".scale", bn->weight), b.tensor(p + ".bias", bn->bias),
                    b.tensor(p + ".mean", bn->running_mean),
                    b.tensor(p + ".var", bn->running_var)},
                   {{"epsilon", bn->options.eps()}});
        break;
      }
      case Step::relu: x = b.node(OpType::relu, "relu" + std::to_string(i), {x}); break;
      case Step::max_pool:
      case Step::avg_pool: {
        const std::vector<int64_t> k{s.kernel, s.kernel};
        x = b.node(s.kind == Step::max_pool ? OpType::max_pool : OpType::avg_pool,
                   "pool" + std::to_string(i), {x},
                   {{"kernel", k}, {"strides", k}, {"pads", std::vector<int64_t>(4, 0)},
                    {"ceil_mode", int64_t{0}}});
        break;
      }
      case Step::relu6:
        x = b.node(OpType::clip, "relu6_" + std::to_string(i), {x}, {{"min", 0.0}, {"max", 6.0}});
        break;
      case Step::flatten:
        x = b.node(OpType::flatten, "flatten" + std::to_string(i), {x}, {{"axis", int64_t{1}}});
        break;
      case Step::global_avg_pool:
        x = b.node(OpType::global_avg_pool, "gap" + std::to_string(i), {x});
        break;
      case Step::push: stack.push_back(x); break;
      case Step::swap: std::swap(x, stack.back()); break;
      case Step::add:
        x = b.node(OpType::add, "add" + std::to_string(i), {x, stack.back()});
        stack.pop_back();
        break;
    }
  }
  if (g.nodes.empty()) fail("export", "the network has no operators");
  g.nodes.back().outputs[0] = "logits";
  g.outputs.push_back({"logits", {-1, classes}});
  return g;
}

RuntimeAgreement runtime_agreement(const Graph& graph, const torch::Tensor& x,
                                   const torch::Tensor& torch_logits) {
  Session session(graph);
  RuntimeAgreement a;
  a.images = x.size(0);
  double max_diff = 0;
  constexpr int64_t kBatch = 1000;
  for (int64_t i = 0; i < a.images; i += kBatch) {
    const int64_t end = std::min(a.images, i + kBatch);
    const torch::Tensor xb = x.slice(0, i, end).contiguous();
    const torch::Tensor t = torch_logits.slice(0, i, end);
    FloatTensor in;
    in.shape = xb.sizes().vec();
    in.data.assign(xb.data_ptr<float>(), xb.data_ptr<float>() + xb.numel());
    FloatTensor out = session.run({in})[0];
    const torch::Tensor r = torch::from_blob(out.data.data(), out.shape, torch::kFloat);
    max_diff = std::max(max_diff, (t - r).abs().max().item<double>());
    const torch::Tensor differ = t.argmax(1).ne(r.argmax(1)).nonzero().flatten();
    for (int64_t k = 0; k < differ.size(0); ++k) a.differing.push_back(i + differ[k].item<int64_t>());
  }
  const double max_logit = a.images > 0 ? torch_logits.abs().max().item<double>() : 0.0;
  a.max_logit_error = max_logit > 0 ? max_diff / max_logit : max_diff;
  return a;
}

}  // namespace stern::train
