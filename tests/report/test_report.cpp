// Report content and plots: self-containment, the figures on the page, CSV parsing errors and
// Pareto fronts against an independent sweep.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "compress/lenet5.h"
#include "stern/error.h"
#include "stern/report.h"

namespace stern {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Nothing on the page may be fetched: no scripts, external links, imports or url() references.
void expect_self_contained(const std::string& page) {
  EXPECT_EQ(count(page, "<script"), 0u);
  EXPECT_EQ(count(page, "src="), 0u);
  EXPECT_EQ(count(page, "url("), 0u);
  EXPECT_EQ(count(page, "@import"), 0u);
  EXPECT_EQ(count(page, "<link"), count(page, "<link rel=\"icon\" href=\"data:,\">"));
  // The only absolute URL is the SVG namespace name, which is never fetched.
  EXPECT_EQ(count(page, "http"), count(page, "http://www.w3.org/2000/svg"));
}

TEST(ModelReport, HasEverySectionAndIsSelfContained) {
  Graph g = test::lenet5({});
  g.nodes[0].name = "conv<1>&\"x\"";  // must come out escaped
  const std::string page = model_report_html(g, "LeNet <5>");
  expect_self_contained(page);
  EXPECT_NE(page.find("<h1>LeNet &lt;5&gt;</h1>"), std::string::npos);
  EXPECT_NE(page.find("conv&lt;1&gt;&amp;&quot;x&quot;"), std::string::npos);
  EXPECT_EQ(page.find("conv<1>"), std::string::npos);
  for (const char* section : {"Layers", "Sparsity per layer", "Compression per layer", "Operations per layer",
                              "Energy per layer", "Weight symbols"})
    EXPECT_NE(page.find(section), std::string::npos) << section;
  // 4 charts + one histogram per conv/linear layer; 5 layer rows + header in the layer table.
  EXPECT_EQ(count(page, "<svg"), 4u + 5u);
  const size_t table = page.find("<table class=\"layers\">");
  const size_t table_end = page.find("</table>", table);
  EXPECT_EQ(count(page.substr(table, table_end - table), "<tr>"), 6u);
  // Histogram bars carry exact counts in their tooltips: conv2's zero codes, counted here.
  const Tensor& w = *g.find_tensor("conv2.weight");
  const auto values = w.to_floats();
  const auto zeros = std::count(values.begin(), values.end(), 0.0f);
  EXPECT_NE(page.find("<title>0 count: " + std::to_string(zeros) + "</title>"), std::string::npos);
}

TEST(ResultsCsv, ParsesQuotedFieldsAndAnyColumnOrder) {
  const auto runs = parse_results_csv(
      "bytes,name,accuracy,method,sparsity\n"
      "4944,\"lenet, 95%\",0.981,sparse-ternary,0.95\n"
      "\n"
      "248680,\"fp32 \"\"base\"\"\",0.992,fp32,0\r\n",
      "r.csv");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "lenet, 95%");
  EXPECT_EQ(runs[0].bytes, 4944);
  EXPECT_DOUBLE_EQ(runs[0].sparsity, 0.95);
  EXPECT_EQ(runs[1].name, "fp32 \"base\"");
  EXPECT_EQ(runs[1].method, "fp32");
}

TEST(ResultsCsv, RejectsBadInputNamingLineAndColumn) {
  auto message = [](const std::string& text) {
    try {
      parse_results_csv(text, "r.csv");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("name,accuracy,bytes\nx,0.5,10\n").find("missing column 'sparsity'"), std::string::npos);
  EXPECT_NE(message("name,accuracy,sparsity,bytes\nx,98.1,0.5,10\n").find("r.csv:2 column accuracy"), std::string::npos);
  EXPECT_NE(message("name,accuracy,sparsity,bytes\nx,0.9,0.5,abc\n").find("r.csv:2 column bytes"), std::string::npos);
  EXPECT_NE(message("name,accuracy,sparsity,bytes\nx,0.9,0.5\n").find("r.csv:2"), std::string::npos);
  EXPECT_NE(message("name,accuracy,sparsity,bytes\n\"x,0.9,0.5,1\n").find("unterminated"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("name,accuracy,sparsity,bytes\n").find("no runs"), std::string::npos);
}

// Independent reference: sort by size, keep each run more accurate than every smaller one.
TEST(Pareto, MatchesSweepOnRandomRuns) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<ExperimentRun> runs(30);
    for (size_t i = 0; i < runs.size(); ++i) {
      runs[i].name = std::to_string(i);
      runs[i].accuracy = std::round(u(rng) * 20) / 20;  // ties on purpose
      runs[i].sparsity = u(rng);
      runs[i].bytes = 1000 + int64_t(u(rng) * 1000);
    }
    std::vector<size_t> order(runs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return runs[a].bytes != runs[b].bytes ? runs[a].bytes < runs[b].bytes : runs[a].accuracy > runs[b].accuracy;
    });
    std::vector<size_t> expected;
    double best = -1;
    int64_t best_bytes = -1;
    for (const size_t i : order) {
      // Equal to the best at the same size is not dominated; anything else must beat it.
      if (runs[i].accuracy > best || (runs[i].accuracy == best && runs[i].bytes == best_bytes)) {
        expected.push_back(i);
        best = runs[i].accuracy;
        best_bytes = runs[i].bytes;
      }
    }
    auto front = pareto_front_by_size(runs);
    std::sort(front.begin(), front.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(front, expected) << trial;
  }
}

TEST(Plot, DrawsBothPanelsWithFronts) {
  const auto runs = parse_results_csv(
      "name,accuracy,sparsity,bytes,method\n"
      "a,0.99,0,248680,fp32\nb,0.985,0.5,19000,ternary\nc,0.98,0.95,4944,sparse\nd,0.97,0.9,9000,sparse\n",
      "r.csv");
  const std::string svg = results_plot_svg(runs);
  EXPECT_EQ(count(svg, "class=\"front\""), 2u);
  EXPECT_EQ(count(svg, "<circle"), 2 * runs.size() + 3 + 3);  // d is dominated in both panels
  const std::string page = results_plot_html(runs, "runs");
  expect_self_contained(page);
}

}  // namespace
}  // namespace stern
