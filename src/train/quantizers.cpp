#include "train/quantizers.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <functional>

#include "stern/error.h"

namespace stern::train {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor to_ohwi_matrix(const torch::Tensor& w) {
  if (w.dim() == 4) return w.permute({0, 2, 3, 1}).reshape({w.size(0), -1});
  return w.reshape({w.size(0), -1});
}

torch::Tensor to_groups(const torch::Tensor& w, Granularity g, int64_t group_size) {
  switch (g) {
    case Granularity::layer: return w.reshape({1, -1});
    case Granularity::channel: return w.reshape({w.size(0), -1});
    case Granularity::group: {
      const torch::Tensor m = to_ohwi_matrix(w);
      if (group_size <= 0 || m.size(1) % group_size != 0) {
        fail("group granularity", "fan-in " + std::to_string(m.size(1)) +
                                      " is not a multiple of the group size " +
                                      std::to_string(group_size));
      }
      return m.reshape({-1, group_size});
    }
  }
  return w;
}

torch::Tensor from_groups(const torch::Tensor& v, at::IntArrayRef shape, Granularity g,
                          int64_t /*group_size*/) {
  if (g == Granularity::group && shape.size() == 4) {
    return v.reshape({shape[0], shape[2], shape[3], shape[1]}).permute({0, 3, 1, 2});
  }
  return v.reshape(shape);
}

namespace {

struct TernaryFunction : torch::autograd::Function<TernaryFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor w, torch::Tensor delta,
                               torch::Tensor tau, torch::Tensor support, double clip,
                               bool asymmetric) {
    const torch::Tensor a = w.abs();
    const torch::Tensor nz = support.numel() > 0 ? support.to(torch::kBool) : a > delta;
    const torch::Tensor sign = torch::sign(w) * nz.to(w.dtype());
    torch::Tensor alpha_pos, alpha_neg;
    if (asymmetric) {
      const torch::Tensor pos = (sign > 0).to(w.dtype()), neg = (sign < 0).to(w.dtype());
      alpha_pos = (a * pos).sum(1, true) / pos.sum(1, true).clamp_min(1);
      alpha_neg = (a * neg).sum(1, true) / neg.sum(1, true).clamp_min(1);
    } else {
      const torch::Tensor nzf = sign.abs();
      alpha_pos = (a * nzf).sum(1, true) / nzf.sum(1, true).clamp_min(1);
      alpha_neg = alpha_pos;
    }
    const torch::Tensor alpha = torch::where(w > 0, alpha_pos, alpha_neg);
    ctx->save_for_backward({w, delta, tau, alpha});
    ctx->saved_data["clip"] = clip;
    ctx->saved_data["learn_delta"] = delta.requires_grad() && support.numel() == 0;
    return alpha * sign;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& w = saved[0];
    const torch::Tensor& g = grads[0];
    const double clip = ctx->saved_data["clip"].toDouble();
    torch::Tensor grad_w = g * (w.abs() <= clip).to(g.dtype());
    torch::Tensor grad_delta;
    if (ctx->saved_data["learn_delta"].toBool()) {
      const torch::Tensor& delta = saved[1];
      const torch::Tensor& tau = saved[2];
      const torch::Tensor s = torch::sigmoid((w.abs() - delta) / tau);
      // d/d delta of alpha sign(w) sigmoid((|w| - delta) / tau).
      grad_delta = -(g * saved[3] * torch::sign(w) * s * (1 - s) / tau).sum(1, true);
    }
    return {grad_w, grad_delta, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

struct BinaryFunction : torch::autograd::Function<BinaryFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor w, double clip) {
    ctx->save_for_backward({w});
    ctx->saved_data["clip"] = clip;
    const torch::Tensor alpha = w.abs().mean(1, true);
    return torch::where(w >= 0, alpha, -alpha);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const torch::Tensor w = ctx->get_saved_variables()[0];
    const double clip = ctx->saved_data["clip"].toDouble();
    return {grads[0] * (w.abs() <= clip).to(w.dtype()), torch::Tensor()};
  }
};

struct SignedBinaryFunction : torch::autograd::Function<SignedBinaryFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor w, torch::Tensor sign,
                               torch::Tensor delta, torch::Tensor alpha, double clip) {
    const torch::Tensor bit = (sign * w >= delta).to(w.dtype());
    ctx->save_for_backward({w, sign, bit});
    ctx->saved_data["clip"] = clip;
    ctx->saved_data["learn_alpha"] = alpha.requires_grad();
    ctx->saved_data["alpha_shape"] = alpha.sizes().vec();
    return sign * alpha * bit;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& g = grads[0];
    const double clip = ctx->saved_data["clip"].toDouble();
    torch::Tensor grad_alpha;
    if (ctx->saved_data["learn_alpha"].toBool()) {
      grad_alpha = (g * saved[1] * saved[2]).sum(1, true);
      grad_alpha = grad_alpha.sum_to_size(ctx->saved_data["alpha_shape"].toIntVector());
    }
    return {g * (saved[0].abs() <= clip).to(g.dtype()), torch::Tensor(), torch::Tensor(),
            grad_alpha, torch::Tensor()};
  }
};

