// FSDD listing, generic audio folders, and the seeded digit-string builder.
#include "kun/apps/speech/datasets.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "kun/apps/speech/audio.h"
#include "kun/apps/speech/augment.h"

namespace kun::speech {

namespace fs = std::filesystem;

namespace {

bool is_audio(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".wav" || e == ".flac" || e == ".ogg";
}

// Fills labels/speakers tables and the ids of every clip from their strings.
void index_clips(ClipList& list) {
  std::sort(list.clips.begin(), list.clips.end(), [](const Clip& a, const Clip& b) { return a.path < b.path; });
  std::set<std::string> sp;
  for (const Clip& c : list.clips)
    if (!c.speaker.empty()) sp.insert(c.speaker);
  list.speakers.assign(sp.begin(), sp.end());
  for (Clip& c : list.clips)
    if (!c.speaker.empty())
      c.speaker_id = std::lower_bound(list.speakers.begin(), list.speakers.end(), c.speaker) - list.speakers.begin();
}

// One CSV field list: commas separate, double quotes protect commas ("" is a quote).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool q = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (q) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') q = false;
      else out.back() += c;
    } else if (c == '"') {
      q = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace

std::string fsdd_path(const std::string& path) {
  std::string p = path;
  if (p.empty()) {
    const char* env = std::getenv("KUN_FSDD");
    p = env && *env ? env : "../shared/data/fsdd";
  }
  if (fs::is_directory(fs::path(p) / "recordings")) return p;
  if (fs::is_directory(p) && fs::path(p).filename() == "recordings") return fs::path(p).parent_path().string();
  KUN_CHECK(false, IOError, "fsdd: no FSDD at '", p, "' (expected a folder holding recordings/); pass a path or set KUN_FSDD");
  return {};  // not reached: KUN_CHECK(false, ...) throws
}

ClipList fsdd(const FsddOptions& opt) {
  const fs::path rec = fs::path(fsdd_path(opt.path)) / "recordings";
  ClipList list;
  for (const auto& e : fs::directory_iterator(rec)) {
    if (!e.is_regular_file() || e.path().extension() != ".wav") continue;
    const std::string stem = e.path().stem().string();
    const size_t a = stem.find('_'), b = stem.rfind('_');
    bool ok = a != std::string::npos && b != a && a == 1 && std::isdigit(static_cast<unsigned char>(stem[0]));
    int64_t idx = -1;
    if (ok) {
      try {
        size_t used = 0;
        idx = std::stoll(stem.substr(b + 1), &used);
        ok = used == stem.size() - b - 1 && idx >= 0;
      } catch (const std::exception&) {
        ok = false;
      }
    }
    KUN_CHECK(ok, ValueError, "fsdd: file '", e.path().string(), "' is not named {digit}_{speaker}_{index}.wav");
    Clip c;
    c.path = e.path().string();
    c.label = stem[0] - '0';
    c.transcript = std::string(1, stem[0]);
    c.speaker = stem.substr(a + 1, b - a - 1);
    c.index = idx;
    c.test = idx <= 4;
    if (opt.split == Split::train && c.test) continue;
    if (opt.split == Split::test && !c.test) continue;
    list.clips.push_back(std::move(c));
  }
  KUN_CHECK(!list.clips.empty(), IOError, "fsdd: no recordings in '", rec.string(), "'");
  for (int d = 0; d < 10; ++d) list.labels.push_back(std::to_string(d));
  index_clips(list);
  return list;
}

ClipList audio_folder(const std::string& root, const AudioFolderOptions& opt) {
  KUN_CHECK(fs::is_directory(root), IOError, "audio_folder: '", root, "' is not a folder");
  ClipList list;
  std::string csv = opt.csv;
  if (csv.empty() && fs::exists(fs::path(root) / "transcripts.csv")) csv = (fs::path(root) / "transcripts.csv").string();
  if (!csv.empty()) {
    std::ifstream f(csv);
    KUN_CHECK(f.good(), IOError, "audio_folder: cannot read the transcript CSV '", csv, "'");
    std::string line;
    int64_t lineno = 0;
    while (std::getline(f, line)) {
      ++lineno;
      if (line.empty() || line == "\r") continue;
      auto fields = csv_fields(line);
      if (lineno == 1 && (fields[0] == "file" || fields[0] == "path")) continue;  // header
      KUN_CHECK(fields.size() >= 2, ValueError, "audio_folder: ", csv, ":", lineno,
                ": expected 'file,transcript', got '", line, "'");
      Clip c;
      c.path = (fs::path(root) / fields[0]).string();
      KUN_CHECK(fs::exists(c.path), IOError, "audio_folder: ", csv, ":", lineno, ": no file '", c.path, "'");
      c.transcript = fields[1];
      list.clips.push_back(std::move(c));
    }
  } else {
    for (const auto& d : fs::directory_iterator(root)) {
      if (!d.is_directory()) continue;
      for (const auto& e : fs::directory_iterator(d.path()))
        if (e.is_regular_file() && is_audio(e.path())) {
          Clip c;
          c.path = e.path().string();
          c.transcript = d.path().filename().string();
          list.clips.push_back(std::move(c));
        }
    }
  }
  KUN_CHECK(!list.clips.empty(), IOError, "audio_folder: no audio clips found under '", root, "'",
            csv.empty() ? " (expected one sub-folder of .wav/.flac/.ogg files per label, or transcripts.csv)" : "");
  std::set<std::string> labels;
  for (const Clip& c : list.clips) labels.insert(c.transcript);
  list.labels.assign(labels.begin(), labels.end());
  for (Clip& c : list.clips)
    c.label = std::lower_bound(list.labels.begin(), list.labels.end(), c.transcript) - list.labels.begin();
  index_clips(list);
  return list;
}

// ---- digit strings ----

std::string DigitString::transcript() const {
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(digits[i]);
  }
  return s;
}

DigitStringBuilder::DigitStringBuilder(const ClipList& clips, const DigitStringOptions& opt) : opt_(opt) {
  KUN_CHECK(opt.min_digits >= 1 && opt.max_digits >= opt.min_digits, ValueError,
            "DigitStringBuilder: need 1 <= min_digits <= max_digits, got ", opt.min_digits, ", ", opt.max_digits);
  KUN_CHECK(opt.min_gap >= 0 && opt.max_gap >= opt.min_gap && opt.max_edge >= 0, ValueError,
            "DigitStringBuilder: need 0 <= min_gap <= max_gap and max_edge >= 0");
  KUN_CHECK(opt.count >= 0 && opt.sample_rate > 0, ValueError, "DigitStringBuilder: count must be >= 0 and sample_rate > 0");
  std::map<std::string, std::vector<Clip>> groups;
  for (const Clip& c : clips.clips) {
    if (opt.split == Split::train && c.test) continue;
    if (opt.split == Split::test && !c.test) continue;
    KUN_CHECK(c.label >= 0, ValueError, "DigitStringBuilder: clip '", c.path, "' has no label");
    groups[c.speaker].push_back(c);
  }
  KUN_CHECK(!groups.empty(), ValueError, "DigitStringBuilder: the clip list has no clips in the requested split");
  for (auto& [sp, v] : groups) {
    speakers_.push_back(sp);
    by_speaker_.push_back(std::move(v));
  }
}

Tensor DigitStringBuilder::load(const std::string& path) const {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = cache_.find(path);
    if (it != cache_.end()) return it->second;
  }
  Tensor a = read_audio(path, {.target_rate = opt_.sample_rate}).samples;  // decoded outside the lock
  std::lock_guard<std::mutex> lk(mu_);
  return cache_.emplace(path, a).first->second;
}

