#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace stern::report {
namespace {

struct Margins {
  double left = 64, right = 16, top = 34, bottom = 64;
};

// Maps data to pixels along one axis, linear or log10.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double px0 = 0, px1 = 1;

  double t(double v) const { return log ? std::log10(std::max(v, 1e-300)) : v; }
  double operator()(double v) const {
    const double a = t(lo), b = t(hi);
    return px0 + (t(v) - a) / (b - a) * (px1 - px0);
  }
  // Round steps of 1, 2 or 5 x 10^k (linear), or the powers of ten (log).
  std::vector<double> ticks() const {
    std::vector<double> out;
    if (log) {
      for (double p = std::floor(std::log10(lo)); p <= std::ceil(std::log10(hi)); ++p) {
        const double v = std::pow(10.0, p);
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push_back(v);
      }
      return out;
    }
    const double raw = (hi - lo) / 5;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (const double m : {1.0, 2.0, 5.0, 10.0})
      if (m * mag >= raw) {
        step = m * mag;
        break;
      }
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
};

Axis fit_axis(double lo, double hi, bool log, bool include_zero) {
  Axis a;
  a.log = log;
  if (!(lo <= hi)) lo = 0, hi = 1;  // empty data
  if (log) {
    lo = std::max(lo, 1e-12);
    hi = std::max(hi, lo);
    // Strictly below the smallest value, so its bar keeps a visible height.
    a.lo = std::pow(10.0, std::floor(std::log10(lo * 0.999)));
    a.hi = std::pow(10.0, std::ceil(std::log10(hi)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
    return a;
  }
  if (include_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (hi - lo < 1e-12) hi = lo + (lo == 0 ? 1 : std::abs(lo) * 0.1);
  const double pad = include_zero ? 0.05 * (hi - lo) : 0.08 * (hi - lo);
  a.lo = include_zero && lo >= 0 ? 0 : lo - pad;
  a.hi = hi + pad;
  return a;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string text(double x, double y, const std::string& s, const std::string& cls, const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" class=\"" + cls + "\"" + extra + ">" + escape_html(s) + "</text>";
}

std::string frame(int width, int height, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" role=\"img\"><title>" + escape_html(title) + "</title>" + text(width / 2.0, 18, title, "ctitle");
}

std::string y_axis(const Axis& y, double x0, double x1, const std::string& label) {
  std::string out;
  for (const double v : y.ticks()) {
    const double py = y(v);
    out += "<line x1=\"" + num(x0) + "\" x2=\"" + num(x1) + "\" y1=\"" + num(py) + "\" y2=\"" + num(py) + "\" class=\"grid\"/>";
    out += text(x0 - 4, py + 4, format_number(v), "tick", " text-anchor=\"end\"");
  }
  const double mid = (y.px0 + y.px1) / 2;
  out += text(14, mid, label, "alabel", " transform=\"rotate(-90 14 " + num(mid) + ")\" text-anchor=\"middle\"");
  return out;
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& entries, double right, double top) {
  std::string out;
  double y = top;
  for (const auto& [name, color] : entries) {
    out += "<rect x=\"" + num(right - 120) + "\" y=\"" + num(y - 9) + "\" width=\"10\" height=\"10\" fill=\"" + color + "\"/>";
    out += text(right - 106, y, name, "tick");
    y += 14;
  }
  return out;
}

}  // namespace

std::string escape_html(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_page(const std::string& title, const std::string& body) {
  // The empty data: icon stops the browser from requesting /favicon.ico.
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + escape_html(title) +
         "</title><link rel=\"icon\" href=\"data:,\"><style>"
         "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}"
         "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
         "th{background:#f3f5f8}table.summary th{text-align:left}table.summary td{text-align:left}"
         ".row{display:flex;flex-wrap:wrap;gap:12px}.chart{background:#fcfcfd;border:1px solid #e4e6ea}"
         ".ctitle{font-size:13px;font-weight:600;text-anchor:middle}.tick{font-size:10px;fill:#444}"
         ".alabel{font-size:11px;fill:#222}.grid{stroke:#e6e6e6;stroke-width:1}"
         ".front{fill:none;stroke:#c0392b;stroke-width:1.5}.onfront{fill:none;stroke:#c0392b;stroke-width:1.5}"
         ".note{font-size:12px;color:#555}"
         "</style></head><body>" + body + "</body></html>\n";
}

std::string format_number(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a >= 1e9) std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
  else if (a >= 1e6) std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  else if (a >= 1e4) std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  else if (a >= 100) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 1e-3 || a == 0) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

std::string bar_chart_svg(const BarChart& c) {
  const Margins m;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : c.series)
    for (const double v : s.values)
      if (!c.log_y || v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  Axis y = fit_axis(lo, hi, c.log_y, /*include_zero=*/true);
  y.px0 = c.height - m.bottom;
  y.px1 = m.top;
  std::string out = frame(c.width, c.height, c.title) + y_axis(y, m.left, c.width - m.right, c.y_label);
  const double plot_w = c.width - m.left - m.right;
  const size_t n = std::max<size_t>(c.categories.size(), 1);
  const double slot = plot_w / double(n);
  const double bar_w = slot * 0.8 / double(std::max<size_t>(c.series.size(), 1));
  for (size_t i = 0; i < c.categories.size(); ++i) {
    const double x0 = m.left + slot * double(i) + slot * 0.1;
    for (size_t k = 0; k < c.series.size(); ++k) {
      const auto& s = c.series[k];
      if (i >= s.values.size() || (c.log_y && s.values[i] <= 0)) continue;
      const double top = y(s.values[i]), base = y(c.log_y ? y.lo : 0.0);
      out += "<rect x=\"" + num(x0 + bar_w * double(k)) + "\" y=\"" + num(std::min(top, base)) + "\" width=\"" +
             num(std::max(bar_w - 1, 1.0)) + "\" height=\"" + num(std::abs(base - top)) + "\" fill=\"" + s.color +
             "\"><title>" + escape_html(c.categories[i] + " " + s.name + ": " + format_number(s.values[i])) +
             "</title></rect>";
    }
    // Label every category while they fit, else every k-th.
    const size_t every = std::max<size_t>(1, size_t(std::ceil(double(c.categories.size()) * 14.0 / plot_w)));
    if (i % every == 0) {
      const double lx = x0 + slot * 0.4, ly = c.height - m.bottom + 12;
      out += text(lx, ly, c.categories[i], "tick",
                  " text-anchor=\"end\" transform=\"rotate(-35 " + num(lx) + " " + num(ly) + ")\"");
    }
  }
  if (c.series.size() > 1) {
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& s : c.series) entries.emplace_back(s.name, s.color);
    out += legend(entries, c.width - m.right, m.top + 10);
  }
  return out + "</svg>";
}

std::string scatter_svg(const ScatterPlot& p) {
  const Margins m;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& pt : p.points) {
    xlo = std::min(xlo, pt.x), xhi = std::max(xhi, pt.x);
    ylo = std::min(ylo, pt.y), yhi = std::max(yhi, pt.y);
  }
  Axis x = fit_axis(xlo, xhi, p.log_x, false), y = fit_axis(ylo, yhi, false, false);
  x.px0 = m.left;
  x.px1 = p.width - m.right;
  y.px0 = p.height - m.bottom;
  y.px1 = m.top;
  std::string out = frame(p.width, p.height, p.title) + y_axis(y, m.left, p.width - m.right, p.y_label);
  for (const double v : x.ticks()) {
    const double px = x(v);
    out += "<line x1=\"" + num(px) + "\" x2=\"" + num(px) + "\" y1=\"" + num(m.top) + "\" y2=\"" + num(y.px0) + "\" class=\"grid\"/>";
    out += text(px, y.px0 + 14, format_number(v), "tick", " text-anchor=\"middle\"");
  }
  out += text((x.px0 + x.px1) / 2, p.height - 24, p.x_label, "alabel", " text-anchor=\"middle\"");
  if (p.front.size() > 1) {
    std::string pts;
    for (const auto& pt : p.front) pts += num(x(pt.x)) + "," + num(y(pt.y)) + " ";
    out += "<polyline points=\"" + pts + "\" class=\"front\"/>";
  }
  for (const auto& pt : p.points) {
    out += "<circle cx=\"" + num(x(pt.x)) + "\" cy=\"" + num(y(pt.y)) + "\" r=\"4.5\" fill=\"" + pt.color +
           "\"><title>" + escape_html(pt.label) + "</title></circle>";
  }
  for (const auto& pt : p.front) out += "<circle cx=\"" + num(x(pt.x)) + "\" cy=\"" + num(y(pt.y)) + "\" r=\"7\" class=\"onfront\"/>";
  if (p.legend.size() > 1) out += legend(p.legend, p.width - m.right, p.height - m.bottom - 14.0 * double(p.legend.size()));
  return out + "</svg>";
}

}  // namespace stern::report
