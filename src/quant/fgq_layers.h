// What FGQ treats as a weight layer, shared by weight quantization and calibration so both
// walk the same layers in the same order (first and last matter for the policy).
#pragma once
#include "stern/graph.h"

namespace stern::fgq_detail {

inline bool is_weight_layer(const Node& n) { return n.op == OpType::conv2d || n.op == OpType::linear; }

}  // namespace stern::fgq_detail
