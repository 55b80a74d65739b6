#include "train/integer_eval.h"

#include <cmath>
#include <vector>

#include "train/export.h"
#include "train/quantizers.h"

namespace stern::train {
namespace {

torch::Tensor per_channel(const std::vector<float>& v, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[1] = static_cast<int64_t>(v.size());
  return torch::tensor(v).reshape(shape);
}

std::vector<float> floats(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

bool has_integer_eval(QLayerImpl& layer) {
  const QuantSpec& s = layer.spec();
  const bool integer_weights =
      s.kind == WeightQuant::uniform ||
      (s.kind == WeightQuant::ternary && s.granularity != Granularity::group);
  return integer_weights && s.act_bits >= 2 && s.act_bits <= 8;
}

torch::Tensor integer_layer_forward(QLayerImpl& layer, const torch::Tensor& x,
                                    const torch::nn::BatchNorm2dImpl* bn) {
  torch::NoGradGuard no_grad;
  const QuantSpec& spec = layer.spec();
  const float act_scale = layer.activation_scale().item<float>();
  // Products of codes summed in double are exact integers (|sum| < 2^53), and converting
  // one to float rounds it as the runtime's int32 -> float conversion does.
  const torch::Tensor xq =
      activation_codes(x, act_scale, spec.act_bits, spec.act_signed).to(torch::kDouble);
  const WeightMatrix m = export_weight(layer).matrix;
  torch::Tensor codes =
      torch::from_blob(const_cast<int8_t*>(m.codes.data()), {m.rows, m.cols}, torch::kInt8)
          .to(torch::kDouble);
  if (layer.conv) {
    const auto& s = layer.weight.sizes();  // OIHW; the codes are OHWI
    codes = codes.reshape({s[0], s[2], s[3], s[1]}).permute({0, 3, 1, 2}).contiguous();
  }

  // The planner's BatchNorm fold (runtime/op.cpp batch_norm_affine, runtime/layer.cpp).
  std::vector<float> out_scale(static_cast<size_t>(m.rows), 1.0f);
  std::vector<float> bias = layer.bias.defined() ? floats(layer.bias)
                                                 : std::vector<float>(out_scale.size(), 0.0f);
  if (bn) {
    const std::vector<float> gamma = floats(bn->weight), beta = floats(bn->bias),
                             mean = floats(bn->running_mean), var = floats(bn->running_var);
    const double eps = bn->options.eps();
    for (size_t c = 0; c < out_scale.size(); ++c) {
      const double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
      const float shift = static_cast<float>(beta[c] - mean[c] * s);
      out_scale[c] = static_cast<float>(s);
      bias[c] = bias[c] * out_scale[c] + shift;
    }
  }

  // kernels::IntLayer: an asymmetric layer is two parts, codes at (alpha+ + alpha-) / 2 plus
  // |codes| at (alpha+ - alpha-) / 2, each part's float product added in that order.
  const int64_t dims = layer.conv ? 4 : 2;
  torch::Tensor acc;
  for (int part = 0; part < (m.asymmetric ? 2 : 1); ++part) {
    std::vector<float> scale(out_scale.size());
    for (size_t r = 0; r < scale.size(); ++r) {
      const float sp = m.scale_pos[r], sn = m.scale_neg[r];
      const float alpha = !m.asymmetric ? sp : part == 0 ? 0.5f * (sp + sn) : 0.5f * (sp - sn);
      scale[r] = alpha * out_scale[r] * act_scale;
    }
    const torch::Tensor w = part == 0 ? codes : codes.abs();
    const torch::Tensor sums =
        layer.conv ? torch::conv2d(xq, w, {}, {layer.stride, layer.stride},
                                   {layer.padding, layer.padding})
                   : torch::linear(xq, w);
    const torch::Tensor f = sums.to(torch::kFloat) * per_channel(scale, dims);
    acc = part == 0 ? f : acc + f;
  }
  return acc + per_channel(bias, dims);
}

}  // namespace stern::train
