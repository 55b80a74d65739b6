// Activation scale calibration (METHODS.md, common vocabulary): max, percentile and
// MSE-optimal clipping for the unsigned/signed activation quantizer of graph.h.
#include <algorithm>
#include <cmath>

#include "stern/error.h"
#include "stern/fgq.h"

namespace stern {
namespace {

// The MSE search is quadratic in (candidates x sample): bound the sample it looks at.
constexpr size_t kMseMaxSample = size_t{1} << 18;
constexpr int kMseCandidates = 128;

double code_max(int bits, bool is_signed) {
  return is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
}

}  // namespace

CalibMethod calib_method_from_name(const std::string& name) {
  if (name == "max") return CalibMethod::max;
  if (name == "percentile") return CalibMethod::percentile;
  if (name == "mse") return CalibMethod::mse;
  fail("--calib-method '" + name + "'", "unknown; expected max, percentile or mse");
}

const char* calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::max: return "max";
    case CalibMethod::percentile: return "percentile";
    case CalibMethod::mse: return "mse";
  }
  return "unknown";
}

void ActivationStats::observe(std::span<const float> values) {
  for (const float v : values) {
    if (!std::isfinite(v)) continue;
    if (seen_ == 0) min_ = max_ = v;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
    if (seen_++ % stride_ != 0) continue;
    sample_.push_back(v);
    if (sample_.size() >= max_samples_) {
      // Keep every other sampled value and sample half as often from now on.
      for (size_t i = 0; 2 * i < sample_.size(); ++i) sample_[i] = sample_[2 * i];
      sample_.resize((sample_.size() + 1) / 2);
      stride_ *= 2;
    }
  }
}

double activation_quant_error(std::span<const float> values, const ActivationScale& s, int bits) {
  const double qmax = code_max(bits, s.is_signed);
  const double qmin = s.is_signed ? -qmax : 0.0;
  double err = 0;
  for (const float v : values) {
    const double q = std::clamp(std::nearbyint(v / s.scale), qmin, qmax) * s.scale;
    err += (v - q) * (v - q);
  }
  return err;
}

ActivationScale calibrate_scale(const ActivationStats& stats, int bits, CalibMethod method,
                                double percentile) {
  if (bits < 2 || bits > 16) fail("activation bits " + std::to_string(bits), "expected 2..16");
  ActivationScale s;
  s.is_signed = stats.min() < 0;
  const double qmax = code_max(bits, s.is_signed);
  const double amax = std::max(std::fabs(double(stats.min())), std::fabs(double(stats.max())));
  if (!(amax > 0)) return s;  // all zeros: any positive scale is exact
  double clip = amax;
  if (method == CalibMethod::percentile && !stats.sample().empty()) {
    if (!(percentile > 0 && percentile <= 100)) {
      fail("percentile " + std::to_string(percentile), "expected a value in (0, 100]");
    }
    std::vector<float> mags(stats.sample().size());
    std::transform(stats.sample().begin(), stats.sample().end(), mags.begin(),
                   [](float v) { return std::fabs(v); });
    const auto k = static_cast<size_t>(std::ceil(percentile / 100.0 * double(mags.size()))) - 1;
    std::nth_element(mags.begin(), mags.begin() + std::min(k, mags.size() - 1), mags.end());
    const double p = mags[std::min(k, mags.size() - 1)];
    if (p > 0) clip = p;
  } else if (method == CalibMethod::mse && !stats.sample().empty()) {
    const auto& all = stats.sample();
    const size_t step = (all.size() + kMseMaxSample - 1) / kMseMaxSample;
    std::vector<float> sample;
    for (size_t i = 0; i < all.size(); i += step) sample.push_back(all[i]);
    double best = -1;
    for (int i = 1; i <= kMseCandidates; ++i) {
      const double c = amax * i / kMseCandidates;
      const double err = activation_quant_error(sample, {c / qmax, s.is_signed}, bits);
      if (best < 0 || err < best) best = err, clip = c;
    }
  }
  s.scale = clip / qmax;
  return s;
}

}  // namespace stern
