#include "stern/ternary_fit.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace stern {
namespace {

double sum_squares(std::span<const float> w) {
  double s = 0;
  for (float v : w) s += double(v) * v;
  return s;
}

// For magnitudes sorted descending, the k maximizing S_k^2 / k (k >= 1), i.e. the L2-optimal
// number of non-zeros of a one-sided ternary fit. Returns {k, S_k}; {0, 0} if all are zero.
std::pair<int64_t, double> best_prefix(const std::vector<float>& sorted_desc) {
  double prefix = 0, best_gain = 0, best_sum = 0;
  int64_t best_k = 0;
  for (size_t k = 1; k <= sorted_desc.size(); ++k) {
    prefix += sorted_desc[k - 1];
    const double gain = prefix * prefix / double(k);
    if (gain > best_gain) best_gain = gain, best_k = int64_t(k), best_sum = prefix;
  }
  return {best_k, best_sum};
}

// Threshold halfway between the smallest kept and the largest dropped magnitude, so that
// `|w| > delta` reproduces the chosen set exactly (ties aside).
float threshold_between(const std::vector<float>& sorted_desc, int64_t k) {
  if (k == 0) return sorted_desc.empty() ? 0.0f : sorted_desc.front();
  if (k == int64_t(sorted_desc.size())) return 0.5f * sorted_desc.back();
  return 0.5f * (sorted_desc[k - 1] + sorted_desc[k]);
}

}  // namespace

TernaryFit ternary_fit_at(std::span<const float> w, float delta) {
  TernaryFit fit;
  double sum = 0;
  for (float v : w)
    if (std::fabs(v) > delta) sum += std::fabs(v), ++fit.nonzeros;
  fit.delta = fit.delta_neg = delta;
  fit.alpha = fit.alpha_neg = fit.nonzeros ? float(sum / fit.nonzeros) : 0.0f;
  double err = 0;
  for (float v : w) {
    const double q = std::fabs(v) > delta ? std::copysign(double(fit.alpha), v) : 0.0;
    err += (v - q) * (v - q);
  }
  fit.squared_error = err;
  return fit;
}

TernaryFit ternary_fit_twn(std::span<const float> w) {
  double mean_abs = 0;
  for (float v : w) mean_abs += std::fabs(v);
  mean_abs = w.empty() ? 0 : mean_abs / double(w.size());
  return ternary_fit_at(w, float(0.7 * mean_abs));
}

TernaryFit ternary_fit_exact(std::span<const float> w) {
  std::vector<float> mags(w.size());
  std::transform(w.begin(), w.end(), mags.begin(), [](float v) { return std::fabs(v); });
  std::sort(mags.begin(), mags.end(), std::greater<>());
  const auto [k, s] = best_prefix(mags);
  TernaryFit fit;
  fit.nonzeros = k;
  fit.alpha = fit.alpha_neg = k ? float(s / double(k)) : 0.0f;
  fit.delta = fit.delta_neg = threshold_between(mags, k);
  fit.squared_error = sum_squares(w) - (k ? s * s / double(k) : 0.0);
  return fit;
}

// Positive and negative halves are independent least-squares problems: each side's optimum
// is the one-sided prefix rule on its own magnitudes.
TernaryFit ternary_fit_exact_asymmetric(std::span<const float> w) {
  std::vector<float> pos, neg;
  for (float v : w) (v > 0 ? pos : neg).push_back(std::fabs(v));
  std::sort(pos.begin(), pos.end(), std::greater<>());
  std::sort(neg.begin(), neg.end(), std::greater<>());
  const auto [kp, sp] = best_prefix(pos);
  const auto [kn, sn] = best_prefix(neg);
  TernaryFit fit;
  fit.nonzeros = kp + kn;
  fit.alpha = kp ? float(sp / double(kp)) : 0.0f;
  fit.alpha_neg = kn ? float(sn / double(kn)) : 0.0f;
  fit.delta = threshold_between(pos, kp);
  fit.delta_neg = threshold_between(neg, kn);
  fit.squared_error = sum_squares(w) - (kp ? sp * sp / double(kp) : 0.0) - (kn ? sn * sn / double(kn) : 0.0);
  return fit;
}

}  // namespace stern
