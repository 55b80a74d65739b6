#include "train/sparsity_schedule.h"

#include <algorithm>
#include <cmath>

namespace stern::train {
namespace {

// The value at or below which `fraction` of `v` lies (a weight is zero when |w| <= delta);
// 0 when the fraction covers no element: a vanishing threshold keeps every weight.
double kth_smallest(const torch::Tensor& v, double fraction) {
  const int64_t k = static_cast<int64_t>(std::floor(fraction * static_cast<double>(v.numel())));
  return k > 0 ? std::get<0>(v.kthvalue(k)).item<double>() : 0.0;
}

}  // namespace

double scheduled_sparsity(double target, double progress, double ramp) {
  const double x = std::clamp(progress / ramp, 0.0, 1.0);
  return target * (1.0 - std::pow(1.0 - x, 3));
}

void set_scheduled_thresholds(const std::vector<QLayer>& layers, const std::vector<double>& costs,
                              double sparsity) {
  torch::NoGradGuard no_grad;
  std::vector<size_t> ternary;
  double mean_cost = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i]->spec().kind != WeightQuant::ternary) continue;
    ternary.push_back(i);
    mean_cost += costs[i];
  }
  if (ternary.empty()) return;
  mean_cost /= static_cast<double>(ternary.size());
  std::vector<torch::Tensor> scores;
  for (size_t i : ternary) scores.push_back(layers[i]->weight.abs().flatten() * (mean_cost / costs[i]));
  const double score = kth_smallest(torch::cat(scores), sparsity);
  for (size_t i : ternary) {
    const double delta = std::max(score * costs[i] / mean_cost, 1e-12);
    layers[i]->scheduled_delta.fill_(delta);
  }
}

void set_layer_threshold(QLayerImpl& layer, double sparsity) {
  torch::NoGradGuard no_grad;
  const double delta = kth_smallest(layer.weight.abs().flatten(), sparsity);
  layer.scheduled_delta.fill_(std::max(delta, 1e-12));
}

}  // namespace stern::train
