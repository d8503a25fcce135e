#include "kun/train/plot.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kun/core/error.h"

namespace kun::train {

namespace {

const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string tick_label(double v, double step) {
  char buf[32];
  int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  return buf;
}

// The series' label color: train and val of the same quantity share a color.
std::string base_name(const std::string& n) { return n.rfind("val_", 0) == 0 ? n.substr(4) : n; }

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) {
    double d = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= d;
    hi += d;
  }
  double raw = (hi - lo) / std::max(count, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> t;
  for (double v = std::floor(lo / step) * step; v <= hi + step * 0.5 && t.size() < 50; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  if (t.size() < 2) t.push_back(t.empty() ? lo : t.back() + step);
  return t;
}

std::string svg_line_plot(const std::vector<PlotPanel>& panels, const PlotOptions& opt) {
  const int cols = std::max(1, std::min<int>(opt.columns, int(std::max<size_t>(panels.size(), 1))));
  const int rows = int((panels.size() + size_t(cols) - 1) / size_t(cols));
  const int top = opt.title.empty() ? 0 : 30;
  const int W = cols * opt.panel_width, H = top + std::max(rows, 1) * opt.panel_height;
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
     << " " << H << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!opt.title.empty())
    os << "<text x=\"" << W / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">" << esc(opt.title)
       << "</text>\n";
  for (size_t p = 0; p < panels.size(); ++p) {
    const PlotPanel& panel = panels[p];
    const double ox = double(int(p) % cols) * opt.panel_width, oy = top + double(int(p) / cols) * opt.panel_height;
    const double l = ox + 55, r = ox + opt.panel_width - 15, t = oy + 30, b = oy + opt.panel_height - 40;
    // Data range over every finite point.
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const auto& s : panel.series)
      for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        xmin = std::min(xmin, s.x[i]);
        xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, s.y[i]);
        ymax = std::max(ymax, s.y[i]);
      }
    if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    std::vector<double> xt = nice_ticks(xmin, xmax, 5), yt = nice_ticks(ymin, ymax, 5);
    if (xmax - xmin <= 20 && xmin == std::floor(xmin)) {  // epochs: integer ticks
      xt.clear();
      double step = std::max(1.0, std::ceil((xmax - xmin) / 8));
      for (double v = xmin; v <= xmax + 1e-9; v += step) xt.push_back(v);
      if (xt.size() < 2) xt.push_back(xmin + 1);
    }
    const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
    auto X = [&](double v) { return l + (v - x0) / (x1 - x0) * (r - l); };
    auto Y = [&](double v) { return b - (v - y0) / (y1 - y0) * (b - t); };
    os << "<g>\n<text x=\"" << num((l + r) / 2) << "\" y=\"" << num(oy + 18)
       << "\" text-anchor=\"middle\" font-size=\"13\">" << esc(panel.title) << "</text>\n";
    os << "<rect x=\"" << num(l) << "\" y=\"" << num(t) << "\" width=\"" << num(r - l) << "\" height=\"" << num(b - t)
       << "\" fill=\"none\" stroke=\"#888\"/>\n";
    const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double v : yt) {
      os << "<line x1=\"" << num(l) << "\" y1=\"" << num(Y(v)) << "\" x2=\"" << num(r) << "\" y2=\"" << num(Y(v))
         << "\" stroke=\"#eee\"/>\n";
      os << "<text x=\"" << num(l - 5) << "\" y=\"" << num(Y(v) + 4) << "\" text-anchor=\"end\">"
         << tick_label(v, ystep) << "</text>\n";
    }
    const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
    for (double v : xt)
      os << "<text x=\"" << num(X(v)) << "\" y=\"" << num(b + 15) << "\" text-anchor=\"middle\">"
         << tick_label(v, xstep) << "</text>\n";
    os << "<text x=\"" << num((l + r) / 2) << "\" y=\"" << num(b + 32) << "\" text-anchor=\"middle\">"
       << esc(panel.xlabel) << "</text>\n";
    // Curves, then the legend.
    std::vector<std::string> bases;
    for (size_t si = 0; si < panel.series.size(); ++si) {
      const PlotSeries& s = panel.series[si];
      std::string base = base_name(s.name);
      auto it = std::find(bases.begin(), bases.end(), base);
      size_t ci = size_t(it - bases.begin());
      if (it == bases.end()) bases.push_back(base);
      const char* color = kColors[ci % (sizeof kColors / sizeof kColors[0])];
      std::ostringstream pts;
      size_t npts = 0;
      for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        pts << (npts++ ? " " : "") << num(X(s.x[i])) << "," << num(Y(s.y[i]));
      }
      if (npts > 1)
        os << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
           << (s.dashed ? " stroke-dasharray=\"6,4\"" : "") << " points=\"" << pts.str() << "\"/>\n";
      for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
        if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
          os << "<circle cx=\"" << num(X(s.x[i])) << "\" cy=\"" << num(Y(s.y[i])) << "\" r=\"2.5\" fill=\"" << color
             << "\"/>\n";
      const double ly = t + 14 + 14 * double(si);
      os << "<line x1=\"" << num(r - 110) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(r - 90) << "\" y2=\""
         << num(ly - 4) << "\" stroke=\"" << color << "\" stroke-width=\"2\""
         << (s.dashed ? " stroke-dasharray=\"6,4\"" : "") << "/>\n";
      os << "<text x=\"" << num(r - 85) << "\" y=\"" << num(ly) << "\">" << esc(s.name) << "</text>\n";
    }
    os << "</g>\n";
  }
  os << "</svg>\n";
  return os.str();
}

void write_svg(const std::string& path, const std::vector<PlotPanel>& panels, const PlotOptions& opt) {
  const std::string svg = svg_line_plot(panels, opt);
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    KUN_CHECK(f.good(), IOError, "cannot write ", path, " (", std::strerror(errno), ")");
    f << svg;
    KUN_CHECK(f.good(), IOError, "cannot write ", path);
  }
  std::filesystem::rename(tmp, path, ec);
  KUN_CHECK(!ec, IOError, "cannot write ", path, ": ", ec.message());
}

}  // namespace kun::train
