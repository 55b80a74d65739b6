#include "train/models.h"

#include <cmath>

#include "stern/error.h"
#include "train/integer_eval.h"

namespace stern::train {

QLayerImpl::QLayerImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride_,
                       int64_t padding_, bool conv_, bool with_bias, const QuantSpec& spec)
    : conv(conv_), stride(stride_), padding(padding_), spec_(spec) {
  const std::vector<int64_t> shape =
      conv ? std::vector<int64_t>{out, in, kernel, kernel} : std::vector<int64_t>{out, in};
  const int64_t fan_in = conv ? in * kernel * kernel : in;
  // PyTorch's default init (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), +).
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight = register_parameter("weight", torch::empty(shape).uniform_(-bound, bound));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}).uniform_(-bound, bound));
  const bool ternary = spec.kind == WeightQuant::ternary;
  threshold_t = register_parameter(
      "threshold_t", torch::full({1}, spec.threshold_init),
      ternary && spec.threshold == ThresholdRule::learnable);
  alpha = register_parameter(
      "alpha", weight.detach().reshape({out, -1}).abs().mean(1, true).clone(),
      spec.kind == WeightQuant::signed_binary && !spec.sb_alpha_bn);
  act_log_scale = register_parameter("act_log_scale", torch::zeros({1}), spec.act_bits > 0);
  act_ready = register_buffer("act_ready", torch::zeros({1}, torch::kBool));
  mask = register_buffer("mask", torch::ones(shape));
  mask_on_ = register_buffer("mask_on", torch::zeros({1}, torch::kBool));
  filter_sign = register_buffer("filter_sign", torch::zeros({out, 1}));
  scheduled_delta = register_buffer("scheduled_delta", torch::zeros({1}));
}

torch::Tensor QLayerImpl::ternary_delta(const torch::Tensor& groups) {
  if (scheduled_delta.item<float>() > 0) return scheduled_delta.expand({groups.size(0), 1});
  switch (spec_.threshold) {
    case ThresholdRule::learnable:
      return threshold_t * groups.detach().abs().mean(1, true);
    case ThresholdRule::twn: return twn_threshold(groups.detach());
    case ThresholdRule::exact: return exact_threshold(groups.detach());
  }
  return {};
}

torch::Tensor QLayerImpl::quantized_weight() {
  const int64_t out = weight.size(0);
  switch (spec_.kind) {
    case WeightQuant::none: return mask_frozen() ? weight * mask : weight;
    case WeightQuant::uniform: {
      const torch::Tensor q =
          uniform_weight_quantize(weight.reshape({out, -1}), spec_.bits).reshape(weight.sizes());
      if (mask_frozen()) return q * mask;
      if (scheduled_delta.item<float>() > 0) return q * (weight.detach().abs() > scheduled_delta);
      return q;
    }
    case WeightQuant::ternary: {
      if (ragged_groups()) return ragged_ternary_weight();
      const torch::Tensor g = to_groups(weight, spec_.granularity, spec_.group_size);
      const torch::Tensor scale = g.detach().abs().mean(1, true).clamp_min(1e-12);
      const torch::Tensor support = mask_frozen()
                                        ? to_groups(mask, spec_.granularity, spec_.group_size)
                                        : torch::Tensor(torch::empty({0}));
      const torch::Tensor q = ternary_quantize(g, ternary_delta(g), spec_.tau * scale, support,
                                               spec_.clip, spec_.asymmetric);
      return from_groups(q, weight.sizes(), spec_.granularity, spec_.group_size);
    }
    case WeightQuant::binary:
      return binary_quantize(weight.reshape({out, -1}), spec_.clip).reshape(weight.sizes());
    case WeightQuant::signed_binary: {
      const torch::Tensor w = weight.reshape({out, -1});
      // Signs by the filter mean are chosen once: re-choosing them every step flips filters
      // under the following BatchNorm's running statistics (test accuracy fell to 12%).
      if (spec_.sign_by_mean && filter_sign.abs().sum().item<float>() == 0) {
        torch::NoGradGuard no_grad;
        filter_sign.copy_(signed_binary_signs(w.detach(), true));
      }
      const torch::Tensor sign =
          spec_.sign_by_mean ? filter_sign : signed_binary_signs(w.detach(), false);
      const torch::Tensor delta = spec_.sb_delta * w.detach().abs().amax(1, true);
      const torch::Tensor a = spec_.sb_alpha_bn ? torch::ones_like(alpha) : alpha;
      return signed_binary_quantize(w, sign, delta, a, spec_.clip).reshape(weight.sizes());
    }
  }
  return weight;
}

bool QLayerImpl::ragged_groups() const {
  return spec_.granularity == Granularity::group && spec_.group_size > 0 &&
         (weight.numel() / weight.size(0)) % spec_.group_size != 0;
}

