// Keras-style progress display for long work (epochs of steps).
//
// On a terminal it redraws one line per epoch in place:
//   Epoch 2/5
//   412/469 [=========================>....] - ETA: 1s - loss: 0.2145 - accuracy: 0.9342
// and finishes it with the epoch time, per-step time and validation figures. When the output is not
// a terminal (a log file, CI), it prints plain lines: one at the end of each epoch, plus one every
// `plain_every_seconds` on long epochs, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace kun::train {

struct ProgressOptions {
  FILE* out = stdout;
  int verbose = 1;                    // 0 silent, 1 bar (or plain lines), 2 one line per epoch only
  double redraw_seconds = 0.1;        // terminal redraw throttle
  double plain_every_seconds = 30.0;  // non-terminal: a progress line at most this often
  int force_tty = -1;                 // -1 detect, 0 plain, 1 terminal (tests)
};

using Figures = std::vector<std::pair<std::string, double>>;

class ProgressBar {
 public:
  explicit ProgressBar(ProgressOptions opt = {});
  void begin_epoch(int epoch, int epochs, int64_t steps);  // epoch is 1-based; steps may be 0 if unknown
  void update(int64_t step, const Figures& running);        // step is 1-based, figures are running means
  void end_epoch(const Figures& final_figures);             // train + validation figures
  bool is_tty() const { return tty_; }

  // "loss: 0.2145 - accuracy: 0.9342"
  static std::string format_figures(const Figures& f);
  // "1s", "2m 05s", "1h 02m"
  static std::string format_duration(double seconds);

 private:
  void draw(int64_t step, const Figures& f, bool final);
  ProgressOptions opt_;
  bool tty_ = false;
  int64_t steps_ = 0;
  int64_t last_step_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  size_t last_len_ = 0;
};

}  // namespace kun::train
