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

// Smallest sum e_i (w_i - Q_i)^2 over all ternary patterns T of a group with the optimal
// scales for that pattern (one alpha, or alpha+ and alpha- when asymmetric): the
// e-weighted mean magnitude of the kept weights. e_i = 1 without importance.
double brute_force_group_error(const std::vector<float>& w, bool asymmetric, std::vector<float> e = {}) {
  const size_t n = w.size();
  if (e.empty()) e.assign(n, 1.0f);
  size_t patterns = 1;
  for (size_t i = 0; i < n; ++i) patterns *= 3;
  double best = 1e300;
  for (size_t p = 0; p < patterns; ++p) {
    std::vector<int> t(n);
    size_t code = p;
    for (size_t i = 0; i < n; ++i, code /= 3) t[i] = int(code % 3) - 1;
    double sp = 0, sn = 0, np = 0, nn = 0;
    for (size_t i = 0; i < n; ++i) {
      if (t[i] > 0) sp += e[i] * w[i], np += e[i];
      if (t[i] < 0) sn -= e[i] * w[i], nn += e[i];
    }
    const double ap = asymmetric ? (np ? sp / np : 0) : (np + nn ? (sp + sn) / (np + nn) : 0);
    const double an = asymmetric ? (nn ? sn / nn : 0) : ap;
    if (ap < 0 || an < 0) continue;  // scales are magnitudes
    double err = 0;
    for (size_t i = 0; i < n; ++i) {
      const double q = t[i] > 0 ? ap : (t[i] < 0 ? -an : 0.0);
      err += e[i] * (w[i] - q) * (w[i] - q);
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


// Bias correction moves each output channel's mean onto FP32's; variance correction also
// its standard deviation, by scaling the channel's ternary scales (the encoding stays).
TEST(Fgq, BiasAndVarianceCorrectionMatchFp32ChannelMoments) {
  for (bool match_variance : {false, true}) {
    const Graph g = linear_graph({8, 16, 12, 6}, 31);
    FgqOptions o;
    o.group = 4;
    o.first_last_bits = 2;
    Graph q = fgq_quantize_weights(g, o, nullptr);
    const int64_t count = 100;
    const std::vector<float> images = random_floats(count * 8, 32, 1.0f);
    fgq_calibrate_activations(q, g, images, count, o, nullptr);
    const Encoding before = q.find_tensor("w2")->encoding;
    fgq_correct_bias(q, g, images, count, match_variance);
    EXPECT_EQ(q.find_tensor("w2")->encoding, before);
    // The last layer's output moments (computed here from both graphs' outputs) now agree.
    auto moments = [&](const Graph& graph) {
      const auto y = Session(graph).run({FloatTensor{{count, 8}, images}})[0];
      std::vector<double> m(6, 0.0), sd(6, 0.0);
      for (int64_t n = 0; n < count; ++n)
        for (int64_t c = 0; c < 6; ++c) m[c] += y.data[n * 6 + c] / double(count);
      for (int64_t n = 0; n < count; ++n)
        for (int64_t c = 0; c < 6; ++c) sd[c] += std::pow(y.data[n * 6 + c] - m[c], 2) / double(count);
      for (double& v : sd) v = std::sqrt(v);
      return std::pair{m, sd};
    };
    const auto [want_mean, want_sd] = moments(g);
    const auto [got_mean, got_sd] = moments(q);
    int sd_differs = 0;
    for (int c = 0; c < 6; ++c) {
      EXPECT_NEAR(got_mean[c], want_mean[c], 1e-4) << c;
      if (match_variance) {
        EXPECT_NEAR(got_sd[c], want_sd[c], 1e-4 * (1 + want_sd[c])) << c;
      }
      sd_differs += std::fabs(got_sd[c] - want_sd[c]) > 1e-3 * want_sd[c];
    }
    if (!match_variance) {
      EXPECT_GT(sd_differs, 0);  // what variance correction is for
    }
    ASSERT_EQ(q.nodes.back().inputs.size(), 3u);  // a bias was added where there was none
  }
}

// Importance of a linear layer: the mean square of each input feature, here of the images
// (fc0) and of ReLU(fc0) computed directly (fc1).
TEST(Fgq, InputImportanceOfLinearLayersIsEachFeaturesMeanSquare) {
  const Graph g = linear_graph({8, 12, 5}, 41);
  const int64_t count = 30;
  const std::vector<float> images = random_floats(count * 8, 42, 1.0f);
  const InputImportanceMap imp = fgq_input_importance(g, images, count);
  const auto w0 = g.find_tensor("w0")->to_floats();
  std::vector<double> in(8, 0.0), hidden(12, 0.0);
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t k = 0; k < 8; ++k) in[k] += double(images[n * 8 + k]) * images[n * 8 + k] / count;
    for (int64_t j = 0; j < 12; ++j) {
      double s = 0;
      for (int64_t k = 0; k < 8; ++k) s += double(w0[j * 8 + k]) * images[n * 8 + k];
      hidden[j] += std::max(s, 0.0) * std::max(s, 0.0) / count;
    }
  }
  ASSERT_EQ(imp.at("fc0").values.size(), 8u);
  ASSERT_EQ(imp.at("fc1").values.size(), 12u);
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(imp.at("fc0").values[k], in[k], 1e-5 * (1 + in[k])) << k;
  for (int j = 0; j < 12; ++j) EXPECT_NEAR(imp.at("fc1").values[j], hidden[j], 1e-4 * (1 + hidden[j])) << j;
}

// A conv2d's OHWI column (kh, kw, ci) multiplies input channel ci: its importance is that
// channel's mean square over images and positions. Channels get very different scales.
TEST(Fgq, InputImportanceOfConvColumnsFollowsOhwiOrder) {
  constexpr int64_t kIn = 3, kOut = 4, kSide = 5, kCount = 6;
  Graph g;
  g.inputs.push_back({"x", {-1, kIn, kSide, kSide}});
  g.tensors.push_back(Tensor::from_floats("w", {kOut, 3, 3, kIn}, random_floats(kOut * 9 * kIn, 51, 0.3f)));
  Node conv;
  conv.op = OpType::conv2d;
  conv.name = "conv";
  conv.inputs = {"x", "w"};
  conv.outputs = {"y"};
  conv.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  g.nodes.push_back(conv);
  g.outputs.push_back({"y", {-1, kOut, kSide, kSide}});
  std::vector<float> images = random_floats(kCount * kIn * kSide * kSide, 52, 1.0f);
  for (size_t i = 0; i < images.size(); ++i) images[i] *= float(1 + 3 * ((i / (kSide * kSide)) % kIn));
  const InputImportanceMap all = fgq_input_importance(g, images, kCount);
  const InputImportance& imp = all.at("conv");
  std::vector<double> channel(kIn, 0.0);
  for (size_t i = 0; i < images.size(); ++i) {
    channel[(i / (kSide * kSide)) % kIn] += double(images[i]) * images[i] / double(kCount * kSide * kSide);
  }
  ASSERT_EQ(imp.values.size(), size_t(9 * kIn));
  for (int64_t c = 0; c < 9 * kIn; ++c) EXPECT_NEAR(imp.values[c], channel[c % kIn], 1e-4 * channel[c % kIn]) << c;
}

// Importance that does not fit the graph is refused naming the node, before any output.
TEST(Fgq, ImportanceThatDoesNotFitNamesTheLayer) {
  const Graph g = linear_graph({6, 5, 3}, 71);
  FgqOptions o;
  o.first_last_bits = 2;
  InputImportanceMap missing{{"fc0", {1, std::vector<float>(6, 1.0f)}}};
  InputImportanceMap short_row{{"fc0", {1, std::vector<float>(6, 1.0f)}}, {"fc1", {1, std::vector<float>(4, 1.0f)}}};
  for (const InputImportanceMap* imp : {&missing, &short_row}) {
    try {
      fgq_quantize_weights(g, o, nullptr, imp);
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("node 'fc1'"), std::string::npos) << e.what();
    }
  }
}

