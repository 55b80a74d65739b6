// stern eval: a model's accuracy on a dataset's test split, run through the runtime, with
// what it was bought with: per-layer weight sparsity and the stored bytes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "stern/dataset.h"
#include "stern/error.h"
#include "stern/model_io.h"
#include "stern/runtime.h"
#include "stern/shape.h"
#include "stern/tensor_io.h"

namespace stern::cli {
namespace {

struct EvalOptions {
  std::string model;
  std::string data;
  bool json = false;
  int64_t limit = 0;
  int64_t batch = 64;
  int threads = 0;
};

struct LayerWeights {
  std::string name;
  std::string tensor;
  std::string encoding;
  int64_t weights = 0;
  int64_t zeros = 0;
  int64_t bytes = 0;
};

double fraction(int64_t part, int64_t whole) { return whole > 0 ? static_cast<double>(part) / whole : 0.0; }

// Weight tensors of conv2d / linear nodes; zeros are counted on the dequantized values, so
// every encoding is measured the same way.
std::vector<LayerWeights> layer_weights(const Graph& graph) {
  std::vector<LayerWeights> layers;
  for (const Node& node : graph.nodes) {
    if ((node.op != OpType::conv2d && node.op != OpType::linear) || node.inputs.size() < 2) continue;
    const Tensor* w = graph.find_tensor(node.inputs[1]);
    if (w == nullptr) continue;  // a weight computed at run time is not a stored layer
    LayerWeights layer;
    layer.name = node.name;
    layer.tensor = w->name;
    layer.encoding = encoding_traits(w->encoding).name;
    for (float v : w->to_floats()) {
      ++layer.weights;
      layer.zeros += v == 0.0f;
    }
    layer.bytes = static_cast<int64_t>(w->payload.size());
    layers.push_back(layer);
  }
  return layers;
}

LayerWeights total_of(const std::vector<LayerWeights>& layers) {
  LayerWeights total;
  total.name = "total";
  for (const LayerWeights& l : layers) {
    total.weights += l.weights;
    total.zeros += l.zeros;
    total.bytes += l.bytes;
  }
  return total;
}

struct Score {
  int64_t images = 0;
  int64_t correct = 0;
  double seconds = 0;
  // A clock too coarse for a handful of images gives 0 s: report 0 rather than infinity.
  double images_per_second() const { return seconds > 0 ? images / seconds : 0.0; }
};

// Runs the images in batches; only Session::run is timed.
Score score(Session& session, const Dataset& test, int64_t batch, const std::string& where) {
  const Graph& graph = session.graph();
  if (graph.inputs.size() != 1) {
    fail(where, "model has " + std::to_string(graph.inputs.size()) + " inputs, expected one image input");
  }
  Score s;
  const int64_t pixels = test.image_size();
  for (int64_t begin = 0; begin < test.count; begin += batch) {
    const int64_t n = std::min(batch, test.count - begin);
    FloatTensor x;
    x.shape = {n, test.channels, test.height, test.width};
    x.data.assign(test.images.begin() + begin * pixels, test.images.begin() + (begin + n) * pixels);
    x = reshape_for_input(std::move(x), graph.inputs[0], where + ": " + test.name + " images");
    const auto start = std::chrono::steady_clock::now();
    const std::vector<FloatTensor> out = session.run({x});
    s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const FloatTensor& logits = out.at(0);
    if (logits.shape.size() != 2 || logits.shape[0] != n || logits.shape[1] != test.num_classes) {
      fail(where, "output '" + graph.outputs[0].name + "' has shape " + shape_to_string(logits.shape) +
                      ", expected [" + std::to_string(n) + ", " + std::to_string(test.num_classes) +
                      "] class scores");
    }
    const std::vector<int64_t> predicted = argmax_rows(logits);
    for (int64_t i = 0; i < n; ++i) s.correct += predicted[i] == test.labels[begin + i];
    s.images += n;
  }
  return s;
}

void print_row(const LayerWeights& l) {
  std::printf("%-24s %-15s %10lld %10lld %9.4f %10lld\n", l.name.c_str(), l.encoding.c_str(),
              static_cast<long long>(l.weights), static_cast<long long>(l.zeros),
              fraction(l.zeros, l.weights), static_cast<long long>(l.bytes));
}

void print_text(const EvalOptions& o, const Score& s, const std::vector<LayerWeights>& layers,
                int64_t file_bytes, int threads) {
  std::printf("model     %s (%lld bytes)\n", o.model.c_str(), static_cast<long long>(file_bytes));
  std::printf("data      %s test split, %lld images\n", o.data.c_str(), static_cast<long long>(s.images));
  std::printf("accuracy  %.4f (%lld / %lld)\n", fraction(s.correct, s.images),
              static_cast<long long>(s.correct), static_cast<long long>(s.images));
  std::printf("speed     %.0f images/s (batch %lld, %d threads)\n\n", s.images_per_second(),
              static_cast<long long>(o.batch), threads);
  std::printf("%-24s %-15s %10s %10s %9s %10s\n", "layer", "encoding", "weights", "zeros", "sparsity", "bytes");
  for (const LayerWeights& l : layers) print_row(l);
  print_row(total_of(layers));
}

void print_json(const EvalOptions& o, const Score& s, const std::vector<LayerWeights>& layers,
                int64_t file_bytes, int threads) {
  nlohmann::json j;
  j["model"] = o.model;
  j["dataset"] = o.data;
  j["split"] = "test";
  j["images"] = s.images;
  j["correct"] = s.correct;
  j["accuracy"] = fraction(s.correct, s.images);
  j["layers"] = nlohmann::json::array();
  for (const LayerWeights& l : layers) {
    j["layers"].push_back({{"name", l.name}, {"tensor", l.tensor}, {"encoding", l.encoding},
                           {"weights", l.weights}, {"zeros", l.zeros},
                           {"sparsity", fraction(l.zeros, l.weights)}, {"bytes", l.bytes}});
  }
  const LayerWeights total = total_of(layers);
  j["weights"] = total.weights;
  j["zeros"] = total.zeros;
  j["sparsity"] = fraction(total.zeros, total.weights);
  j["weight_bytes"] = total.bytes;
  j["file_bytes"] = file_bytes;
  j["batch"] = o.batch;
  j["threads"] = threads;
  j["elapsed_seconds"] = s.seconds;
  j["images_per_second"] = s.images_per_second();
  std::printf("%s\n", j.dump(2).c_str());
}

void eval(const EvalOptions& o) {
  Graph graph = open_model(o.model);
  const std::vector<LayerWeights> layers = layer_weights(graph);
  const int64_t file_bytes = static_cast<int64_t>(std::filesystem::file_size(o.model));
  Dataset test = load_test_split(o.data);
  if (o.limit > 0) test = test.head(o.limit);
  if (test.count == 0) fail(o.data, "test split is empty");
  SessionOptions session_options;
  session_options.threads = o.threads;
  Session session(std::move(graph), session_options);
  const Score s = score(session, test, o.batch, o.model);
  if (o.json) {
    print_json(o, s, layers, file_bytes, session.threads());
  } else {
    print_text(o, s, layers, file_bytes, session.threads());
  }
}

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Accuracy on a dataset's test split through the runtime, weight sparsity and size");
  cmd->add_option("model", options->model, "Model file (.stern, .sternz or .onnx)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", options->data, "Dataset: mnist | fashion-mnist")
      ->required()
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}));
  cmd->add_flag("--json", options->json, "Print one JSON object instead of the table");
  cmd->add_option("--limit", options->limit, "Evaluate only the first N test images (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", options->batch, "Images per run")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", options->threads, "Worker threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([options] { eval(*options); });
}

}  // namespace

STERN_COMMAND(add_eval_command);

}  // namespace stern::cli