struct UniformWeightFunction : torch::autograd::Function<UniformWeightFunction> {
  static torch::Tensor forward(AutogradContext*, torch::Tensor w, int64_t bits) {
    const double qmax = static_cast<double>((int64_t{1} << (bits - 1)) - 1);
    const torch::Tensor scale = uniform_scale(w, static_cast<int>(bits));
    return torch::clamp(torch::round(w / scale), -qmax, qmax) * scale;
  }
  // The scale comes from max |w|, so nothing is clipped: a plain straight-through gradient.
  static variable_list backward(AutogradContext*, variable_list grads) {
    return {grads[0], torch::Tensor()};
  }
};

// k-bit activation code of v = x / s: round half to even of v clamped to [qmin, qmax]
// (the runtime's rule; the bounds are integers, so clamping first changes nothing). Adding
// and subtracting 1.5 * 2^23 rounds half to even in the default rounding mode for |v| < 2^22,
// and unlike std::nearbyint it vectorizes on any x86-64.
inline float activation_code(float v, float qmin, float qmax) {
  constexpr float kRound = 12582912.0f;
  return (std::min(std::max(v, qmin), qmax) + kRound) - kRound;
}

constexpr int64_t kActivationGrain = 1 << 15;

// out = code(x / s) * m, in parallel.
void codes_times(const torch::Tensor& x, float s, float lo, float hi, float m, torch::Tensor& out) {
  const float* in = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, x.numel(), kActivationGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) o[i] = activation_code(in[i] / s, lo, hi) * m;
  });
}

