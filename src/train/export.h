// Trained network -> stern::Graph: weights in their packed encodings (OHWI for convs),
// BatchNorm as batch_norm nodes (the runtime folds them at load), activation quantization
// as act_bits / act_scale / act_signed on the consuming conv2d / linear node.
#pragma once
#include <string>
#include <vector>

#include "stern/graph.h"
#include "train/models.h"

namespace stern::train {

struct ExportedWeight {
  Encoding encoding = Encoding::f32;
  WeightMatrix matrix;  // canonical form, OHWI column order
};

// The layer's current quantized weight in canonical form. Ternary layers are stored as
// ternary2 or ternary_sparse, whichever packs smaller.
ExportedWeight export_weight(QLayerImpl& layer);

// Walks the network's steps (in eval mode) and builds the graph: input "input"
// [-1, C, H, W], output "logits" [-1, classes].
Graph export_graph(NetImpl& net, const Attributes& metadata);

// How the runtime, on `graph`, agrees with LibTorch's eval logits on the images `x`
// (issue 3: the same predictions, logits within 1e-3 of the logit scale).
struct RuntimeAgreement {
  int64_t images = 0;
  std::vector<int64_t> differing;  // images whose predicted class differs
  double max_logit_error = 0;      // max |torch - runtime| / max |torch logit|
};
RuntimeAgreement runtime_agreement(const Graph& graph, const torch::Tensor& x,
                                   const torch::Tensor& torch_logits);

}  // namespace stern::train
