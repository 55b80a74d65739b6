// stern run: one input tensor (.npy or .pb) through a model; prints each output's shape and
// the argmax of every row, and writes the first output (atomically, like every stern write).
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "stern/error.h"
#include "stern/model_io.h"
#include "stern/runtime.h"
#include "stern/shape.h"
#include "stern/tensor_io.h"

namespace stern::cli {
namespace {

// A terminal is not the place for thousands of class indices; --json has them all.
constexpr size_t kMaxPrintedRows = 32;

struct RunOptions {
  std::string model;
  std::string input;
  std::string output;
  bool json = false;
  int threads = 0;
};

void run(const RunOptions& o) {
  Graph graph = open_model(o.model);
  if (graph.inputs.size() != 1) {
    fail(o.model, "model has " + std::to_string(graph.inputs.size()) +
                      " inputs, stern run feeds exactly one");
  }
  FloatTensor x = reshape_for_input(read_tensor_file(o.input), graph.inputs[0], o.input);
  SessionOptions session_options;
  session_options.threads = o.threads;
  Session session(std::move(graph), session_options);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<FloatTensor> outputs = session.run({x});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!o.output.empty()) write_tensor_file(o.output, outputs.at(0));

  const Graph& g = session.graph();
  const int threads = session.threads();
  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["input"] = o.input;
    j["input_shape"] = x.shape;
    j["outputs"] = nlohmann::json::array();
    for (size_t i = 0; i < outputs.size(); ++i) {
      j["outputs"].push_back({{"name", g.outputs[i].name}, {"shape", outputs[i].shape},
                              {"argmax", argmax_rows(outputs[i])}});
    }
    j["output_file"] = o.output.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.output);
    j["threads"] = threads;
    j["elapsed_ms"] = ms;
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("input   %s %s\n", o.input.c_str(), shape_to_string(x.shape).c_str());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::vector<int64_t> best = argmax_rows(outputs[i]);
    std::printf("output  %s %s\nargmax ", g.outputs[i].name.c_str(), shape_to_string(outputs[i].shape).c_str());
    for (size_t r = 0; r < best.size() && r < kMaxPrintedRows; ++r) std::printf(" %lld", static_cast<long long>(best[r]));
    if (best.size() > kMaxPrintedRows) std::printf(" ... (%zu rows)", best.size());
    std::printf("\n");
  }
  std::printf("time    %.3f ms (%d threads)\n", ms, threads);
  if (!o.output.empty()) {
    std::printf("wrote   %s (output %s)\n", o.output.c_str(), g.outputs[0].name.c_str());
  }
}

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run one input tensor through a model");
  cmd->add_option("model", options->model, "Model file (.stern, .sternz or .onnx)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", options->input, "Input tensor (.npy or ONNX .pb; a batch, or one sample without the batch dimension)")
      ->required();
  cmd->add_option("--output", options->output, "Write the (first) output tensor here (.npy or .pb)");
  cmd->add_flag("--json", options->json, "Print one JSON object");
  cmd->add_option("--threads", options->threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([options] { run(*options); });
}

}  // namespace

STERN_COMMAND(add_run_command);

}  // namespace stern::cli
