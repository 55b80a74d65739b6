// Helpers for tests that build quantized models by hand: activation attributes of a
// conv2d / linear node, random per-(row, group) scales of a weight matrix, and the checks of
// the codes hand-off between layers (plans, outputs).
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

#include "runtime/reference.h"
#include "stern/encoding.h"
#include "stern/graph.h"

namespace stern::test {

// act_bits / act_scale / act_signed (runtime/layer.h) added to `extra`.
inline Attributes act_attrs(int64_t bits, double scale, bool is_signed, Attributes extra = {}) {
  extra["act_bits"] = bits;
  extra["act_scale"] = scale;
  extra["act_signed"] = int64_t(is_signed);
  return extra;
}

// scale_pos (and, when asymmetric, a different scale_neg) uniform in [0.02, 0.3).
inline void random_scales(WeightMatrix& m, std::mt19937& rng) {
  std::uniform_real_distribution<float> s(0.02f, 0.3f);
  m.scale_pos.resize(size_t(m.rows * m.groups_per_row()));
  for (auto& x : m.scale_pos) x = s(rng);
  m.scale_neg = m.scale_pos;
  if (m.asymmetric)
    for (auto& x : m.scale_neg) x = s(rng);
}

// The plan of `g` under kernel_override `kernel` ("" for the automatic choice), by node.
inline std::map<std::string, LayerPlan> plan_of(const Graph& g, const std::string& kernel) {
  std::map<std::string, LayerPlan> plan;
  for (const LayerPlan& p : Session(g, options(1, false, kernel)).plan()) plan[p.node] = p;
  return plan;
}

// The model's outputs with codes handed between layers are those with floats between them,
// bit for bit (batch 1 and 3, 1 and 2 threads, inputs seeded seed + batch); with
// `against_reference`, also the reference runtime's within 1e-5.
inline void expect_hand_off_is_the_round_trip(const Graph& g, Dims input, uint32_t seed, const std::string& kernel,
                                              bool against_reference) {
  for (int64_t batch : {1, 3})
    for (int threads : {1, 2}) {
      input[0] = batch;
      const FloatTensor x = random_tensor(input, uint32_t(seed + batch));
      SessionOptions floats = options(threads, false, kernel);
      floats.requantize = false;
      const std::vector<FloatTensor> want = Session(g, floats).run({x});
      const std::vector<FloatTensor> got = Session(g, options(threads, false, kernel)).run({x});
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < got.size(); ++o) {
        ASSERT_EQ(got[o].shape, want[o].shape);
        EXPECT_EQ(0, std::memcmp(got[o].data.data(), want[o].data.data(), got[o].data.size() * sizeof(float)))
            << kernel << " output " << o << " batch " << batch << " threads " << threads;
      }
      if (!against_reference) continue;
      const std::vector<FloatTensor> ref = Session(g, options(1, true)).run({x});
      for (size_t o = 0; o < got.size(); ++o) EXPECT_LT(max_rel_diff(got[o], ref[o]), 1e-5) << o;
    }
}

}  // namespace stern::test
