// Scheduled quantization pruning for sparse-ternary (docs/TRAINING.md, "Sparsity
// schedule"): instead of leaving the thresholds to the balance of the task loss and the
// threshold regularizer (which runs away above ~90% sparsity), the regularized stage raises
// the body layers' zero fraction along a cubic ramp to a target, and the hardware cost
// decides where the zeros go.
#pragma once
#include <vector>

#include "train/models.h"

namespace stern::train {

// Zero fraction to hold at `progress` in [0, 1] of the regularized stage: the cubic ramp
// of gradual pruning, s (1 - (1 - progress / ramp)^3), reaching `target` at `ramp`.
double scheduled_sparsity(double target, double progress, double ramp);

// Sets each ternary layer's threshold so that `sparsity` of all their weights quantize to
// zero, ranking weights globally by |w| / c_l (c_l = the layer's cost per non-zero weight,
// normalised to mean 1): layers whose non-zeros cost more give up more of them, and the
// large, redundant layers (whose weights are smaller) more than the small ones.
void set_scheduled_thresholds(const std::vector<QLayer>& layers, const std::vector<double>& costs,
                              double sparsity);

// Prunes `sparsity` of one layer's weights by magnitude (the k-bit edge layers, whose
// magnitudes do not compare with the ternary layers').
void set_layer_threshold(QLayerImpl& layer, double sparsity);

}  // namespace stern::train
