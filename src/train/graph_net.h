// stern Graph -> trainable Net (models.h): the inverse of export_graph for the operators FP32
// CNNs are made of, so an imported model (.onnx, .stern) can be fine-tuned with stern's
// quantizers and exported again.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "stern/graph.h"
#include "train/models.h"

namespace stern::train {

// Weight quantizer of the `index`-th of `count` conv2d / linear layers in graph order. The
// activation fields of the returned spec are ignored: they come from the node's act_bits /
// act_scale / act_signed, and a quantized input starts at the node's act_scale.
using LayerQuantizer = std::function<QuantSpec(const Node& node, size_t index, size_t count)>;

struct GraphNet {
  Net net{nullptr};
  std::vector<std::string> layer_nodes;  // graph node name of net->layers[i]
};

// Supported: conv2d (square kernel, equal strides, equal pads, no dilation, one group),
// linear, batch_norm, relu, clip with min 0 and max 6 or none, max_pool and avg_pool (kernel
// = stride, no padding), global_avg_pool, flatten (axis 1), reshape to [N, -1], add of a residual
// branch (a chain where a value feeds at most one pending branch). Weights of any encoding
// are read dequantized. One float input [N, C, H, W], one output. Anything else: a
// stern::Error naming the node and its operator.
GraphNet net_from_graph(const Graph& graph, const LayerQuantizer& quantizer);

}  // namespace stern::train
