// FGQ: per-group ternarization against brute force over every ternary pattern, the
// first/last-layer policy, the report, and activation calibration against direct evaluation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/runtime.h"

namespace stern {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Smallest ||w - Q||^2 over all ternary patterns T of a group with the L2-optimal scales for
// that pattern (one alpha, or alpha+ and alpha- when asymmetric).
double brute_force_group_error(const std::vector<float>& w, bool asymmetric) {
  const size_t n = w.size();
  size_t patterns = 1;
  for (size_t i = 0; i < n; ++i) patterns *= 3;
  double best = 1e300;
  for (size_t p = 0; p < patterns; ++p) {
    std::vector<int> t(n);
    size_t code = p;
    for (size_t i = 0; i < n; ++i, code /= 3) t[i] = int(code % 3) - 1;
    double sp = 0, sn = 0, np = 0, nn = 0;
    for (size_t i = 0; i < n; ++i) {
      if (t[i] > 0) sp += w[i], ++np;
      if (t[i] < 0) sn -= w[i], ++nn;
    }
    const double ap = asymmetric ? (np ? sp / np : 0) : (np + nn ? (sp + sn) / (np + nn) : 0);
    const double an = asymmetric ? (nn ? sn / nn : 0) : ap;
    if (ap < 0 || an < 0) continue;  // scales are magnitudes
    double err = 0;
    for (size_t i = 0; i < n; ++i) {
      const double q = t[i] > 0 ? ap : (t[i] < 0 ? -an : 0.0);
      err += (w[i] - q) * (w[i] - q);
    }
    best = std::min(best, err);
  }
  return best;
}

Graph linear_graph(const std::vector<int64_t>& widths, uint32_t seed) {
  Graph g;
  g.inputs.push_back({"x", {-1, widths[0]}});
  std::string prev = "x";
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const std::string w = "w" + std::to_string(i), y = "y" + std::to_string(i);
    g.tensors.push_back(Tensor::from_floats(w, {widths[i + 1], widths[i]},
                                            random_floats(widths[i + 1] * widths[i], seed + uint32_t(i), 0.3f)));
    Node n;
    n.op = OpType::linear;
    n.name = "fc" + std::to_string(i);
    n.inputs = {prev, w};
    n.outputs = {y};
    g.nodes.push_back(n);
    prev = y;
    if (i + 2 < widths.size()) {
      Node r;
      r.op = OpType::relu;
      r.name = "relu" + std::to_string(i);
      r.inputs = {prev};
      r.outputs = {prev + "r"};
      g.nodes.push_back(r);
      prev += "r";
    }
  }
  g.outputs.push_back({prev, {-1, widths.back()}});
  return g;
}

TEST(Fgq, EveryGroupIsTheBruteForceOptimum) {
  constexpr int64_t kRows = 3, kCols = 10, kGroup = 4;  // a ragged last group of 2
  for (bool asymmetric : {false, true}) {
    Graph g = linear_graph({6, kCols, kRows, 4}, 3);
    FgqOptions o;
    o.group = kGroup;
    o.asymmetric = asymmetric;
    o.first_last_bits = 2;  // ternarize every layer
    FgqReport report;
    const Graph q = fgq_quantize_weights(g, o, &report);
    const Tensor* t = q.find_tensor("w1");
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(t->encoding == Encoding::ternary2 || t->encoding == Encoding::ternary_sparse);
    const auto w = g.find_tensor("w1")->to_floats();
    const auto wq = t->to_floats();
    ASSERT_EQ(t->rows(), kRows);
    const int64_t cols = t->cols();
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t c0 = 0; c0 < cols; c0 += kGroup) {
        std::vector<float> group(w.begin() + r * cols + c0, w.begin() + r * cols + std::min(c0 + kGroup, cols));
        double err = 0;
        for (size_t i = 0; i < group.size(); ++i) {
          const double d = group[i] - wq[r * cols + c0 + i];
          err += d * d;
        }
        EXPECT_NEAR(err, brute_force_group_error(group, asymmetric), 1e-6)
            << "row " << r << " group " << c0 / kGroup << (asymmetric ? " asymmetric" : "");
      }
    }
    EXPECT_EQ(report.layers[1].group, kGroup);
    EXPECT_DOUBLE_EQ(report.layers[1].mults_removed, 0.75);
  }
}

