// `stern inspect --html`: one self-contained page per model.
#include <algorithm>
#include <cmath>
#include <map>

#include "report/svg.h"
#include "stern/archive.h"
#include "stern/cost.h"
#include "stern/report.h"

namespace stern {
namespace {

using report::BarChart;
using report::BarSeries;
using report::escape_html;
using report::format_number;

constexpr const char* kBlue = "#3b6fb6";
constexpr const char* kOrange = "#e08a2c";
constexpr const char* kGreen = "#4a9a5b";
constexpr int kFloatBins = 41;

struct LayerRow {
  const LayerCost* cost;
  const ArchiveTensorStats* archive;  // the weight tensor's entry
  const Tensor* weight;
};

// Code counts for quantized weights; a value histogram for float ones.
BarChart symbol_histogram(const LayerRow& r) {
  BarChart c;
  c.title = r.cost->node + " (" + r.cost->encoding + ")";
  c.y_label = "weights";
  c.width = 300;
  c.height = 200;
  c.log_y = true;
  BarSeries s{"count", kBlue, {}};
  const Tensor& t = *r.weight;
  if (t.encoding == Encoding::f32) {
    const std::vector<float> v = t.to_floats();
    const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    const double lo = v.empty() ? 0 : *mn, hi = v.empty() ? 1 : *mx, width = std::max(hi - lo, 1e-12) / kFloatBins;
    s.values.assign(kFloatBins, 0);
    for (const float x : v) s.values[std::min(kFloatBins - 1, int((x - lo) / width))] += 1;
    for (int b = 0; b < kFloatBins; ++b) c.categories.push_back(format_number(lo + (b + 0.5) * width));
  } else {
    const EncodingTraits& traits = encoding_traits(t.encoding);
    const WeightMatrix m = traits.unpack(t.payload, t.rows(), t.cols(), t.name);
    s.values.assign(traits.max_code - traits.min_code + 1, 0);
    for (const int8_t code : m.codes) s.values[code - traits.min_code] += 1;
    for (int code = traits.min_code; code <= traits.max_code; ++code) c.categories.push_back(std::to_string(code));
  }
  c.series.push_back(std::move(s));
  return c;
}

std::string summary_table(const Graph& g, const ModelCost& cost, const ModelSizes& sizes) {
  const double sparsity = cost.total.weights > 0 ? 1.0 - double(cost.total.nonzero_weights) / double(cost.total.weights) : 0;
  auto row = [](const std::string& k, const std::string& v) {
    return "<tr><th>" + escape_html(k) + "</th><td>" + escape_html(v) + "</td></tr>";
  };
  auto ratio = [&](int64_t bytes) { return format_number(double(sizes.fp32_bytes) / double(std::max<int64_t>(bytes, 1))) + "x"; };
  std::string out = "<table class=\"summary\">";
  out += row("nodes / tensors", std::to_string(g.nodes.size()) + " / " + std::to_string(g.tensors.size()));
  out += row("conv/linear weights", std::to_string(cost.total.weights) + " (sparsity " + format_number(sparsity) + ")");
  out += row("FP32 .stern", std::to_string(sizes.fp32_bytes) + " bytes");
  out += row(".stern (run-time encodings)", std::to_string(sizes.stern_bytes) + " bytes, " + ratio(sizes.stern_bytes) + " vs FP32");
  out += row(".sternz (entropy-coded)", std::to_string(sizes.sternz_bytes) + " bytes, " + ratio(sizes.sternz_bytes) +
                                            " vs FP32, " + format_number(sizes.sternz_bits_per_weight) + " bits per quantized weight");
  out += row("same network, dense ternary / dense binary",
             std::to_string(sizes.dense_ternary_bytes) + " / " + std::to_string(sizes.dense_binary_bytes) + " bytes");
  out += row("MACs (dense) / multiplications / additions", format_number(double(cost.total.macs)) + " / " +
                                                              format_number(double(cost.total.multiplications)) + " / " +
                                                              format_number(double(cost.total.additions)));
  out += row("energy per inference (compute + weight fetch)",
             format_number(cost.total.compute_energy_pj / 1000) + " nJ + " + format_number(cost.total.weight_fetch_energy_pj / 1000) + " nJ");
  out += row("FPGA, fully unrolled ternary layers", format_number(double(cost.total.fpga_adders)) + " adders, " +
                                                      format_number(cost.total.fpga_luts) + " LUTs");
  return out + "</table>";
}

std::string layer_table(const std::vector<LayerRow>& rows) {
  std::string out =
      "<table class=\"layers\"><tr><th>layer</th><th>op</th><th>encoding</th><th>shape</th><th>weights</th>"
      "<th>non-zeros</th><th>sparsity</th><th>scales</th><th>.stern bits/w</th><th>.sternz bits/w</th>"
      "<th>entropy bits/w</th><th>MACs</th><th>mults</th><th>adds</th><th>energy nJ</th><th>FPGA LUTs</th></tr>";
  for (const auto& r : rows) {
    const LayerCost& l = *r.cost;
    const double w = double(std::max<int64_t>(l.weights, 1));
    std::string shape;
    for (const int64_t d : r.weight->shape) {
      if (!shape.empty()) shape += 'x';
      shape += std::to_string(d);
    }
    const double entropy = r.archive != nullptr && r.archive->method == "rans" ? r.archive->entropy_bits / w : NAN;
    auto cell = [](const std::string& s) { return "<td>" + escape_html(s) + "</td>"; };
    out += "<tr>" + cell(l.node) + cell(l.op) + cell(l.encoding) + cell(shape) + cell(std::to_string(l.weights)) +
           cell(std::to_string(l.nonzero_weights)) + cell(format_number(1.0 - double(l.nonzero_weights) / w)) +
           cell(std::to_string(l.scales)) + cell(format_number(double(l.runtime_weight_bits) / w)) +
           cell(format_number(double(l.stored_weight_bits) / w)) + cell(std::isnan(entropy) ? "-" : format_number(entropy)) +
           cell(format_number(double(l.macs))) + cell(format_number(double(l.multiplications))) +
           cell(format_number(double(l.additions))) +
           cell(format_number((l.compute_energy_pj + l.weight_fetch_energy_pj) / 1000)) + cell(format_number(l.fpga_luts)) +
           "</tr>";
  }
  return out + "</table>";
}

}  // namespace

std::string model_report_html(const Graph& graph, const std::string& title) {
  const ModelCost cost = model_cost(graph);
  const ModelSizes sizes = model_sizes(graph);
  ArchiveStats archive;
  compress_model(graph, &archive);
  std::vector<LayerRow> rows;
  for (const Node& n : graph.nodes) {
    if (n.op != OpType::conv2d && n.op != OpType::linear) continue;
    const auto lc = std::find_if(cost.layers.begin(), cost.layers.end(), [&](const LayerCost& l) { return l.node == n.name; });
    const auto at = std::find_if(archive.tensors.begin(), archive.tensors.end(),
                                 [&](const ArchiveTensorStats& s) { return s.name == n.inputs[1]; });
    rows.push_back({&*lc, at == archive.tensors.end() ? nullptr : &*at, graph.find_tensor(n.inputs[1])});
  }

  BarChart sparsity{"Sparsity per layer", "fraction of zero weights", {}, {{"sparsity", kBlue, {}}}};
  BarChart bits{"Compression per layer", "bits per weight", {}, {{".stern", kBlue, {}}, {".sternz", kOrange, {}}, {"entropy", kGreen, {}}}};
  BarChart ops{"Operations per layer", "per inference", {}, {{"dense MACs", kBlue, {}}, {"multiplications", kOrange, {}}, {"additions", kGreen, {}}}};
  BarChart energy{"Energy per layer", "nJ per inference", {}, {{"compute", kBlue, {}}, {"weight fetch (DRAM)", kOrange, {}}}};
  ops.log_y = energy.log_y = true;
  for (const auto& r : rows) {
    const LayerCost& l = *r.cost;
    const double w = double(std::max<int64_t>(l.weights, 1));
    for (BarChart* c : {&sparsity, &bits, &ops, &energy}) c->categories.push_back(l.node);
    sparsity.series[0].values.push_back(1.0 - double(l.nonzero_weights) / w);
    bits.series[0].values.push_back(double(l.runtime_weight_bits) / w);
    bits.series[1].values.push_back(double(l.stored_weight_bits) / w);
    bits.series[2].values.push_back(r.archive != nullptr && r.archive->method == "rans" ? r.archive->entropy_bits / w : 0);
    ops.series[0].values.push_back(double(l.macs));
    ops.series[1].values.push_back(double(l.multiplications));
    ops.series[2].values.push_back(double(l.additions));
    energy.series[0].values.push_back(l.compute_energy_pj / 1000);
    energy.series[1].values.push_back(l.weight_fetch_energy_pj / 1000);
  }

  std::string body = "<h1>" + escape_html(title) + "</h1>" + summary_table(graph, cost, sizes);
  body += "<h2>Layers</h2>" + layer_table(rows);
  body += "<h2>Sparsity and compression</h2><div class=\"row\">" + report::bar_chart_svg(sparsity) +
          report::bar_chart_svg(bits) + "</div>";
  body += "<h2>Cost breakdown</h2><div class=\"row\">" + report::bar_chart_svg(ops) + report::bar_chart_svg(energy) +
          "</div><p class=\"note\">Energy: Horowitz, ISSCC 2014, 45 nm; weights read once from DRAM per inference; "
          "see docs/COST.md.</p>";
  body += "<h2>Weight symbols</h2><div class=\"row\">";
  for (const auto& r : rows) body += report::bar_chart_svg(symbol_histogram(r));
  body += "</div>";
  return report::html_page(title, body);
}

}  // namespace stern
