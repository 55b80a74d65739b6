#include "stern/ternary_fit.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "stern/error.h"

namespace stern {
namespace {

struct Magnitude {
  float m;  // |w_i|
  float e;  // importance e_i
};

double weighted_sum_squares(std::span<const float> w, const std::vector<float>& e) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) s += double(e[i]) * w[i] * w[i];
  return s;
}

struct Prefix {
  int64_t k = 0;    // number of non-zeros
  double gain = 0;  // error removed: (sum e|w|)^2 / sum e over the k largest
  float alpha = 0;  // sum e|w| / sum e over them
};

// Over magnitudes sorted descending, the k maximizing (sum e|w|)^2 / sum e (k >= 1), i.e.
// the L2-optimal number of non-zeros of a one-sided ternary fit. k = 0 if all are zero.
Prefix best_prefix(const std::vector<Magnitude>& sorted_desc) {
  double a = 0, e = 0;
  Prefix best;
  for (size_t k = 1; k <= sorted_desc.size(); ++k) {
    a += double(sorted_desc[k - 1].e) * sorted_desc[k - 1].m;
    e += sorted_desc[k - 1].e;
    if (e <= 0) continue;
    const double gain = a * a / e;
    if (gain > best.gain) best = {int64_t(k), gain, float(a / e)};
  }
  return best;
}

// Threshold halfway between the smallest kept and the largest dropped magnitude, so that
// `|w| > delta` reproduces the chosen set exactly (ties aside).
float threshold_between(const std::vector<Magnitude>& sorted_desc, int64_t k) {
  if (k == 0) return sorted_desc.empty() ? 0.0f : sorted_desc.front().m;
  if (k == int64_t(sorted_desc.size())) return 0.5f * sorted_desc.back().m;
  return 0.5f * (sorted_desc[k - 1].m + sorted_desc[k].m);
}

std::vector<Magnitude> sorted_magnitudes(std::span<const float> w, const std::vector<float>& e, int side) {
  std::vector<Magnitude> mags;
  for (size_t i = 0; i < w.size(); ++i) {
    if (side == 0 || (side > 0) == (w[i] > 0)) mags.push_back({std::fabs(w[i]), e[i]});
  }
  std::sort(mags.begin(), mags.end(), [](const Magnitude& x, const Magnitude& y) { return x.m > y.m; });
  return mags;
}

}  // namespace

std::vector<float> importance_or_ones(std::span<const float> w, std::span<const float> importance) {
  if (!importance.empty() && importance.size() != w.size()) {
    fail("ternary fit", std::to_string(importance.size()) + " importance values for " +
                            std::to_string(w.size()) + " weights");
  }
  if (importance.empty() || std::all_of(importance.begin(), importance.end(), [](float e) { return e == 0; })) {
    return std::vector<float>(w.size(), 1.0f);
  }
  return {importance.begin(), importance.end()};
}

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

TernaryFit ternary_fit_exact(std::span<const float> w, std::span<const float> importance) {
  const std::vector<float> e = importance_or_ones(w, importance);
  const std::vector<Magnitude> mags = sorted_magnitudes(w, e, 0);
  const Prefix p = best_prefix(mags);
  TernaryFit fit;
  fit.nonzeros = p.k;
  fit.alpha = fit.alpha_neg = p.alpha;
  fit.delta = fit.delta_neg = threshold_between(mags, p.k);
  fit.squared_error = weighted_sum_squares(w, e) - p.gain;
  return fit;
}

// Positive and negative halves are independent least-squares problems: each side's optimum
// is the one-sided prefix rule on its own magnitudes.
TernaryFit ternary_fit_exact_asymmetric(std::span<const float> w, std::span<const float> importance) {
  const std::vector<float> e = importance_or_ones(w, importance);
  const std::vector<Magnitude> pos = sorted_magnitudes(w, e, +1), neg = sorted_magnitudes(w, e, -1);
  const Prefix p = best_prefix(pos), n = best_prefix(neg);
  TernaryFit fit;
  fit.nonzeros = p.k + n.k;
  fit.alpha = p.alpha;
  fit.alpha_neg = n.alpha;
  fit.delta = threshold_between(pos, p.k);
  fit.delta_neg = threshold_between(neg, n.k);
  fit.squared_error = weighted_sum_squares(w, e) - p.gain - n.gain;
  return fit;
}

}  // namespace stern
