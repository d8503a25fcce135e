// Speech data: the Free Spoken Digit Dataset with its official split, a generic layout (a folder of
// audio files plus a CSV of transcripts, or one folder per label), and the seeded digit-string
// builder for CTC (3-5 clips of one speaker joined by short random silences).
#pragma once
#include <cstdint>
#include <mutex>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kun/tensor/tensor.h"

namespace kun::speech {

enum class Split { train, test, all };

struct Clip {
  std::string path;        // audio file
  int64_t label = -1;      // index into ClipList::labels (FSDD: the digit)
  std::string transcript;  // FSDD: the digit as text; CSV layout: the transcript
  std::string speaker;     // FSDD only
  int64_t speaker_id = -1; // index into ClipList::speakers
  int64_t index = -1;      // FSDD recording index (0-49)
  bool test = false;       // FSDD: index 0-4 (the official test set)
};

struct ClipList {
  std::vector<Clip> clips;            // sorted by path
  std::vector<std::string> labels;    // sorted
  std::vector<std::string> speakers;  // sorted
  size_t size() const { return clips.size(); }
};

// The FSDD folder: `path` if given, else $KUN_FSDD, else ../shared/data/fsdd. Accepts the dataset
// root (holding recordings/) or the recordings folder itself; throws IOError when neither exists.
std::string fsdd_path(const std::string& path = "");

struct FsddOptions {
  std::string path;          // see fsdd_path
  Split split = Split::all;  // official split: recordings 0-4 of each digit and speaker are the test set
};
// Lists {digit}_{speaker}_{index}.wav files; labels "0".."9" (label == digit).
ClipList fsdd(const FsddOptions& opt = {});

// Generic layout. With a CSV (`csv`, or `root`/transcripts.csv when present): lines "file,transcript"
// (an optional header line starting with "file" or "path"; files relative to root; a quoted
// transcript may hold commas), labels = the distinct transcripts. Otherwise one sub-folder per label
// holding .wav/.flac/.ogg files.
struct AudioFolderOptions {
  std::string csv;  // empty: root/transcripts.csv if it exists, else folder-per-label
};
ClipList audio_folder(const std::string& root, const AudioFolderOptions& opt = {});

// ---- digit strings for CTC ----
struct DigitStringOptions {
  Split split = Split::train;  // clips are drawn only from this side of the FSDD split
  int64_t count = 1000;        // strings in the set
  int64_t min_digits = 3;
  int64_t max_digits = 5;
  double min_gap = 0.05;       // seconds of silence between clips
  double max_gap = 0.25;
  double max_edge = 0.1;       // up to this much silence before the first and after the last clip
  int sample_rate = 8000;
  uint64_t seed = 0;
};

struct DigitString {
  Tensor audio;                      // (samples,) float32
  int sample_rate = 0;
  std::vector<int64_t> digits;       // the target sequence (labels of the joined clips)
  std::string speaker;
  std::vector<std::string> sources;  // the clip files, in order
  std::string transcript() const;    // e.g. "4 0 7"
};

// String i is a pure function of (seed, i): the same on every call, thread and machine. Clips are
// decoded once and cached (thread-safe). Throws ValueError if the split holds no speaker.
class DigitStringBuilder {
 public:
  DigitStringBuilder(const ClipList& clips, const DigitStringOptions& opt = {});
  int64_t size() const { return opt_.count; }
  DigitString get(int64_t i) const;
  const DigitStringOptions& options() const { return opt_; }

 private:
  Tensor load(const std::string& path) const;
  DigitStringOptions opt_;
  std::vector<std::string> speakers_;
  std::vector<std::vector<Clip>> by_speaker_;  // clips of the split, per speaker
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, Tensor> cache_;
};

}  // namespace kun::speech
