// `stern plot`: accuracy against sparsity and against size over experiment runs (CSV).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "report/svg.h"
#include "stern/error.h"
#include "stern/report.h"

namespace stern {
namespace {

constexpr size_t kMaxCsvBytes = size_t{64} << 20;
constexpr const char* kPalette[] = {"#3b6fb6", "#e08a2c", "#4a9a5b", "#8e5ea2", "#c0392b", "#2c9aa0", "#7f7f7f"};

// One CSV record: comma-separated, fields optionally in double quotes ("" inside for a quote).
std::vector<std::string> split_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  if (quoted) fail(where, "unterminated quoted field");
  return fields;
}

double parse_double(const std::string& s, const std::string& where) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) fail(where, "'" + s + "' is not a number");
  return v;
}

bool dominates(double acc_a, double cost_a, double acc_b, double cost_b) {
  return acc_a >= acc_b && cost_a <= cost_b && (acc_a > acc_b || cost_a < cost_b);
}

// Brute force over pairs: a few hundred runs at most, and obviously right.
std::vector<size_t> front(const std::vector<ExperimentRun>& runs, double (*cost)(const ExperimentRun&)) {
  std::vector<size_t> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < runs.size() && !dominated; ++j)
      dominated = j != i && dominates(runs[j].accuracy, cost(runs[j]), runs[i].accuracy, cost(runs[i]));
    if (!dominated) out.push_back(i);
  }
  std::sort(out.begin(), out.end(), [&](size_t a, size_t b) { return cost(runs[a]) < cost(runs[b]); });
  return out;
}

double size_cost(const ExperimentRun& r) { return double(r.bytes); }
double density_cost(const ExperimentRun& r) { return -r.sparsity; }

}  // namespace

std::vector<ExperimentRun> parse_results_csv(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) fail(name, "empty file, expected a header row");
  const auto header = split_csv_line(line, name + ":1");
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  for (const char* required : {"name", "accuracy", "sparsity", "bytes"})
    if (!column.count(required))
      fail(name + ":1", std::string("missing column '") + required + "' (need name, accuracy, sparsity, bytes)");
  std::vector<ExperimentRun> runs;
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = name + ":" + std::to_string(lineno);
    const auto f = split_csv_line(line, at);
    if (f.size() != header.size())
      fail(at, std::to_string(f.size()) + " fields, the header has " + std::to_string(header.size()));
    ExperimentRun r;
    r.name = f[column["name"]];
    r.accuracy = parse_double(f[column["accuracy"]], at + " column accuracy");
    r.sparsity = parse_double(f[column["sparsity"]], at + " column sparsity");
    const double bytes = parse_double(f[column["bytes"]], at + " column bytes");
    if (r.accuracy < 0 || r.accuracy > 1) fail(at + " column accuracy", "must be a fraction in [0, 1]");
    if (r.sparsity < 0 || r.sparsity > 1) fail(at + " column sparsity", "must be a fraction in [0, 1]");
    if (bytes < 1 || bytes > 1e15 || bytes != std::floor(bytes)) fail(at + " column bytes", "must be a positive integer");
    r.bytes = int64_t(bytes);
    if (column.count("method")) r.method = f[column["method"]];
    runs.push_back(std::move(r));
  }
  if (runs.empty()) fail(name, "no runs after the header row");
  return runs;
}

std::vector<ExperimentRun> read_results_csv(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path.string(), "not a readable regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open for reading");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, size_t(in.gcount()));
    if (text.size() > kMaxCsvBytes) fail(path.string(), "larger than " + std::to_string(kMaxCsvBytes) + " bytes");
  }
  return parse_results_csv(text, path.string());
}

std::vector<size_t> pareto_front_by_size(const std::vector<ExperimentRun>& runs) { return front(runs, size_cost); }
std::vector<size_t> pareto_front_by_sparsity(const std::vector<ExperimentRun>& runs) { return front(runs, density_cost); }

std::string results_plot_svg(const std::vector<ExperimentRun>& runs) {
  std::map<std::string, std::string> colors;
  for (const auto& r : runs)
    if (!colors.count(r.method)) colors[r.method] = kPalette[colors.size() % std::size(kPalette)];
  report::ScatterPlot by_sparsity{"Accuracy vs sparsity", "sparsity (fraction of zero weights)", "accuracy", {}, {}, false, {}};
  report::ScatterPlot by_size{"Accuracy vs size", "stored bytes (log)", "accuracy", {}, {}, true, {}};
  for (const auto& r : runs) {
    const std::string label = r.name + (r.method.empty() ? "" : " [" + r.method + "]") + ": accuracy " +
                              report::format_number(r.accuracy) + ", sparsity " + report::format_number(r.sparsity) +
                              ", " + std::to_string(r.bytes) + " bytes";
    by_sparsity.points.push_back({r.sparsity, r.accuracy, label, colors[r.method]});
    by_size.points.push_back({double(r.bytes), r.accuracy, label, colors[r.method]});
  }
  for (const auto& [method, color] : colors) {
    by_sparsity.legend.emplace_back(method.empty() ? "(no method)" : method, color);
    by_size.legend.emplace_back(method.empty() ? "(no method)" : method, color);
  }
  for (const size_t i : pareto_front_by_sparsity(runs)) by_sparsity.front.push_back(by_sparsity.points[i]);
  for (const size_t i : pareto_front_by_size(runs)) by_size.front.push_back(by_size.points[i]);
  // Both panels side by side in one SVG, so the .svg output stands alone too.
  const int w = by_sparsity.width + by_size.width;
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) + "\" height=\"" +
         std::to_string(by_size.height) + "\"><style>text{font-family:sans-serif}.ctitle{font-size:13px;font-weight:600;"
         "text-anchor:middle}.tick{font-size:10px;fill:#444}.alabel{font-size:11px}.grid{stroke:#e6e6e6}"
         ".front{fill:none;stroke:#c0392b;stroke-width:1.5}.onfront{fill:none;stroke:#c0392b;stroke-width:1.5}</style>" +
         report::scatter_svg(by_sparsity) + "<g transform=\"translate(" + std::to_string(by_sparsity.width) + ",0)\">" +
         report::scatter_svg(by_size) + "</g></svg>";
}

std::string results_plot_html(const std::vector<ExperimentRun>& runs, const std::string& title) {
  std::string table = "<table><tr><th>run</th><th>method</th><th>accuracy</th><th>sparsity</th><th>bytes</th><th>on front (size)</th></tr>";
  const auto on_front = pareto_front_by_size(runs);
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const bool front_member = std::find(on_front.begin(), on_front.end(), i) != on_front.end();
    table += "<tr><td>" + report::escape_html(r.name) + "</td><td>" + report::escape_html(r.method) + "</td><td>" +
             report::format_number(r.accuracy) + "</td><td>" + report::format_number(r.sparsity) + "</td><td>" +
             std::to_string(r.bytes) + "</td><td>" + (front_member ? "yes" : "") + "</td></tr>";
  }
  return report::html_page(title, "<h1>" + report::escape_html(title) + "</h1>" + results_plot_svg(runs) +
                                      "<p class=\"note\">Red: Pareto front (no run is at least as accurate and "
                                      "at most as large / as dense, strictly better in one).</p>" + table + "</table>");
}

}  // namespace stern