// Runs on every activation tensor of every step, so its passes over memory show in the QAT
// wall time: one fused loop forward and one backward (composed LibTorch ops took eleven
// passes and cost 50% over FP32 training of ResNet-20; docs/TRAINING.md).
struct ActivationFunction : torch::autograd::Function<ActivationFunction> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor scale,
                               double qmin, double qmax, double grad_scale) {
    if (x.scalar_type() != torch::kFloat) fail("activation quantizer", "expects float32 activations");
    const torch::Tensor xc = x.contiguous();
    const float s = scale.item<float>(), lo = float(qmin), hi = float(qmax);
    torch::Tensor y = torch::empty_like(xc);
    codes_times(xc, s, lo, hi, s, y);
    ctx->save_for_backward({xc, scale});
    ctx->saved_data["qmin"] = qmin;
    ctx->saved_data["qmax"] = qmax;
    ctx->saved_data["grad_scale"] = grad_scale;
    return y;
  }

  // Straight-through inside the range; LSQ's scale gradient sum(g * d(q s)/ds), where
  // d(q s)/ds = q - v inside the range and q (= qmin or qmax) outside.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor g = grads[0].contiguous();
    const float s = saved[1].item<float>();
    const float lo = float(ctx->saved_data["qmin"].toDouble()), hi = float(ctx->saved_data["qmax"].toDouble());
    torch::Tensor grad_x = torch::empty_like(g);
    const float* in = x.data_ptr<float>();
    const float* gin = g.data_ptr<float>();
    float* gout = grad_x.data_ptr<float>();
    const double sum = at::parallel_reduce(
        0, x.numel(), kActivationGrain, 0.0,
        [&](int64_t begin, int64_t end, double acc) {
          float part = 0;
          for (int64_t i = begin; i < end; ++i) {
            const float v = in[i] / s, q = activation_code(v, lo, hi);
            const bool inside = v >= lo && v <= hi;
            gout[i] = inside ? gin[i] : 0.0f;
            part += gin[i] * (inside ? q - v : q);
          }
          return acc + part;
        },
        std::plus<double>());
    const torch::Tensor grad_scale =
        torch::full({1}, sum * ctx->saved_data["grad_scale"].toDouble(), saved[1].options());
    return {grad_x, grad_scale, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ternary_quantize(const torch::Tensor& w, const torch::Tensor& delta,
                               const torch::Tensor& tau, const torch::Tensor& support,
                               double clip, bool asymmetric) {
  return TernaryFunction::apply(w, delta, tau, support, clip, asymmetric);
}

torch::Tensor exact_threshold(const torch::Tensor& w) {
  const torch::Tensor sorted = std::get<0>(w.abs().sort(1, /*descending=*/true));
  const int64_t n = sorted.size(1);
  const torch::Tensor k = torch::arange(1, n + 1, sorted.options());
  const torch::Tensor cum = sorted.cumsum(1);
  const torch::Tensor best = (cum * cum / k).argmax(1, /*keepdim=*/true);
  // A zero column past the end makes the midpoint rule work for k = n as well.
  const torch::Tensor padded = torch::cat({sorted, torch::zeros({w.size(0), 1}, w.options())}, 1);
  return (padded.gather(1, best) + padded.gather(1, best + 1)) / 2;
}

torch::Tensor twn_threshold(const torch::Tensor& w) { return 0.7 * w.abs().mean(1, true); }

torch::Tensor binary_quantize(const torch::Tensor& w, double clip) {
  return BinaryFunction::apply(w, clip);
}

torch::Tensor signed_binary_quantize(const torch::Tensor& w, const torch::Tensor& sign,
                                     const torch::Tensor& delta, const torch::Tensor& alpha,
                                     double clip) {
  return SignedBinaryFunction::apply(w, sign, delta, alpha, clip);
}

torch::Tensor signed_binary_signs(const torch::Tensor& w, bool by_mean) {
  if (by_mean) {
    const torch::Tensor m = w.mean(1, true);
    return torch::where(m >= 0, torch::ones_like(m), -torch::ones_like(m));
  }
  const int64_t rows = w.size(0);
  const torch::Tensor positive = torch::arange(rows).reshape({rows, 1}) < (rows + 1) / 2;
  return positive.to(w.dtype()) * 2 - 1;
}

torch::Tensor uniform_scale(const torch::Tensor& w, int bits) {
  const double qmax = static_cast<double>((int64_t{1} << (bits - 1)) - 1);
  // An all-zero row keeps a positive scale so codes stay finite (they are all zero).
  return (w.detach().abs().amax(1, true) / qmax).clamp_min(1e-12);
}

torch::Tensor uniform_weight_quantize(const torch::Tensor& w, int bits) {
  return UniformWeightFunction::apply(w, static_cast<int64_t>(bits));
}

torch::Tensor activation_codes(const torch::Tensor& x, float scale, int bits, bool is_signed) {
  if (x.scalar_type() != torch::kFloat) fail("activation quantizer", "expects float32 activations");
  const float qmax = static_cast<float>(activation_qmax(bits, is_signed));
  const torch::Tensor xc = x.contiguous();
  torch::Tensor codes = torch::empty_like(xc);
  codes_times(xc, scale, is_signed ? -qmax : 0.0f, qmax, 1.0f, codes);
  return codes;
}

int64_t activation_qmax(int bits, bool is_signed) {
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

torch::Tensor uniform_activation_quantize(const torch::Tensor& x, const torch::Tensor& scale,
                                          int bits, bool is_signed, double grad_scale) {
  const double qmax = static_cast<double>(activation_qmax(bits, is_signed));
  return ActivationFunction::apply(x, scale, is_signed ? -qmax : 0.0, qmax, grad_scale);
}

}  // namespace stern::train
