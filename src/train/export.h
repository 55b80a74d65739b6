// Trained network -> stern::Graph: weights in their packed encodings (OHWI for convs),
// BatchNorm as batch_norm nodes (the runtime folds them at load), activation quantization
// as act_bits / act_scale / act_signed on the consuming conv2d / linear node.
#pragma once
#include <string>

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

}  // namespace stern::train