DigitString DigitStringBuilder::get(int64_t i) const {
  KUN_CHECK(i >= 0 && i < opt_.count, IndexError, "DigitStringBuilder: index ", i, " out of range [0, ", opt_.count, ")");
  // Each string owns a disjoint block of 64 counters of the seed's Philox stream.
  Generator g(opt_.seed);
  g.set_offset(static_cast<uint64_t>(i) * 64);
  auto pick = [&](int64_t n) { return std::min<int64_t>(n - 1, static_cast<int64_t>(uniform01(g) * n)); };
  const size_t s = static_cast<size_t>(pick(static_cast<int64_t>(speakers_.size())));
  const auto& pool = by_speaker_[s];
  const int64_t k = opt_.min_digits + pick(opt_.max_digits - opt_.min_digits + 1);
  const double sr = opt_.sample_rate;
  auto silence = [&](double lo, double hi) { return static_cast<int64_t>(std::llround((lo + (hi - lo) * uniform01(g)) * sr)); };

  DigitString out;
  out.sample_rate = opt_.sample_rate;
  out.speaker = speakers_[s];
  std::vector<Tensor> parts;
  std::vector<int64_t> gaps;  // silence before each part, then after the last
  gaps.push_back(silence(0, opt_.max_edge));
  for (int64_t j = 0; j < k; ++j) {
    const Clip& c = pool[static_cast<size_t>(pick(static_cast<int64_t>(pool.size())))];
    parts.push_back(load(c.path));
    out.digits.push_back(c.label);
    out.sources.push_back(c.path);
    gaps.push_back(j + 1 < k ? silence(opt_.min_gap, opt_.max_gap) : silence(0, opt_.max_edge));
  }
  int64_t total = gaps[0];
  for (size_t j = 0; j < parts.size(); ++j) total += parts[j].numel() + gaps[j + 1];
  out.audio = zeros({total});
  float* o = out.audio.data<float>();
  int64_t pos = gaps[0];
  for (size_t j = 0; j < parts.size(); ++j) {
    const float* p = parts[j].data<float>();
    std::copy(p, p + parts[j].numel(), o + pos);
    pos += parts[j].numel() + gaps[j + 1];
  }
  return out;
}

}  // namespace kun::speech
