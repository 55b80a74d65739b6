// stern summary: the table of the main job. For each model: accuracy on the test split
// through the runtime, weight sparsity, stored size and compression against FP32, batch-1
// latency and batch-64 throughput.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "command.h"
#include "stern/cpu_features.h"
#include "stern/dataset.h"
#include "stern/model_io.h"
#include "stern/model_stats.h"

namespace stern::cli {
namespace {

struct SummaryOptions {
  std::vector<std::string> models;
  std::string data;
  int threads = 0;
  int64_t limit = 0;
  double min_time_s = 0.3;
  bool json = false;
};

nlohmann::json summarize(const std::string& path, const Dataset& test, const SummaryOptions& o) {
  const Graph graph = open_model(path);
  const LayerWeightStats weights = total_weight_stats(weight_stats(graph));
  std::set<std::string> encodings;
  for (const LayerWeightStats& l : weight_stats(graph)) encodings.insert(l.encoding);
  std::string encoding_list;
  for (const std::string& e : encodings) encoding_list += (encoding_list.empty() ? "" : "+") + e;

  SessionOptions options;
  options.threads = o.threads;
  Session session(graph, options);
  const AccuracyResult acc = evaluate_accuracy(session, test, 64, path);
  const TimingResult latency = time_session(graph, options, 1, o.min_time_s, path);
  const TimingResult throughput = time_session(graph, options, 64, o.min_time_s, path);
  const int64_t file_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  return {{"model", path},
          {"encodings", encoding_list},
          {"accuracy", acc.accuracy()},
          {"images", acc.images},
          {"sparsity", weights.sparsity()},
          {"weights", weights.weights},
          {"file_bytes", file_bytes},
          {"fp32_bytes", fp32_tensor_bytes(graph)},
          {"compression_vs_fp32", double(fp32_tensor_bytes(graph)) / double(file_bytes)},
          {"batch1_median_ms", latency.median_ms},
          {"batch64_median_ms", throughput.median_ms},
          {"batch64_images_per_second", 64 * 1000.0 / throughput.median_ms}};
}

void summary(const SummaryOptions& o) {
  Dataset test = load_test_split(o.data);
  if (o.limit > 0) test = test.head(o.limit);
  nlohmann::json j;
  j["dataset"] = o.data;
  j["threads"] = o.threads > 0 ? o.threads : cpu_features().cores;
  j["isa"] = isa_name(cpu_features().best());
  j["models"] = nlohmann::json::array();
  for (const std::string& path : o.models) j["models"].push_back(summarize(path, test, o));
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s test split (%lld images), %d threads, %s kernels\n\n", o.data.c_str(),
              static_cast<long long>(test.count), j["threads"].get<int>(), j["isa"].get<std::string>().c_str());
  std::printf("%-32s %-26s %8s %8s %10s %8s %10s %12s\n", "model", "weights", "accuracy", "sparsity",
              "bytes", "vs fp32", "b1 ms", "b64 img/s");
  for (const auto& m : j["models"]) {
    const std::string name = std::filesystem::path(m["model"].get<std::string>()).filename().string();
    std::printf("%-32s %-26s %8.4f %8.4f %10lld %7.1fx %10.3f %12.0f\n", name.c_str(),
                m["encodings"].get<std::string>().c_str(), m["accuracy"].get<double>(),
                m["sparsity"].get<double>(), static_cast<long long>(m["file_bytes"].get<int64_t>()),
                m["compression_vs_fp32"].get<double>(), m["batch1_median_ms"].get<double>(),
                m["batch64_images_per_second"].get<double>());
  }
}

void add_summary_command(CLI::App& app) {
  auto o = std::make_shared<SummaryOptions>();
  CLI::App* cmd = app.add_subcommand(
      "summary", "One table for several models: accuracy, sparsity, size, compression, speed");
  cmd->add_option("models", o->models, "Model files (.stern, .sternz, .onnx)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", o->data, "Dataset: mnist | fashion-mnist")
      ->required()
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}));
  cmd->add_option("--threads", o->threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit", o->limit, "Evaluate only the first N test images (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-time", o->min_time_s, "Seconds of timed runs per batch size")->check(CLI::Range(0.0, 600.0));
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the table");
  cmd->callback([o] { summary(*o); });
}

}  // namespace

STERN_COMMAND(add_summary_command);

}  // namespace stern::cli