// FGQ cuts each OHWI row into groups of N columns and lets the last one be shorter (a
// fan-in of 144 at N = 64). Each row is padded with zero columns to whole groups; under the
// exact threshold a zero is never kept and never changes a group's fit (k maximizing
// S_k^2 / k stops before the zeros), so the real columns get exactly FGQ's groups.
torch::Tensor QLayerImpl::ragged_ternary_weight() {
  if (spec_.threshold != ThresholdRule::exact) {
    fail("group granularity", "a fan-in that is not a multiple of the group size " +
                                  std::to_string(spec_.group_size) + " needs the exact threshold");
  }
  const int64_t rows = weight.size(0), cols = weight.numel() / rows;
  const int64_t pad = (spec_.group_size - cols % spec_.group_size) % spec_.group_size;
  auto padded = [&](const torch::Tensor& t) {
    return torch::constant_pad_nd(to_ohwi_matrix(t), {0, pad}).reshape({-1, spec_.group_size});
  };
  const torch::Tensor g = padded(weight);
  const torch::Tensor support = mask_frozen() ? padded(mask) : torch::Tensor(torch::empty({0}));
  const torch::Tensor scale = g.detach().abs().mean(1, true).clamp_min(1e-12);
  const torch::Tensor q = ternary_quantize(g, exact_threshold(g.detach()), spec_.tau * scale,
                                           support, spec_.clip, spec_.asymmetric)
                              .reshape({rows, cols + pad})
                              .slice(1, 0, cols);
  if (!conv) return q;
  return q.reshape({rows, weight.size(2), weight.size(3), weight.size(1)}).permute({0, 3, 1, 2});
}

torch::Tensor QLayerImpl::quantize_input(const torch::Tensor& x) {
  if (spec_.act_bits <= 0) return x;
  const int64_t qmax = activation_qmax(spec_.act_bits, spec_.act_signed);
  if (!act_ready.item<bool>()) {
    // Calibrate on the first batch seen: the max for 8 bits, LSQ's 2 mean|x| / sqrt(qmax)
    // below, where clipping outliers pays.
    torch::NoGradGuard no_grad;
    const double init = spec_.act_bits >= 8
                            ? x.abs().max().item<double>() / static_cast<double>(qmax)
                            : 2.0 * x.abs().mean().item<double>() / std::sqrt(double(qmax));
    act_log_scale.fill_(std::log(std::max(init, 1e-6)));
    act_ready.fill_(true);
  }
  const double features = static_cast<double>(x.numel() / std::max<int64_t>(x.size(0), 1));
  return uniform_activation_quantize(x, activation_scale(), spec_.act_bits, spec_.act_signed,
                                     1.0 / std::sqrt(features * static_cast<double>(qmax)));
}

void QLayerImpl::freeze_mask(const torch::Tensor& keep) {
  torch::NoGradGuard no_grad;
  torch::Tensor m = keep.to(torch::kFloat);
  if (spec_.kind == WeightQuant::ternary || scheduled_delta.item<float>() > 0) {
    m = m * (quantized_weight() != 0).to(torch::kFloat);
  }
  mask.copy_(m);
  mask_on_.fill_(true);
}

torch::Tensor QLayerImpl::forward(torch::Tensor x) {
  const torch::Tensor xq = quantize_input(x);
  const torch::Tensor w = quantized_weight();
  if (conv) return torch::conv2d(xq, w, bias, {stride, stride}, {padding, padding});
  return torch::linear(xq, w, bias);
}

NetImpl::NetImpl() { msqe_a = register_parameter("msqe_a", torch::zeros({1}), false); }

QLayer NetImpl::add_layer(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                          int64_t padding, bool conv, const QuantSpec& spec, bool norm_follows) {
  QuantSpec s = spec;
  s.sb_alpha_bn = spec.sb_alpha_bn && norm_follows;
  QLayer layer(in, out, kernel, stride, padding, conv, !norm_follows, s);
  const int index = static_cast<int>(layers.size());
  layers.push_back(register_module("layer" + std::to_string(index), layer));
  steps.push_back({Step::layer, index, 0});
  return layer;
}

void NetImpl::add_batch_norm(int64_t channels) {
  const int index = static_cast<int>(norms.size());
  norms.push_back(register_module("bn" + std::to_string(index),
                                  torch::nn::BatchNorm2d(channels)));
  steps.push_back({Step::batch_norm, index, 0});
}

