// stern inspect model.stern --html report.html [--json]: a self-contained HTML report (per-layer
// table, weight-symbol histograms, sparsity, cost breakdown, compression per layer) and/or
// the per-layer figures as JSON.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "stern/cost.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/model_io.h"
#include "stern/report.h"

namespace stern::cli {
namespace {

using nlohmann::json;

struct InspectOptions {
  std::string model;
  std::string html;
  bool json = false;
};

void print_json(const InspectOptions& o, const Graph& g) {
  const ModelCost cost = model_cost(g);
  const ModelSizes sizes = model_sizes(g);
  json layers = json::array();
  for (const LayerCost& l : cost.layers) {
    const double w = double(std::max<int64_t>(l.weights, 1));
    layers.push_back({{"node", l.node},
                      {"encoding", l.encoding},
                      {"weights", l.weights},
                      {"sparsity", 1.0 - double(l.nonzero_weights) / w},
                      {"runtime_bits_per_weight", double(l.runtime_weight_bits) / w},
                      {"stored_bits_per_weight", double(l.stored_weight_bits) / w}});
  }
  const json out = {{"model", o.model},
                    {"html", o.html},
                    {"fp32_bytes", sizes.fp32_bytes},
                    {"stern_bytes", sizes.stern_bytes},
                    {"sternz_bytes", sizes.sternz_bytes},
                    {"dense_ternary_bytes", sizes.dense_ternary_bytes},
                    {"dense_binary_bytes", sizes.dense_binary_bytes},
                    {"quantized_weights", sizes.quantized_weights},
                    {"sternz_bits_per_weight", sizes.sternz_bits_per_weight},
                    {"layers", layers}};
  std::printf("%s\n", out.dump(2).c_str());
}

void run_inspect(const InspectOptions& o) {
  if (o.html.empty() && !o.json) fail("inspect", "nothing to do: give --html <file> and/or --json");
  const Graph g = open_model(o.model);
  if (!o.html.empty()) {
    const std::string page = model_report_html(g, o.model);
    write_file_atomic(o.html, {reinterpret_cast<const uint8_t*>(page.data()), page.size()});
  }
  if (o.json) print_json(o, g);
  else std::printf("%s: report for %s\n", o.html.c_str(), o.model.c_str());
}

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Write a self-contained HTML report of a model");
  cmd->add_option("model", options->model, "model file (.stern or .sternz)")->required();
  cmd->add_option("--html", options->html, "report to write (one HTML file, inline SVG, no network)");
  cmd->add_flag("--json", options->json, "print the per-layer figures as JSON");
  cmd->callback([options] { run_inspect(*options); });
}

}  // namespace

STERN_COMMAND(add_inspect_command);

}  // namespace stern::cli
