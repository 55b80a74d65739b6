// What the reporting commands (eval, bench, summary) measure of a model, as library calls:
// stored weight statistics, accuracy on a dataset through the runtime, and timed runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "stern/dataset.h"
#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern {

// The stored weight of one conv2d / linear node.
struct LayerWeightStats {
  std::string node;
  std::string tensor;
  std::string encoding;
  int64_t weights = 0;
  int64_t zeros = 0;   // counted on dequantized values, so every encoding is measured alike
  int64_t bytes = 0;   // stored payload bytes
  double sparsity() const { return weights > 0 ? double(zeros) / double(weights) : 0.0; }
};

std::vector<LayerWeightStats> weight_stats(const Graph& graph);
LayerWeightStats total_weight_stats(const std::vector<LayerWeightStats>& layers);

// Bytes of the same graph with every tensor stored as float32 (the FP32 reference size of
// compression ratios; header and graph description excluded, so ratios are conservative).
int64_t fp32_tensor_bytes(const Graph& graph);

struct AccuracyResult {
  int64_t images = 0;
  int64_t correct = 0;
  double seconds = 0;  // inside Session::run only
  double accuracy() const { return images > 0 ? double(correct) / double(images) : 0.0; }
};

// Runs `data` through the session in batches and counts top-1 hits. The model must have one
// image input and one [N, classes] output; `where` names the model in errors.
AccuracyResult evaluate_accuracy(Session& session, const Dataset& data, int64_t batch,
                                 const std::string& where);

struct TimingResult {
  int threads = 0;
  int64_t batch = 0;
  double median_ms = 0;
  double min_ms = 0;
  int iterations = 0;
  std::vector<double> step_median_ms;  // per plan step, with SessionOptions::profile
};

// Times Session::run on random inputs of `batch` images after one warm-up run: at least
// five runs and at least `min_seconds` in total; with options.profile also each step.
TimingResult time_session(const Graph& graph, const SessionOptions& options, int64_t batch,
                          double min_seconds, const std::string& where);

}  // namespace stern