// With importance, every group is the brute-force optimum of the importance-weighted error,
// which the unweighted fit does not reach on every group.
TEST(Fgq, ActivationWeightedGroupsAreTheWeightedOptimum) {
  constexpr int64_t kRows = 4, kCols = 11, kGroup = 4;
  for (bool asymmetric : {false, true}) {
    const Graph g = linear_graph({kCols, kRows, 3}, 61);
    FgqOptions o;
    o.group = kGroup;
    o.asymmetric = asymmetric;
    o.first_last_bits = 2;
    InputImportanceMap imp;
    for (const char* layer : {"fc0", "fc1"}) {
      const int64_t cols = std::string(layer) == "fc0" ? kCols : kRows;
      std::vector<float> e = random_floats(cols, 62, 1.0f);
      for (float& v : e) v = v * v;  // very unequal, as real channel energies
      imp[layer] = {1, e};
    }
    const Graph plain = fgq_quantize_weights(g, o, nullptr);
    const Graph weighted = fgq_quantize_weights(g, o, nullptr, &imp);
    const auto w = g.find_tensor("w0")->to_floats();
    const auto qw = weighted.find_tensor("w0")->to_floats(), qp = plain.find_tensor("w0")->to_floats();
    const std::vector<float>& e = imp.at("fc0").values;
    int improved = 0;
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t c0 = 0; c0 < kCols; c0 += kGroup) {
        const int64_t c1 = std::min(c0 + kGroup, kCols);
        std::vector<float> group(w.begin() + r * kCols + c0, w.begin() + r * kCols + c1);
        double err_w = 0, err_p = 0;
        for (int64_t c = c0; c < c1; ++c) {
          err_w += e[c] * (w[r * kCols + c] - qw[r * kCols + c]) * (w[r * kCols + c] - qw[r * kCols + c]);
          err_p += e[c] * (w[r * kCols + c] - qp[r * kCols + c]) * (w[r * kCols + c] - qp[r * kCols + c]);
        }
        EXPECT_NEAR(err_w, brute_force_group_error(group, asymmetric, {e.begin() + c0, e.begin() + c1}),
                    1e-6 * (1 + err_w))
            << "row " << r << " group " << c0 / kGroup;
        EXPECT_LE(err_w, err_p + 1e-9);
        improved += err_w < err_p - 1e-9;
      }
    }
    EXPECT_GT(improved, 0);
  }
}

}  // namespace
}  // namespace stern
