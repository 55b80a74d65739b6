// stern export: any model stern opens, written as ONNX (FP32 weights, quantized activations
// as QuantizeLinear/DequantizeLinear) so that other runtimes can check it.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "stern/model_io.h"
#include "stern/onnx.h"

namespace stern::cli {
namespace {

struct ExportOptions {
  std::string model;
  std::string out;
  bool json = false;
};

void run(const ExportOptions& o) {
  const Graph graph = open_model(o.model);
  export_onnx(graph, o.out);
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(o.out));
  if (o.json) {
    nlohmann::json j{{"model", o.model}, {"output", o.out}, {"nodes", graph.nodes.size()}, {"bytes", bytes}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("wrote %s (%zu stern nodes, %lld bytes)\n", o.out.c_str(), graph.nodes.size(),
                static_cast<long long>(bytes));
  }
}

void add_export_command(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand("export", "Write a model as ONNX (opset 13, FP32 weights)");
  cmd->add_option("model", o->model, "Model (.stern, .sternz or .onnx)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "Output .onnx file")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] { run(*o); });
}

}  // namespace

STERN_COMMAND(add_export_command);

}  // namespace stern::cli
