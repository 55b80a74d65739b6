// Helpers for tests that build quantized models by hand: activation attributes of a
// conv2d / linear node and random per-(row, group) scales of a weight matrix.
#pragma once
#include <random>

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

}  // namespace stern::test
