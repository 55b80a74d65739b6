// Training regularizers (METHODS.md sections 1 and 2; docs/TRAINING.md for the exact
// normalizations). Each returns a scalar tensor differentiable towards the shadow weights
// (and, for the threshold regularizer, towards learnable thresholds).
#pragma once
#include <vector>

#include <torch/torch.h>

#include "train/models.h"

namespace stern::train {

// sum of w^2 over the given layers' weights.
torch::Tensor l2_penalty(const std::vector<QLayer>& layers);

// Cost-weighted smooth non-zero count of ternary layers:
//   sum_l c_l sum_i sigmoid((|w_i| - delta_l) / tau_l)  /  sum_l c_l n_l
// i.e. the hardware-cost-weighted fraction of non-zeros, in [0, 1]. `costs[l]` is layer
// l's cost per non-zero weight; non-ternary layers are skipped.
torch::Tensor threshold_penalty(const std::vector<QLayer>& layers,
                                const std::vector<double>& costs);

// Mean squared quantization error over the given layers: sum (w - Q(w))^2 / N, Q(w)
// treated as a constant (it moves with w only through the grid choice).
torch::Tensor msqe_penalty(const std::vector<QLayer>& layers);

// Partial L2: sum w^2 [|w| <= theta_r] / N, theta_r the r-quantile of the layer's |w|.
torch::Tensor partial_l2_penalty(const std::vector<QLayer>& layers, double r);
// Per-layer keep masks |w| > theta_r (what partial L2 prunes afterwards).
std::vector<torch::Tensor> percentile_keep_masks(const std::vector<QLayer>& layers, double r);

// Hardware cost per non-zero weight of each layer (cost.h), fully unrolled.
std::vector<double> layer_costs(const std::vector<QLayer>& layers, int activation_bits);

}  // namespace stern::train
