// Weight and activation quantizers as autograd functions with straight-through gradients
// (METHODS.md, common vocabulary; docs/TRAINING.md for stern's choices). Every weight
// quantizer works on a [groups, n] view: one row per scale group (the whole layer, an
// output channel, or N consecutive fan-in columns of the OHWI matrix).
#pragma once
#include <torch/torch.h>

namespace stern::train {

enum class Granularity { layer, channel, group };

// OIHW conv or [O, I] linear weight -> [groups, n]. Group granularity walks the OHWI
// matrix (the storage order of encoding.h), so a group is N consecutive input channels at
// one kernel position; the fan-in must be a multiple of `group_size`.
torch::Tensor to_groups(const torch::Tensor& w, Granularity g, int64_t group_size);
torch::Tensor from_groups(const torch::Tensor& v, at::IntArrayRef shape, Granularity g,
                          int64_t group_size);
// OIHW / [O, I] -> [O, fan-in] in (kh, kw, in) column order.
torch::Tensor to_ohwi_matrix(const torch::Tensor& w);

// Ternary: w_q = alpha_g sign(w) [|w| > delta_g] (or [support] once a pruning mask is
// frozen), alpha_g = mean |w| over the group's non-zeros (alpha+ / alpha- over the positive /
// negative ones when asymmetric): the L2-optimal scale for that support.
// Gradients: w gets the clipped STE, grad * [|w| <= clip]; delta (when it requires grad)
// gets the gradient of the smooth surrogate alpha sign(w) sigmoid((|w| - delta) / tau), so
// the task loss can push a learnable threshold back down.
torch::Tensor ternary_quantize(const torch::Tensor& w, const torch::Tensor& delta,
                               const torch::Tensor& tau, const torch::Tensor& support,
                               double clip, bool asymmetric);

// L2-optimal threshold per row (sort |w| descending, k maximizing S_k^2 / k); the returned
// delta lies midway between the k-th and (k+1)-th magnitude. [G, n] -> [G, 1].
torch::Tensor exact_threshold(const torch::Tensor& w);
// TWN: 0.7 mean |w| per row.
torch::Tensor twn_threshold(const torch::Tensor& w);

// Binary: alpha_g sign(w) with alpha_g = mean |w| per row (sign(0) = +1). Clipped STE.
torch::Tensor binary_quantize(const torch::Tensor& w, double clip);

// Signed-binary, one row per output filter: w_q = s alpha [s w >= delta] with s in {-1, +1}.
// Clipped STE to w; alpha (when it requires grad) gets sum(grad * s * bit).
torch::Tensor signed_binary_quantize(const torch::Tensor& w, const torch::Tensor& sign,
                                     const torch::Tensor& delta, const torch::Tensor& alpha,
                                     double clip);
// Filter signs: by index (first half +1, second half -1, as the public code) or by the sign
// of the filter's mean. [O, n] -> [O, 1].
torch::Tensor signed_binary_signs(const torch::Tensor& w, bool by_mean);

// Symmetric k-bit per row: scale = max |w| / (2^(k-1) - 1), codes in [-qmax, qmax]. STE.
torch::Tensor uniform_scale(const torch::Tensor& w, int bits);
torch::Tensor uniform_weight_quantize(const torch::Tensor& w, int bits);

// Activations, exactly as the runtime does (docs/FORMAT.md act_* attributes):
// q = clamp(round(x / s), qmin, qmax), x_hat = q s, with [qmin, qmax] = [0, 2^k - 1] or
// [-(2^(k-1) - 1), 2^(k-1) - 1]. LSQ gradients: x gets grad inside the range; the scale s
// (a one-element tensor) gets sum(grad * (q - x/s) inside, qmin/qmax outside) * grad_scale.
torch::Tensor uniform_activation_quantize(const torch::Tensor& x, const torch::Tensor& scale,
                                          int bits, bool is_signed, double grad_scale);
int64_t activation_qmax(int bits, bool is_signed);
// The integer codes (as floats) that uniform_activation_quantize multiplies by the scale.
torch::Tensor activation_codes(const torch::Tensor& x, float scale, int bits, bool is_signed);

}  // namespace stern::train