TEST(Fgq, FirstLastPolicyAndPerChannelGroups) {
  const Graph g = linear_graph({16, 32, 24, 10}, 9);
  FgqOptions o;
  o.group = 0;  // per output channel
  FgqReport report;
  Graph q = fgq_quantize_weights(g, o, &report);
  ASSERT_EQ(report.layers.size(), 3u);
  EXPECT_EQ(q.find_tensor("w0")->encoding, Encoding::i8);
  EXPECT_EQ(q.find_tensor("w2")->encoding, Encoding::i8);
  EXPECT_EQ(report.layers[1].group, 32);
  EXPECT_DOUBLE_EQ(report.layers[1].mults_removed, 1.0 - 1.0 / 32);
  EXPECT_DOUBLE_EQ(report.layers[0].mults_removed, 0.0);
  // 8-bit per-channel weights: error bounded by half a step of max|w|/127 per weight.
  const auto w0 = g.find_tensor("w0")->to_floats(), q0 = q.find_tensor("w0")->to_floats();
  for (int64_t r = 0; r < 32; ++r) {
    float amax = 0;
    for (int64_t c = 0; c < 16; ++c) amax = std::max(amax, std::fabs(w0[r * 16 + c]));
    for (int64_t c = 0; c < 16; ++c) EXPECT_LE(std::fabs(w0[r * 16 + c] - q0[r * 16 + c]), 0.5f * amax / 127 + 1e-7f);
  }
  // MACs: rows * cols for linear; removed fraction weighted by MACs.
  EXPECT_EQ(report.total_macs, 16 * 32 + 32 * 24 + 24 * 10);
  EXPECT_NEAR(report.mults_removed, (1.0 - 1.0 / 32) * (32 * 24) / double(report.total_macs), 1e-12);

  o.first_last_bits = 32;
  q = fgq_quantize_weights(g, o, &report);
  EXPECT_EQ(q.find_tensor("w0")->encoding, Encoding::f32);
  EXPECT_EQ(q.find_tensor("w0")->to_floats(), g.find_tensor("w0")->to_floats());
  o.group = -1;
  EXPECT_THROW(fgq_quantize_weights(g, o, &report), Error);
}

TEST(Calibration, MaxPercentileMse) {
  ActivationStats uniform;
  std::vector<float> v(10000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  uniform.observe(v);
  auto s = calibrate_scale(uniform, 8, CalibMethod::max);
  EXPECT_FALSE(s.is_signed);
  EXPECT_DOUBLE_EQ(s.scale, 9999.0 / 255);
  s = calibrate_scale(uniform, 8, CalibMethod::percentile, 99.0);
  EXPECT_NEAR(s.scale * 255, 9899, 1.0);

  // One outlier among many small values: MSE clips far below it and beats max-calibration.
  ActivationStats outlier;
  std::vector<float> w = random_floats(50000, 4, 1.0f);
  for (float& x : w) x = std::fabs(x);
  w.push_back(20.0f);
  outlier.observe(w);
  const auto mse = calibrate_scale(outlier, 4, CalibMethod::mse);
  const auto mx = calibrate_scale(outlier, 4, CalibMethod::max);
  EXPECT_LT(mse.scale * 15, 10.0);
  EXPECT_LT(activation_quant_error(w, mse, 4), activation_quant_error(w, mx, 4));
  // No other clipping point on a fine grid does better than the search's choice by > 2%.
  const double best = activation_quant_error(w, mse, 4);
  for (int i = 1; i <= 250; ++i) {
    EXPECT_GE(activation_quant_error(w, {20.0 * i / 250 / 15, false}, 4), best * 0.98) << i;
  }

  ActivationStats signed_stats;
  signed_stats.observe(std::vector<float>{-3.0f, 1.0f});
  s = calibrate_scale(signed_stats, 8, CalibMethod::max);
  EXPECT_TRUE(s.is_signed);
  EXPECT_DOUBLE_EQ(s.scale, 3.0 / 127);
  EXPECT_THROW(calib_method_from_name("median"), Error);
}

TEST(Calibration, SampleStaysBoundedAndEven) {
  ActivationStats stats(1000);
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 7);
  stats.observe(v);
  EXPECT_LE(stats.sample().size(), 1000u);
  EXPECT_GE(stats.sample().size(), 500u);
  EXPECT_EQ(stats.max(), 6.0f);
  EXPECT_EQ(stats.min(), 0.0f);
}

