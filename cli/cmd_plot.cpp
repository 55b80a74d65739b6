// stern plot results.csv --out plot.html|plot.svg [--json]: accuracy against sparsity and
// against stored size, Pareto fronts drawn. CSV columns: docs/COMPRESSION.md, "Plots".
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "stern/format.h"
#include "stern/report.h"

namespace stern::cli {
namespace {

using nlohmann::json;

struct PlotOptions {
  std::string csv;
  std::string out;
  bool json = false;
};

void run_plot(const PlotOptions& o) {
  const auto runs = read_results_csv(o.csv);
  const bool svg = std::filesystem::path(o.out).extension() == ".svg";
  const std::string text = svg ? results_plot_svg(runs) : results_plot_html(runs, o.csv);
  write_file_atomic(o.out, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  if (!o.json) {
    std::printf("%s: %zu runs, %zu on the accuracy/size front\n", o.out.c_str(), runs.size(),
                pareto_front_by_size(runs).size());
    return;
  }
  auto names = [&](const std::vector<size_t>& idx) {
    json out = json::array();
    for (const size_t i : idx) out.push_back(runs[i].name);
    return out;
  };
  const json out = {{"csv", o.csv},
                    {"out", o.out},
                    {"runs", runs.size()},
                    {"front_by_size", names(pareto_front_by_size(runs))},
                    {"front_by_sparsity", names(pareto_front_by_sparsity(runs))}};
  std::printf("%s\n", out.dump(2).c_str());
}

void add_plot_command(CLI::App& app) {
  auto options = std::make_shared<PlotOptions>();
  CLI::App* cmd = app.add_subcommand("plot", "Plot accuracy vs sparsity and vs size (Pareto front) from a results CSV");
  cmd->add_option("csv", options->csv, "results CSV (columns name, accuracy, sparsity, bytes[, method])")->required();
  cmd->add_option("--out", options->out, "plot to write: .html (page) or .svg (image)")->required();
  cmd->add_flag("--json", options->json, "print the Pareto fronts as JSON");
  cmd->callback([options] { run_plot(*options); });
}

}  // namespace

STERN_COMMAND(add_plot_command);

}  // namespace stern::cli
