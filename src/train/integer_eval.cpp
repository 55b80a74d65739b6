#include "train/integer_eval.h"

#include <algorithm>
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

// Sums of code products over each output's receptive field, exact: in float when no partial
// sum can reach 2^24 (every one is then an integer that float holds exactly, whatever the
// summation order), in double otherwise. As im2col + GEMM, which only multiplies and adds
// (a Winograd or FFT convolution would not keep integers exact), in chunks of images that
// bound the column buffer.
torch::Tensor code_sums(const QLayerImpl& layer, const torch::Tensor& xq, const torch::Tensor& w,
                        double max_act_code) {
  const int64_t cols = w.numel() / w.size(0);
  const double bound = max_act_code * w.abs().max().item<double>() * static_cast<double>(cols);
  const auto type = bound < 16777216.0 ? torch::kFloat : torch::kDouble;
  const torch::Tensor wm = w.reshape({w.size(0), cols}).to(type);
  if (!layer.conv) return torch::matmul(xq.to(type), wm.t());
  namespace F = torch::nn::functional;
  const auto unfold = F::UnfoldFuncOptions({w.size(2), w.size(3)})
                          .padding(layer.padding)
                          .stride(layer.stride);
  const int64_t n = xq.size(0), h = xq.size(2), wd = xq.size(3);
  const int64_t oh = (h + 2 * layer.padding - w.size(2)) / layer.stride + 1;
  const int64_t ow = (wd + 2 * layer.padding - w.size(3)) / layer.stride + 1;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, cols * oh * ow));
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < n; i += chunk) {
    const torch::Tensor c = F::unfold(xq.slice(0, i, std::min(n, i + chunk)).to(type), unfold);
    parts.push_back(torch::matmul(wm, c).reshape({-1, w.size(0), oh, ow}));
  }
  return torch::cat(parts);
}

}  // namespace

bool has_integer_eval(QLayerImpl& layer) {
  const QuantSpec& s = layer.spec();
  // Binary and signed-binary layers export one symmetric scale per row, which the bitmap
  // kernels apply in the same expression as IntLayer (sbin::gemm's epilogue).
  const bool one_scale_per_row = s.kind == WeightQuant::uniform || s.kind == WeightQuant::binary ||
                                 s.kind == WeightQuant::signed_binary ||
                                 (s.kind == WeightQuant::ternary && s.granularity != Granularity::group);
  return one_scale_per_row && s.act_bits >= 2 && s.act_bits <= 8;
}

torch::Tensor integer_layer_forward(QLayerImpl& layer, const torch::Tensor& x,
                                    const torch::nn::BatchNorm2dImpl* bn) {
  torch::NoGradGuard no_grad;
  const QuantSpec& spec = layer.spec();
  const float act_scale = layer.activation_scale().item<float>();
  const torch::Tensor xq = activation_codes(x, act_scale, spec.act_bits, spec.act_signed);
  const double max_act_code = static_cast<double>(activation_qmax(spec.act_bits, spec.act_signed));
  const WeightMatrix m = export_weight(layer).matrix;
  torch::Tensor codes =
      torch::from_blob(const_cast<int8_t*>(m.codes.data()), {m.rows, m.cols}, torch::kInt8)
          .to(torch::kFloat);
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
      scale[r] = static_cast<float>(double(act_scale) * (double(alpha) * double(out_scale[r])));
    }
    // An exact integer sum converts to float as the runtime's int32 -> float does.
    const torch::Tensor sums = code_sums(layer, xq, part == 0 ? codes : codes.abs(), max_act_code);
    const torch::Tensor f = sums.to(torch::kFloat) * per_channel(scale, dims);
    acc = part == 0 ? f : acc + f;
  }
  return acc + per_channel(bias, dims);
}

}  // namespace stern::train
