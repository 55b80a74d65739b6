#include "train/regularizers.h"

#include "stern/cost.h"

namespace stern::train {

torch::Tensor l2_penalty(const std::vector<QLayer>& layers) {
  torch::Tensor sum = torch::zeros({});
  for (const QLayer& l : layers) sum = sum + l->weight.pow(2).sum();
  return sum;
}

torch::Tensor threshold_penalty(const std::vector<QLayer>& layers,
                                const std::vector<double>& costs) {
  torch::Tensor sum = torch::zeros({});
  double total = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    QLayerImpl& l = *layers[i].ptr();
    if (l.spec().kind != WeightQuant::ternary) continue;
    const torch::Tensor g = to_groups(l.weight, l.spec().granularity, l.spec().group_size);
    const torch::Tensor tau = l.spec().tau * g.detach().abs().mean(1, true).clamp_min(1e-12);
    sum = sum + costs[i] * torch::sigmoid((g.abs() - l.ternary_delta(g)) / tau).sum();
    total += costs[i] * static_cast<double>(g.numel());
  }
  return total > 0 ? sum / total : sum;
}

torch::Tensor msqe_penalty(const std::vector<QLayer>& layers) {
  torch::Tensor sum = torch::zeros({});
  int64_t n = 0;
  for (const QLayer& l : layers) {
    torch::Tensor q;
    {
      torch::NoGradGuard no_grad;
      q = l.ptr()->quantized_weight();
    }
    sum = sum + (l->weight - q).pow(2).sum();
    n += l->weight.numel();
  }
  return n > 0 ? sum / static_cast<double>(n) : sum;
}

namespace {
torch::Tensor percentile(const torch::Tensor& w, double r) {
  return torch::quantile(w.detach().abs().flatten(), r);
}
}  // namespace

torch::Tensor partial_l2_penalty(const std::vector<QLayer>& layers, double r) {
  torch::Tensor sum = torch::zeros({});
  int64_t n = 0;
  for (const QLayer& l : layers) {
    const torch::Tensor below = (l->weight.detach().abs() <= percentile(l->weight, r));
    sum = sum + (l->weight.pow(2) * below.to(l->weight.dtype())).sum();
    n += l->weight.numel();
  }
  return n > 0 ? sum / static_cast<double>(n) : sum;
}

std::vector<torch::Tensor> percentile_keep_masks(const std::vector<QLayer>& layers, double r) {
  std::vector<torch::Tensor> keep;
  for (const QLayer& l : layers) keep.push_back(l->weight.detach().abs() > percentile(l->weight, r));
  return keep;
}

std::vector<double> layer_costs(const std::vector<QLayer>& layers, int activation_bits) {
  std::vector<double> costs;
  for (const QLayer& l : layers) {
    const int64_t fan_in = l->weight.numel() / l->weight.size(0);
    costs.push_back(cost_per_nonzero_weight(activation_bits, fan_in, /*reuse=*/1));
  }
  return costs;
}

}  // namespace stern::train
