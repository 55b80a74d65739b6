// Shared by FGQ's weight quantization, activation calibration and bias correction.
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern::fgq_detail {

// What FGQ treats as a weight layer, so every pass walks the same layers in the same order
// (first and last matter for the policy).
inline bool is_weight_layer(const Node& n) { return n.op == OpType::conv2d || n.op == OpType::linear; }

// Runs `graph` over `count` images (count x the per-example size of its single input) in
// batches; `fn` sees each batch's input and the graph's outputs. Throws naming `where` when
// the images do not fit the input.
void run_batches(const Graph& graph, std::span<const float> images, int64_t count, const std::string& where,
                 const std::function<void(const FloatTensor& x, const std::vector<FloatTensor>& outputs)>& fn);

// Running per-channel sums and sums of squares of [N, C, ...] tensors (dimension 1 is the
// channel: conv channels, or the features of an N x I linear input).
struct ChannelSums {
  std::vector<double> sum, squares;
  int64_t per_channel = 0;  // values seen per channel
  // Throws naming `where` when the tensor has no channel dimension.
  void add(const FloatTensor& t, const std::string& where);
};

// Runs the FP32 graph over the images and shows `fn` the input of every conv2d/linear layer,
// batch by batch (a value feeding several layers once per batch, under its value name).
void observe_layer_inputs(const Graph& fp32, std::span<const float> images, int64_t count, const std::string& where,
                          const std::function<void(const std::string& value, const FloatTensor& t)>& fn);

}  // namespace stern::fgq_detail
