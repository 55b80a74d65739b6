// stern eval: a model's accuracy on a dataset's test split, run through the runtime, with
// what it was bought with: per-layer weight sparsity and the stored bytes. The measuring is
// model_stats.h's, shared with `stern summary`; this file is the command and its output.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "stern/dataset.h"
#include "stern/error.h"
#include "stern/model_io.h"
#include "stern/model_stats.h"
#include "stern/runtime.h"

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

struct EvalReport {
  AccuracyResult accuracy;
  std::vector<LayerWeightStats> layers;
  int64_t file_bytes = 0;
  int threads = 0;
  // A clock too coarse for a handful of images gives 0 s: report 0 rather than infinity.
  double images_per_second() const {
    return accuracy.seconds > 0 ? accuracy.images / accuracy.seconds : 0.0;
  }
};

void print_row(const LayerWeightStats& l) {
  std::printf("%-24s %-15s %10lld %10lld %9.4f %10lld\n", l.node.c_str(), l.encoding.c_str(),
              static_cast<long long>(l.weights), static_cast<long long>(l.zeros), l.sparsity(),
              static_cast<long long>(l.bytes));
}

void print_text(const EvalOptions& o, const EvalReport& r) {
  const AccuracyResult& a = r.accuracy;
  std::printf("model     %s (%lld bytes)\n", o.model.c_str(), static_cast<long long>(r.file_bytes));
  std::printf("data      %s test split, %lld images\n", o.data.c_str(), static_cast<long long>(a.images));
  std::printf("accuracy  %.4f (%lld / %lld)\n", a.accuracy(), static_cast<long long>(a.correct),
              static_cast<long long>(a.images));
  std::printf("speed     %.0f images/s (batch %lld, %d threads)\n\n", r.images_per_second(),
              static_cast<long long>(o.batch), r.threads);
  std::printf("%-24s %-15s %10s %10s %9s %10s\n", "layer", "encoding", "weights", "zeros", "sparsity", "bytes");
  for (const LayerWeightStats& l : r.layers) print_row(l);
  print_row(total_weight_stats(r.layers));
}

void print_json(const EvalOptions& o, const EvalReport& r) {
  nlohmann::json j;
  j["model"] = o.model;
  j["dataset"] = o.data;
  j["split"] = "test";
  j["images"] = r.accuracy.images;
  j["correct"] = r.accuracy.correct;
  j["accuracy"] = r.accuracy.accuracy();
  j["layers"] = nlohmann::json::array();
  for (const LayerWeightStats& l : r.layers) {
    j["layers"].push_back({{"name", l.node}, {"tensor", l.tensor}, {"encoding", l.encoding},
                           {"weights", l.weights}, {"zeros", l.zeros}, {"sparsity", l.sparsity()},
                           {"bytes", l.bytes}});
  }
  const LayerWeightStats total = total_weight_stats(r.layers);
  j["weights"] = total.weights;
  j["zeros"] = total.zeros;
  j["sparsity"] = total.sparsity();
  j["weight_bytes"] = total.bytes;
  j["file_bytes"] = r.file_bytes;
  j["batch"] = o.batch;
  j["threads"] = r.threads;
  j["elapsed_seconds"] = r.accuracy.seconds;
  j["images_per_second"] = r.images_per_second();
  std::printf("%s\n", j.dump(2).c_str());
}

void eval(const EvalOptions& o) {
  Graph graph = open_model(o.model);
  EvalReport report;
  report.layers = weight_stats(graph);
  report.file_bytes = static_cast<int64_t>(std::filesystem::file_size(o.model));
  Dataset test = load_test_split(o.data);
  if (o.limit > 0) test = test.head(o.limit);
  if (test.count == 0) fail(o.data, "test split is empty");
  SessionOptions session_options;
  session_options.threads = o.threads;
  Session session(std::move(graph), session_options);
  report.accuracy = evaluate_accuracy(session, test, o.batch, o.model);
  report.threads = session.threads();
  if (o.json) {
    print_json(o, report);
  } else {
    print_text(o, report);
  }
}

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Accuracy on a dataset's test split through the runtime, weight sparsity and size");
  cmd->add_option("model", options->model, "Model file (.stern, .sternz or .onnx)")
      ->required()
      ->check(CLI::ExistingFile);
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
