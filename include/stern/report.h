// Reports people can look at: a self-contained HTML page per model (`stern inspect --html`)
// and accuracy-versus-size plots over experiment runs (`stern plot`). Pages hold inline SVG
// and CSS only: no scripts, fonts or anything fetched from the network.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern {

// Per-layer table, weight-symbol histograms, sparsity per layer, cost breakdown and
// compression per layer (cost.h, archive.h). `title` is shown escaped.
std::string model_report_html(const Graph& graph, const std::string& title);

// One experiment run, one CSV row (columns documented in docs/COMPRESSION.md, "Plots").
struct ExperimentRun {
  std::string name;
  double accuracy = 0;  // fraction in [0, 1]
  double sparsity = 0;  // fraction in [0, 1]
  int64_t bytes = 0;    // stored model size
  std::string method;   // optional: groups points by colour
};

// Reads a header row naming at least name, accuracy, sparsity, bytes (any order; extra
// columns ignored; optional `method`). Throws stern::Error naming the file, line and column.
std::vector<ExperimentRun> read_results_csv(const std::filesystem::path& path);
std::vector<ExperimentRun> parse_results_csv(const std::string& text, const std::string& name);

// Indices of the runs no other run dominates (>= accuracy and <= bytes, one strictly), by
// ascending bytes.
std::vector<size_t> pareto_front_by_size(const std::vector<ExperimentRun>& runs);
// The same with sparsity (higher is better) instead of bytes, by ascending sparsity.
std::vector<size_t> pareto_front_by_sparsity(const std::vector<ExperimentRun>& runs);

// Two scatter plots (accuracy vs sparsity, accuracy vs size on a log axis), fronts drawn.
std::string results_plot_svg(const std::vector<ExperimentRun>& runs);
std::string results_plot_html(const std::vector<ExperimentRun>& runs, const std::string& title);

}  // namespace stern
