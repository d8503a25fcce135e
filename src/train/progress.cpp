#include "kun/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <sstream>

namespace kun::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
std::string format_value(double v) {
  char buf[32];
  double a = std::abs(v);
  if (v != 0 && (a < 1e-3 || a >= 1e5)) std::snprintf(buf, sizeof buf, "%.4e", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(ProgressOptions opt) : opt_(opt) {
  tty_ = opt_.force_tty >= 0 ? opt_.force_tty == 1 : (opt_.out && isatty(fileno(opt_.out)));
}

std::string ProgressBar::format_figures(const Figures& f) {
  std::string s;
  for (size_t i = 0; i < f.size(); ++i) {
    if (i) s += " - ";
    s += f[i].first + ": " + format_value(f[i].second);
  }
  return s;
}

std::string ProgressBar::format_duration(double s) {
  char buf[32];
  if (s < 1) std::snprintf(buf, sizeof buf, "%.0fms", s * 1e3);
  else if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm %02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh %02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

void ProgressBar::begin_epoch(int epoch, int epochs, int64_t steps) {
  steps_ = steps;
  last_step_ = 0;
  last_len_ = 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (opt_.verbose == 1 && opt_.out) {
    std::fprintf(opt_.out, "Epoch %d/%d\n", epoch, epochs);
    std::fflush(opt_.out);
  }
}

void ProgressBar::update(int64_t step, const Figures& running) {
  last_step_ = step;
  if (opt_.verbose != 1 || !opt_.out) return;
  double since = seconds_since(last_draw_);
  if (tty_ ? since < opt_.redraw_seconds && step != steps_ : since < opt_.plain_every_seconds) return;
  draw(step, running, false);
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::draw(int64_t step, const Figures& f, bool final) {
  std::ostringstream os;
  double el = seconds_since(start_);
  int w = std::to_string(steps_ > 0 ? steps_ : step).size();
  os << std::string(w - std::to_string(step).size(), ' ') << step;
  if (steps_ > 0) {
    os << "/" << steps_ << " [";
    const int width = 30;
    int done = static_cast<int>(width * std::min<double>(1.0, double(step) / double(steps_)));
    for (int i = 0; i < width; ++i) os << (i < done ? '=' : (i == done && !final ? '>' : '.'));
    os << "]";
  }
  if (final) {
    os << " - " << format_duration(el) << " " << format_duration(el / std::max<int64_t>(step, 1)) << "/step";
  } else if (steps_ > 0 && step > 0) {
    os << " - ETA: " << format_duration(el / double(step) * double(steps_ - step));
  }
  std::string figs = format_figures(f);
  if (!figs.empty()) os << " - " << figs;
  std::string line = os.str();
  if (tty_) {
    std::string pad = last_len_ > line.size() ? std::string(last_len_ - line.size(), ' ') : "";
    std::fprintf(opt_.out, "\r%s%s", line.c_str(), pad.c_str());
    if (final) std::fprintf(opt_.out, "\n");
  } else {
    std::fprintf(opt_.out, "%s\n", line.c_str());
  }
  last_len_ = line.size();
  std::fflush(opt_.out);
}

void ProgressBar::end_epoch(const Figures& final_figures) {
  if (!opt_.out || opt_.verbose == 0) return;
  if (opt_.verbose == 2) {
    std::fprintf(opt_.out, "%s - %s\n", format_duration(seconds_since(start_)).c_str(),
                 format_figures(final_figures).c_str());
    std::fflush(opt_.out);
    return;
  }
  draw(last_step_, final_figures, true);
}

}  // namespace kun::train
