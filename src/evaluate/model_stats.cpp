#include "stern/model_stats.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "stern/error.h"
#include "stern/shape.h"
#include "stern/tensor_io.h"

namespace stern {

std::vector<LayerWeightStats> weight_stats(const Graph& graph) {
  std::vector<LayerWeightStats> layers;
  for (const Node& node : graph.nodes) {
    if ((node.op != OpType::conv2d && node.op != OpType::linear) || node.inputs.size() < 2) continue;
    const Tensor* w = graph.find_tensor(node.inputs[1]);
    if (w == nullptr) continue;  // a weight computed at run time is not a stored layer
    LayerWeightStats s;
    s.node = node.name;
    s.tensor = w->name;
    s.encoding = encoding_traits(w->encoding).name;
    for (float v : w->to_floats()) {
      ++s.weights;
      s.zeros += v == 0.0f;
    }
    s.bytes = static_cast<int64_t>(w->payload.size());
    layers.push_back(std::move(s));
  }
  return layers;
}

LayerWeightStats total_weight_stats(const std::vector<LayerWeightStats>& layers) {
  LayerWeightStats total;
  total.node = "total";
  for (const LayerWeightStats& l : layers) {
    total.weights += l.weights;
    total.zeros += l.zeros;
    total.bytes += l.bytes;
  }
  return total;
}

int64_t fp32_tensor_bytes(const Graph& graph) {
  int64_t bytes = 0;
  for (const Tensor& t : graph.tensors) bytes += t.numel() * int64_t(sizeof(float));
  return bytes;
}

AccuracyResult evaluate_accuracy(Session& session, const Dataset& data, int64_t batch,
                                 const std::string& where) {
  const Graph& graph = session.graph();
  if (graph.inputs.size() != 1)
    fail(where, "model has " + std::to_string(graph.inputs.size()) + " inputs, expected one image input");
  if (batch < 1) fail(where, "batch must be at least 1");
  AccuracyResult result;
  const int64_t pixels = data.image_size();
  for (int64_t begin = 0; begin < data.count; begin += batch) {
    const int64_t n = std::min(batch, data.count - begin);
    FloatTensor x;
    x.shape = {n, data.channels, data.height, data.width};
    x.data.assign(data.images.begin() + begin * pixels, data.images.begin() + (begin + n) * pixels);
    x = reshape_for_input(std::move(x), graph.inputs[0], where + ": " + data.name + " images");
    const auto start = std::chrono::steady_clock::now();
    const std::vector<FloatTensor> out = session.run({x});
    result.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const FloatTensor& logits = out.at(0);
    if (logits.shape.size() != 2 || logits.shape[0] != n || logits.shape[1] != data.num_classes)
      fail(where, "output '" + graph.outputs[0].name + "' has shape " + shape_to_string(logits.shape) +
                      ", expected [" + std::to_string(n) + ", " + std::to_string(data.num_classes) +
                      "] class scores");
    const std::vector<int64_t> predicted = argmax_rows(logits);
    for (int64_t i = 0; i < n; ++i) result.correct += predicted[i] == data.labels[begin + i];
    result.images += n;
  }
  return result;
}

TimingResult time_session(const Graph& graph, const SessionOptions& options, int64_t batch,
                          double min_seconds, const std::string& where) {
  if (graph.inputs.size() != 1) fail(where, "timing feeds models with exactly one input");
  Session session(graph, options);
  FloatTensor x;
  x.shape = graph.inputs[0].shape;
  if (x.shape.empty()) fail(where, "graph input has no shape");
  x.shape[0] = batch;
  for (int64_t d : x.shape)
    if (d < 1)
      fail(where, "input shape " + shape_to_string(x.shape) + " has a free dimension besides the batch");
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  x.data.resize(x.numel());
  for (float& v : x.data) v = u(rng);
  const std::vector<FloatTensor> inputs{std::move(x)};
  std::vector<FloatTensor> outputs;
  session.run(inputs, outputs);  // warm-up: first touch of buffers and caches
  session.clear_step_times();
  std::vector<double> ms;
  double total = 0;
  while ((total < min_seconds * 1000 || ms.size() < 5) && ms.size() < 10000) {
    const auto t0 = std::chrono::steady_clock::now();
    session.run(inputs, outputs);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    total += ms.back();
  }
  std::sort(ms.begin(), ms.end());
  TimingResult t;
  t.threads = options.threads;
  t.batch = batch;
  t.median_ms = ms[ms.size() / 2];
  t.min_ms = ms.front();
  t.iterations = int(ms.size());
  for (std::vector<double> step : session.step_times()) {
    std::nth_element(step.begin(), step.begin() + step.size() / 2, step.end());
    t.step_median_ms.push_back(step[step.size() / 2]);
  }
  return t;
}

}  // namespace stern
