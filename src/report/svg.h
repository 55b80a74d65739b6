// Minimal inline-SVG charts for the reports: bar charts and scatter plots with axes, ticks
// and labels, sized in CSS pixels, styled by the page's stylesheet classes.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace stern::report {

std::string escape_html(const std::string& s);
// A complete HTML document around `body`, with the stylesheet the charts use inline.
std::string html_page(const std::string& title, const std::string& body);
std::string format_number(double v);  // compact: 12.3k, 4.5M, 0.0123

struct BarSeries {
  std::string name;
  std::string color;  // CSS colour
  std::vector<double> values;  // one per category
};

struct BarChart {
  std::string title;
  std::string y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;  // drawn side by side within each category
  bool log_y = false;
  int width = 640, height = 260;
};
std::string bar_chart_svg(const BarChart& chart);

struct ScatterPoint {
  double x = 0, y = 0;
  std::string label;
  std::string color;
};

struct ScatterPlot {
  std::string title;
  std::string x_label, y_label;
  std::vector<ScatterPoint> points;
  std::vector<ScatterPoint> front;  // connected by a line, in order
  bool log_x = false;
  std::vector<std::pair<std::string, std::string>> legend;  // name, colour
  int width = 560, height = 380;
};
std::string scatter_svg(const ScatterPlot& plot);

}  // namespace stern::report
