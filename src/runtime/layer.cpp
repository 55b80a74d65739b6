// Builds LayerDesc from a conv2d / linear node and picks its provider (layer.h).
#include "runtime/layer.h"

#include <algorithm>

#include "runtime/op.h"
#include "stern/error.h"

namespace stern {

#define STERN_LAYER_PROVIDER(name) extern const LayerProvider layer_provider_##name;
#include "runtime/layer_providers.inc"
#undef STERN_LAYER_PROVIDER

namespace {

// Pointers, so the table does not depend on the initialization order of other files.
const LayerProvider* const kProviders[] = {
#define STERN_LAYER_PROVIDER(name) &layer_provider_##name,
#include "runtime/layer_providers.inc"
#undef STERN_LAYER_PROVIDER
};

ActQuant act_quant(const Node& node, const std::string& where) {
  ActQuant q;
  const int64_t bits = attr_int(node.attrs, "act_bits", 0);
  if (bits == 0) return q;
  if (bits < 2 || bits > 16) fail(where, "act_bits " + std::to_string(bits) + " out of range, expected 0 or 2..16");
  const double scale = attr_float(node.attrs, "act_scale", 0.0);
  if (!(scale > 0.0) || !std::isfinite(scale))
    fail(where, "act_scale " + std::to_string(scale) + " invalid, expected a finite value > 0");
  q.bits = static_cast<int>(bits);
  q.scale = static_cast<float>(scale);
  q.is_signed = attr_int(node.attrs, "act_signed", 0) != 0;
  q.qmax = q.is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  q.qmin = q.is_signed ? -q.qmax : 0;
  const int64_t zero_point = attr_int(node.attrs, "act_zero_point", 0);
  if (zero_point < q.qmin || zero_point > q.qmax)
    fail(where, "act_zero_point " + std::to_string(zero_point) + " out of range, expected " +
                    std::to_string(q.qmin) + ".." + std::to_string(q.qmax) + " (the act_bits code range)");
  q.zero_point = static_cast<int32_t>(zero_point);
  return q;
}

// Two values are symmetric (h, w), four are ONNX order (top, left, bottom, right).
void read_pads(const Attributes& attrs, ConvGeometry& g, const std::string& where) {
  const std::vector<int64_t> pads = attr_ints(attrs, "pads", {0, 0});
  if (pads.size() == 2) {
    g.pad_top = g.pad_bottom = pads[0];
    g.pad_left = g.pad_right = pads[1];
  } else if (pads.size() == 4) {
    g.pad_top = pads[0], g.pad_left = pads[1], g.pad_bottom = pads[2], g.pad_right = pads[3];
  } else {
    fail(where, "pads has " + std::to_string(pads.size()) + " values, expected 2 or 4");
  }
  if (*std::min_element(pads.begin(), pads.end()) < 0) fail(where, "pads negative, expected >= 0");
}

std::vector<int64_t> pair_attr(const Attributes& attrs, const std::string& key,
                               const std::string& where) {
  const std::vector<int64_t> v = attr_ints(attrs, key, {1, 1});
  if (v.size() != 2 || v[0] < 1 || v[1] < 1) fail(where, key + " must be two values >= 1");
  return v;
}

LayerDesc describe(const OpBuild& b) {
  LayerDesc d;
  d.op = b.node.op;
  d.where = b.where;
  if (b.node.inputs.size() < 2 || !b.constants[1])
    fail(b.where, "weight (input 1) must be a constant tensor");
  d.weight = b.constants[1];
  const int64_t out = d.weight->shape.empty() ? 0 : d.weight->shape[0];
  d.bias.assign(out, 0.0f);
  if (b.node.inputs.size() > 2) {
    if (!b.constants[2]) fail(b.where, "bias (input 2) must be a constant tensor");
    d.bias = constant_floats(*b.constants[2], out, b.where + " bias");
  }
  d.out_scale.assign(out, 1.0f);
  if (b.folded_bn) {
    for (int64_t o = 0; o < out; ++o) {
      d.out_scale[o] = b.folded_bn->scale[o];
      d.bias[o] = d.bias[o] * b.folded_bn->scale[o] + b.folded_bn->shift[o];
    }
  }
  d.act = act_quant(b.node, b.where);
  const std::string activation = attr_string(b.node.attrs, "activation", "");
  if (!activation.empty() && activation != "relu")
    fail(b.where, "activation '" + activation + "' unsupported, expected \"relu\" or none");
  d.relu = activation == "relu";

  const Shape& x = b.in_shapes[0];
  const Shape& y = b.out_shapes[0];
  if (d.op == OpType::linear) {
    if (x.size() != 2 || d.weight->shape.size() != 2 || x[1] != d.weight->shape[1])
      fail(b.where, "input " + shape_str(x) + " does not match weight " + shape_str(d.weight->shape));
    d.in_features = x[1];
    return d;
  }
  const Shape& w = d.weight->shape;
  if (x.size() != 4 || y.size() != 4 || w.size() != 4)
    fail(b.where, "expected 4-d input, output and OHWI weight");
  ConvGeometry& g = d.conv;
  g.in_c = x[1], g.in_h = x[2], g.in_w = x[3];
  g.out_c = y[1], g.out_h = y[2], g.out_w = y[3];
  g.kernel_h = w[1], g.kernel_w = w[2];
  const auto strides = pair_attr(b.node.attrs, "strides", b.where);
  const auto dilations = pair_attr(b.node.attrs, "dilations", b.where);
  g.stride_h = strides[0], g.stride_w = strides[1];
  g.dilation_h = dilations[0], g.dilation_w = dilations[1];
  read_pads(b.node.attrs, g, b.where);
  g.groups = attr_int(b.node.attrs, "groups", 1);
  if (g.groups < 1 || g.in_c % g.groups || g.out_c % g.groups || w[3] * g.groups != g.in_c ||
      w[0] != g.out_c)
    fail(b.where, "groups " + std::to_string(g.groups) + " inconsistent with input " +
                      shape_str(x) + " and weight " + shape_str(w));
  const int64_t oh = (g.in_h + g.pad_top + g.pad_bottom - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1;
  const int64_t ow = (g.in_w + g.pad_left + g.pad_right - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  if (oh != g.out_h || ow != g.out_w)
    fail(b.where, "inferred output " + shape_str(y) + " disagrees with the convolution's " +
                      std::to_string(oh) + "x" + std::to_string(ow));
  return d;
}

// The runtime op around a Layer: conv2d and linear share it.
class LayerOp final : public OpKernel {
 public:
  LayerOp(std::unique_ptr<Layer> layer, std::string encoding)
      : layer_(std::move(layer)), encoding_(std::move(encoding)) {}
  std::string kernel_name() const override { return layer_->kernel_name(); }
  std::string encoding() const override { return encoding_; }
  Layer* weight_layer() override { return layer_.get(); }
  size_t scratch_floats(std::span<const Shape> in_shapes, int threads) const override {
    return layer_->scratch_floats(in_shapes[0][0], threads);
  }
  void run(const RunArgs& a) override {
    layer_->run(a.in[0], a.out[0], a.in_shapes[0][0], a.pool, a.scratch);
  }

 private:
  std::unique_ptr<Layer> layer_;
  std::string encoding_;
};

}  // namespace

extern const LayerProvider layer_provider_f32 = {
    "f32",
    [](const LayerDesc&) { return true; },
    [](const LayerDesc& d, const SessionOptions& o) {
      return d.op == OpType::conv2d ? make_f32_conv2d(d, o) : make_f32_linear(d, o);
    },
    nullptr,
};

std::span<const LayerProvider* const> layer_providers() { return kProviders; }

std::unique_ptr<Layer> make_layer(const LayerDesc& desc, const SessionOptions& options) {
  const LayerProvider* chosen = nullptr;
  if (!options.kernel_override.empty()) {
    for (const LayerProvider* p : kProviders)
      if (options.kernel_override == p->name) chosen = p;
    if (!chosen) {
      std::string names;
      for (const LayerProvider* p : kProviders) names += std::string(names.empty() ? "" : ", ") + p->name;
      fail("session options", "kernel override '" + options.kernel_override +
                                  "' unknown, expected one of: " + names);
    }
    if (options.reference_only || !chosen->supports(desc)) chosen = nullptr;
  }
  for (const LayerProvider* p : kProviders) {
    if (chosen) break;
    const bool reference = std::string_view(p->name) == "f32";
    if ((!options.reference_only || reference) && p->supports(desc) && !(p->defers && p->defers(desc)))
      chosen = p;
  }
  return chosen->create(desc, options);
}

std::unique_ptr<OpKernel> make_layer_op(const OpBuild& build) {
  LayerDesc desc = describe(build);
  std::unique_ptr<Layer> layer = make_layer(desc, build.options);
  return std::make_unique<LayerOp>(std::move(layer),
                                   encoding_traits(desc.weight->encoding).name);
}

std::vector<float> dequantized_weights(const LayerDesc& desc) {
  const Tensor& w = *desc.weight;
  std::vector<float> v = dequantize(w.encoding, w.payload, w.rows(), w.cols(), desc.where + " weight");
  const int64_t cols = w.cols();
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t c = 0; c < cols; ++c) v[r * cols + c] *= desc.out_scale[r];
  return v;
}

const float* fake_quantize_input(const ActQuant& act, const float* src, float* dst, size_t n,
                                 ThreadPool& pool) {
  if (act.bits == 0) return src;
  pool.parallel_ranges(n, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) dst[i] = fake_quantize_activation(src[i], act);
  });
  return dst;
}

}  // namespace stern
