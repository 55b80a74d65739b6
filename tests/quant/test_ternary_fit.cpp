// The exact ternary solver against brute force over every threshold, and the closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "stern/error.h"
#include "stern/ternary_fit.h"

namespace stern {
namespace {

double error_of(std::span<const float> w, float a_pos, float a_neg, float d_pos, float d_neg) {
  double e = 0;
  for (float v : w) {
    const double q = v > d_pos ? a_pos : v < -d_neg ? -a_neg : 0.0;
    e += (v - q) * (v - q);
  }
  return e;
}

// Brute force: every candidate threshold between sorted magnitudes, alpha = mean of the kept.
double brute_force_symmetric(std::span<const float> w) {
  double best = 0;
  for (float v : w) best += double(v) * v;
  for (float d : w) {
    const float delta = std::fabs(d) * (1 - 1e-6f);
    const TernaryFit f = ternary_fit_at(w, delta);
    best = std::min(best, error_of(w, f.alpha, f.alpha, delta, delta));
  }
  return best;
}

TEST(TernaryFit, ExactMatchesBruteForce) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + trial % 37;
    std::vector<float> w(n);
    std::student_t_distribution<float> dist(3.0f);
    for (float& v : w) v = dist(rng);
    const TernaryFit f = ternary_fit_exact(w);
    const double measured = error_of(w, f.alpha, f.alpha, f.delta, f.delta);
    EXPECT_NEAR(f.squared_error, measured, 1e-4 * (1 + measured));
    EXPECT_LE(measured, brute_force_symmetric(w) + 1e-5);
    EXPECT_LE(measured, ternary_fit_twn(w).squared_error + 1e-5);
  }
}

TEST(TernaryFit, AsymmetricIsNoWorseAndMatchesBruteForce) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.3f, 1.0f);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<float> w(1 + trial % 23);
    for (float& v : w) v = dist(rng);
    const TernaryFit a = ternary_fit_exact_asymmetric(w);
    const double measured = error_of(w, a.alpha, a.alpha_neg, a.delta, a.delta_neg);
    EXPECT_NEAR(a.squared_error, measured, 1e-4 * (1 + measured));
    EXPECT_LE(measured, ternary_fit_exact(w).squared_error + 1e-5);
    // Brute force over every pair of one-sided thresholds.
    double best = 1e30;
    std::vector<float> cands{0};
    for (float v : w) cands.push_back(std::fabs(v) * (1 - 1e-6f));
    cands.push_back(1e9f);
    for (float dp : cands)
      for (float dn : cands) {
        double sp = 0, sn = 0;
        int np = 0, nn = 0;
        for (float v : w) {
          if (v > dp) sp += v, ++np;
          if (v < -dn) sn -= v, ++nn;
        }
        best = std::min(best, error_of(w, np ? sp / np : 0, nn ? sn / nn : 0, dp, dn));
      }
    EXPECT_LE(measured, best + 1e-5);
  }
}

// Weighted by importance e: the prefix rule against brute force over every support (each
// weight kept with its own sign, alpha the e-weighted mean magnitude; the optimal pattern
// never keeps a weight with the wrong sign), both symmetric and per side.
TEST(TernaryFit, WeightedExactMatchesBruteForceOverSupports) {
  std::mt19937 rng(17);
  std::normal_distribution<float> dist(0.2f, 1.0f);
  std::uniform_real_distribution<float> energy(0.0f, 3.0f);
  for (int trial = 0; trial < 150; ++trial) {
    const size_t n = 1 + trial % 10;
    std::vector<float> w(n), e(n);
    for (float& v : w) v = dist(rng);
    for (float& v : e) v = trial % 5 == 0 ? std::floor(energy(rng)) : energy(rng);  // some zeros
    double best_sym = 1e300, best_asym = 1e300;
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      double a = 0, ea = 0, ap = 0, ep = 0, an = 0, en = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!(mask >> i & 1)) continue;
        a += e[i] * std::fabs(w[i]), ea += e[i];
        (w[i] > 0 ? ap : an) += e[i] * std::fabs(w[i]);
        (w[i] > 0 ? ep : en) += e[i];
      }
      double sym = 0, asym = 0;
      for (size_t i = 0; i < n; ++i) {
        const bool kept = mask >> i & 1;
        const double qs = kept && ea > 0 ? std::copysign(a / ea, w[i]) : 0.0;
        const double side = w[i] > 0 ? (ep > 0 ? ap / ep : 0) : (en > 0 ? an / en : 0);
        const double qa = kept ? std::copysign(side, w[i]) : 0.0;
        sym += e[i] * (w[i] - qs) * (w[i] - qs);
        asym += e[i] * (w[i] - qa) * (w[i] - qa);
      }
      best_sym = std::min(best_sym, sym);
      best_asym = std::min(best_asym, asym);
    }
    const bool all_zero = std::all_of(e.begin(), e.end(), [](float v) { return v == 0; });
    if (all_zero) continue;  // counts as no importance: covered below
    const TernaryFit s = ternary_fit_exact(w, e), a = ternary_fit_exact_asymmetric(w, e);
    double measured_s = 0, measured_a = 0;
    for (size_t i = 0; i < n; ++i) {
      const double qs = w[i] > s.delta ? s.alpha : w[i] < -s.delta ? -s.alpha : 0.0;
      const double qa = w[i] > a.delta ? a.alpha : w[i] < -a.delta_neg ? -a.alpha_neg : 0.0;
      measured_s += e[i] * (w[i] - qs) * (w[i] - qs);
      measured_a += e[i] * (w[i] - qa) * (w[i] - qa);
    }
    EXPECT_NEAR(measured_s, best_sym, 1e-4 * (1 + best_sym)) << "trial " << trial;
    EXPECT_NEAR(measured_a, best_asym, 1e-4 * (1 + best_asym)) << "trial " << trial;
    EXPECT_NEAR(s.squared_error, measured_s, 1e-4 * (1 + measured_s));
    EXPECT_NEAR(a.squared_error, measured_a, 1e-4 * (1 + measured_a));
  }
}

TEST(TernaryFit, UniformOrZeroImportanceIsTheUnweightedFit) {
  const std::vector<float> w{0.9f, -0.1f, 0.4f, -1.3f, 0.05f};
  const TernaryFit plain = ternary_fit_exact(w);
  for (float e : {1.0f, 0.0f}) {
    const TernaryFit f = ternary_fit_exact(w, std::vector<float>(w.size(), e));
    EXPECT_EQ(f.alpha, plain.alpha);
    EXPECT_EQ(f.delta, plain.delta);
    EXPECT_EQ(f.nonzeros, plain.nonzeros);
  }
  EXPECT_THROW(ternary_fit_exact(w, std::vector<float>(3, 1.0f)), Error);
}

TEST(TernaryFit, TwnUsesSevenTenthsOfMeanMagnitude) {
  const std::vector<float> w{1.0f, -2.0f, 0.1f, 0.5f};  // mean|w| = 0.9, delta = 0.63
  const TernaryFit f = ternary_fit_twn(w);
  EXPECT_FLOAT_EQ(f.delta, 0.63f);
  EXPECT_EQ(f.nonzeros, 2);
  EXPECT_FLOAT_EQ(f.alpha, 1.5f);
}

TEST(TernaryFit, AllZeroInputGivesZeroScale) {
  const std::vector<float> w(8, 0.0f);
  const TernaryFit f = ternary_fit_exact(w);
  EXPECT_EQ(f.nonzeros, 0);
  EXPECT_EQ(f.alpha, 0.0f);
  EXPECT_EQ(f.squared_error, 0.0);
}

}  // namespace
}  // namespace stern