torch::Tensor NetImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> stack;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    switch (s.kind) {
      case Step::layer:
        // Eval computes what the exported model computes (integer_eval.h), BatchNorm folded.
        if (!is_training() && has_integer_eval(*layers[s.index])) {
          const bool fold = i + 1 < steps.size() && steps[i + 1].kind == Step::batch_norm;
          x = integer_layer_forward(*layers[s.index], x,
                                    fold ? norms[steps[++i].index].get() : nullptr);
        } else {
          x = layers[s.index]->forward(x);
        }
        break;
      case Step::batch_norm:
        x = x.dim() == 2 ? norms[s.index]->forward(x.unsqueeze(2).unsqueeze(3)).flatten(1)
                         : norms[s.index]->forward(x);
        break;
      case Step::relu: x = torch::relu(x); break;
      case Step::max_pool: x = torch::max_pool2d(x, {s.kernel, s.kernel}, {s.kernel, s.kernel}); break;
      case Step::flatten: x = x.flatten(1); break;
      case Step::global_avg_pool:
        // In double like the runtime, so both round the same mean (see its kernel).
        x = x.to(torch::kDouble).mean({2, 3}, /*keepdim=*/true).to(torch::kFloat);
        break;
      case Step::avg_pool: x = torch::avg_pool2d(x, {s.kernel, s.kernel}, {s.kernel, s.kernel}); break;
      case Step::relu6: x = torch::clamp(x, 0, 6); break;
      case Step::push: stack.push_back(x); break;
      case Step::swap: std::swap(x, stack.back()); break;
      case Step::add:
        x = x + stack.back();
        stack.pop_back();
        break;
    }
  }
  return x;
}

namespace {

void build_lenet5(NetImpl& n, const NetSpec& spec) {
  if (spec.height != 28 || spec.width_px != 28) fail("lenet5", "expects 28x28 inputs");
  n.add_layer(spec.channels, 6, 5, 1, 2, true, spec.edge, false);
  n.add(Step::relu);
  n.add(Step::max_pool, 2);
  n.add_layer(6, 16, 5, 1, 0, true, spec.body, false);
  n.add(Step::relu);
  n.add(Step::max_pool, 2);
  n.add(Step::flatten);
  n.add_layer(16 * 5 * 5, 120, 1, 1, 0, false, spec.body, false);
  n.add(Step::relu);
  n.add_layer(120, 84, 1, 1, 0, false, spec.body, false);
  n.add(Step::relu);
  n.add_layer(84, spec.classes, 1, 1, 0, false, spec.edge, false);
}

// conv-BN-ReLU x2, pool, x2 at twice the width, pool, FC-BN-ReLU, FC. The BatchNorm after
// the hidden FC centres its features; without it, signed-binary filters (single-signed
// weights on non-negative inputs) could only compute monotone sums.
void build_vgg(NetImpl& n, const NetSpec& spec) {
  const int64_t w = spec.width > 0 ? spec.width : 16;
  int64_t in = spec.channels;
  for (int block = 0; block < 2; ++block) {
    const int64_t ch = w << block;
    for (int i = 0; i < 2; ++i) {
      n.add_layer(in, ch, 3, 1, 1, true, block == 0 && i == 0 ? spec.edge : spec.body, true);
      n.add_batch_norm(ch);
      n.add(Step::relu);
      in = ch;
    }
    n.add(Step::max_pool, 2);
  }
  n.add(Step::flatten);
  n.add_layer(in * (spec.height / 4) * (spec.width_px / 4), 128, 1, 1, 0, false, spec.body, true);
  n.add_batch_norm(128);
  n.add(Step::relu);
  n.add_layer(128, spec.classes, 1, 1, 0, false, spec.edge, false);
}

// ResNet-20 (He et al., CIFAR variant: 3 stages of `resnet_blocks` basic blocks at w, 2w,
// 4w channels); projection shortcuts (1x1 conv + BN) where the shape changes.
void build_resnet(NetImpl& n, const NetSpec& spec) {
  const int64_t w = spec.width > 0 ? spec.width : 16;
  n.add_layer(spec.channels, w, 3, 1, 1, true, spec.edge, true);
  n.add_batch_norm(w);
  n.add(Step::relu);
  int64_t in = w;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t ch = w << stage;
    for (int b = 0; b < spec.resnet_blocks; ++b) {
      const int64_t stride = stage > 0 && b == 0 ? 2 : 1;
      n.add(Step::push);
      n.add_layer(in, ch, 3, stride, 1, true, spec.body, true);
      n.add_batch_norm(ch);
      n.add(Step::relu);
      n.add_layer(ch, ch, 3, 1, 1, true, spec.body, true);
      n.add_batch_norm(ch);
      n.add(Step::swap);
      if (stride != 1 || in != ch) {
        n.add_layer(in, ch, 1, stride, 0, true, spec.edge, true);
        n.add_batch_norm(ch);
      }
      n.add(Step::add);
      n.add(Step::relu);
      in = ch;
    }
  }
  n.add(Step::global_avg_pool);
  n.add(Step::flatten);
  n.add_layer(in, spec.classes, 1, 1, 0, false, spec.edge, false);
}

}  // namespace

Net build_net(const NetSpec& spec) {
  Net net;
  net->name = spec.model;
  net->input_shape = {spec.channels, spec.height, spec.width_px};
  if (spec.model == "lenet5") {
    build_lenet5(*net, spec);
  } else if (spec.model == "vgg") {
    build_vgg(*net, spec);
  } else if (spec.model == "resnet20") {
    build_resnet(*net, spec);
  } else {
    fail("model '" + spec.model + "'", "unknown; expected lenet5, vgg or resnet20");
  }
  return net;
}

}  // namespace stern::train
