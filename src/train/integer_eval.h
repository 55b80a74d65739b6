// LibTorch's eval of a quantized layer in the runtime's integer arithmetic, so that the
// trainer's test accuracy is the accuracy of the exported model bit for bit (issue 3: the
// same predictions on the whole test set).
//
// Float eval (conv2d of fake-quantized tensors, then BatchNorm) differs from the runtime by
// float rounding only, ~1e-7 relative; but the next layer's activation quantizer turns a
// value that falls on the other side of a rounding boundary into a different code. In a
// ResNet-20 about 1 activation in 10^4 flips per layer, the flips compound over 19 layers
// and 3 of 10,000 Fashion-MNIST predictions changed (docs/TRAINING.md "Runtime agreement").
// Here the integer products are exact (float sums of small integers, or double) and the
// epilogue repeats the runtime's float operations in their order (kernels::IntLayer and the
// bitmap kernels: float(sum) * scale, scale = act_scale * (alpha * out_scale) in double
// rounded once, an asymmetric layer's two parts added in float, plus the folded bias), with
// BatchNorm folded as the runtime's planner folds it.
#pragma once
#include <torch/torch.h>

#include "train/models.h"

namespace stern::train {

// Whether the runtime runs this layer on its integer kernels with one scale per row (int8,
// ternary, binary and signed-binary codes; 2..8-bit activations), which
// integer_layer_forward reproduces. FGQ groups (several scales per row, summed in float in
// the kernel's group order) keep LibTorch's float eval.
bool has_integer_eval(QLayerImpl& layer);

// The layer, followed by `bn` (eval statistics) when not null, as the runtime computes it.
torch::Tensor integer_layer_forward(QLayerImpl& layer, const torch::Tensor& x,
                                    const torch::nn::BatchNorm2dImpl* bn);

}  // namespace stern::train
