// The exact ternary solver against brute force over every threshold, and the closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

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
