// Scale and threshold fitting for ternary quantization (METHODS.md, common vocabulary).
// Plain C++ so both the trainer's exporter and post-training FGQ share one solver.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace stern {

struct TernaryFit {
  float alpha = 0.0f;   // scale of the non-zeros (alpha+ when asymmetric)
  float alpha_neg = 0;  // scale of the negative non-zeros (== alpha when symmetric)
  float delta = 0.0f;   // |w| > delta quantizes to non-zero (delta_neg for negatives)
  float delta_neg = 0.0f;
  int64_t nonzeros = 0;
  double squared_error = 0.0;  // sum_i e_i (w_i - Q(w)_i)^2, e_i = 1 without importance
};

// L2-optimal symmetric ternary fit by sorting |w|: k maximizing S_k^2 / k. O(n log n).
// With `importance` (one e_i >= 0 per weight, e.g. the mean square of the input it
// multiplies) the error is weighted: for a fixed alpha each weight is kept iff |w_i| >
// alpha / 2 whatever its e_i, so the optimum is still a prefix of the sorted magnitudes, the
// k maximizing (sum e|w|)^2 / sum e, and alpha = sum e|w| / sum e over it. All-zero
// importance counts as none.
TernaryFit ternary_fit_exact(std::span<const float> w, std::span<const float> importance = {});
// L2-optimal with separate positive and negative thresholds and scales (each side is the
// one-sided problem above).
TernaryFit ternary_fit_exact_asymmetric(std::span<const float> w, std::span<const float> importance = {});
// The weights e_i the fits above use: `importance`, or 1 for every weight without it (or
// with all-zero importance). Throws if its length is not w's.
std::vector<float> importance_or_ones(std::span<const float> w, std::span<const float> importance);
// The TWN heuristic: delta = 0.7 mean|w|, alpha = mean of |w| above delta.
TernaryFit ternary_fit_twn(std::span<const float> w);
// Fit for a given threshold: alpha = mean(|w| : |w| > delta).
TernaryFit ternary_fit_at(std::span<const float> w, float delta);

}  // namespace stern