TEST(Fgq, CalibrationObservesEachLayerInput) {
  const Graph g = linear_graph({8, 12, 5}, 21);
  FgqOptions o;
  o.group = 4;
  FgqReport report;
  Graph q = fgq_quantize_weights(g, o, &report);
  const int64_t count = 40;
  std::vector<float> images = random_floats(count * 8, 22, 1.0f);
  fgq_calibrate_activations(q, g, images, count, o, &report);
  // Layer 0 sees the (signed) inputs; layer 1 the ReLU of fc0, computed here directly.
  const auto w0 = g.find_tensor("w0")->to_floats();
  double in_max = 0, hidden_max = 0;
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t k = 0; k < 8; ++k) in_max = std::max(in_max, std::fabs(double(images[n * 8 + k])));
    for (int64_t j = 0; j < 12; ++j) {
      double s = 0;
      for (int64_t k = 0; k < 8; ++k) s += double(w0[j * 8 + k]) * images[n * 8 + k];
      hidden_max = std::max(hidden_max, s);
    }
  }
  EXPECT_EQ(attr_int(q.nodes[0].attrs, "act_signed", -1), 1);
  EXPECT_NEAR(attr_float(q.nodes[0].attrs, "act_scale", 0), in_max / 127, 1e-6);
  EXPECT_EQ(attr_int(q.nodes[2].attrs, "act_bits", 0), 8);
  EXPECT_EQ(attr_int(q.nodes[2].attrs, "act_signed", -1), 0);
  EXPECT_NEAR(attr_float(q.nodes[2].attrs, "act_scale", 0), hidden_max / 255, 1e-5);
  EXPECT_EQ(report.layers[1].act_bits, 8);
  // The quantized graph runs and stays close to FP32 on these inputs.
  Session fp(g), qs(q);
  const auto a = fp.run({FloatTensor{{count, 8}, images}})[0].data;
  const auto b = qs.run({FloatTensor{{count, 8}, images}})[0].data;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += a[i] * a[i];
  EXPECT_LT(std::sqrt(num / den), 0.05);
}


TEST(Fgq, BiasCorrectionMatchesFp32ChannelMeans) {
  const Graph g = linear_graph({8, 16, 12, 6}, 31);
  FgqOptions o;
  o.group = 4;
  o.first_last_bits = 2;
  Graph q = fgq_quantize_weights(g, o, nullptr);
  const int64_t count = 100;
  const std::vector<float> images = random_floats(count * 8, 32, 1.0f);
  fgq_calibrate_activations(q, g, images, count, o, nullptr);
  fgq_correct_bias(q, g, images, count);
  // The last layer's output means (computed here from both graphs' outputs) now agree.
  auto means = [&](const Graph& graph) {
    const auto y = Session(graph).run({FloatTensor{{count, 8}, images}})[0];
    std::vector<double> m(6, 0.0);
    for (int64_t n = 0; n < count; ++n)
      for (int64_t c = 0; c < 6; ++c) m[c] += y.data[n * 6 + c] / double(count);
    return m;
  };
  const auto want = means(g), got = means(q);
  for (int c = 0; c < 6; ++c) EXPECT_NEAR(got[c], want[c], 1e-4) << c;
  ASSERT_EQ(q.nodes.back().inputs.size(), 3u);  // a bias was added where there was none
}

}  // namespace
}  // namespace stern
