// FGQ fine-tuning (METHODS.md section 3, docs/ONNX.md): the FGQ-quantized model is turned
// into a LibTorch network (stern_train) whose forward pass applies exactly FGQ's quantizers
// (per-group exact ternary fit, first/last-layer policy, calibrated activation scales), is
// trained for a few epochs with straight-through gradients, and is exported back. This
// header is free of LibTorch; the implementation exists only in builds with
// STERN_BUILD_TRAIN (the CLI defines STERN_HAS_TRAIN there).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "stern/fgq.h"
#include "stern/graph.h"

namespace stern {

struct FgqFinetuneConfig {
  std::string data;           // mnist | fashion-mnist: trains on its training split
  double epochs = 1;          // may be fractional: ceil(epochs x batches per epoch) steps
  double lr = 1e-3;           // Adam, cosine-decayed per step to 0
  int64_t batch_size = 128;
  int threads = 2;            // LibTorch intra-op threads
  uint64_t seed = 1;          // shuffling
  double ste_clip = 1.0;      // straight-through gradient only where |w| <= ste_clip
  int64_t train_limit = 0;    // first N training images (0 = all)
  int64_t test_limit = 0;     // evaluate on the first N test images (0 = all)
};

struct FgqFinetuneEpoch {
  double epochs = 0;          // progress at the end of this pass, in epochs
  double loss = 0, train_accuracy = 0, test_accuracy = 0;
  double seconds = 0;
};

struct FgqFinetuneResult {
  double accuracy_before = 0;  // LibTorch, quantized model on the test split
  double accuracy_after = 0;
  int64_t steps = 0;
  double train_seconds = 0;
  std::vector<FgqFinetuneEpoch> log;
};

// `calibrated` is the output of fgq_quantize_weights + fgq_calibrate_activations (and
// optionally fgq_correct_bias) of `fp32`, with the same node and tensor names: training starts
// from fp32's weights as shadow weights, with calibrated's biases and activation scales (the
// scales are then learned, LSQ). Returns the fine-tuned graph in stern's encodings (ternary
// layers ternary2 or ternary_sparse, 8/4-bit layers i8), weight layers keeping their node
// names, and updates the weight fields of `report` (encoding, error vs the FP32 weights,
// sparsity, bytes). Throws stern::Error naming the node for operators the LibTorch network
// cannot express.
Graph fgq_finetune(const Graph& fp32, const Graph& calibrated, const FgqOptions& options,
                   const FgqFinetuneConfig& config, FgqReport* report, FgqFinetuneResult* result,
                   const std::function<void(const FgqFinetuneEpoch&)>& on_epoch = {});

}  // namespace stern
