// Line plots as SVG, written by hand (no plotting library): one panel per quantity, several
// series per panel — `kun runs plot ID` draws loss and each metric, train and validation.
#pragma once
#include <string>
#include <vector>

namespace kun::train {

struct PlotSeries {
  std::string name;  // legend text ("loss", "val_loss")
  std::vector<double> x, y;  // same length; non-finite y values are skipped
  bool dashed = false;       // validation curves are dashed
};

struct PlotPanel {
  std::string title;   // "loss", "accuracy"
  std::string xlabel = "epoch";
  std::vector<PlotSeries> series;
};

struct PlotOptions {
  std::string title;       // above all panels
  int panel_width = 420;   // pixels
  int panel_height = 300;
  int columns = 2;         // panels per row
};

// A complete, standalone SVG document.
std::string svg_line_plot(const std::vector<PlotPanel>& panels, const PlotOptions& opt = {});
// Writes it (temp file then rename); IOError naming the file on failure.
void write_svg(const std::string& path, const std::vector<PlotPanel>& panels, const PlotOptions& opt = {});

// "Nice" axis ticks covering [lo, hi] (about `count` of them, steps of 1, 2 or 5 x 10^k).
std::vector<double> nice_ticks(double lo, double hi, int count = 5);

}  // namespace kun::train
