// Text data sets: IMDB (read straight from the tar.gz, no extraction), CSV / TSV / JSON-lines
// files with a text and a label column, and a small streaming tar(.gz) reader.
//
// Every text is valid UTF-8 after loading: invalid bytes become U+FFFD (never an error).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kun::text {

struct TextDataset {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;           // 0 .. label_names.size()-1
  std::vector<std::string> label_names;  // IMDB: {"neg", "pos"}
  size_t size() const { return texts.size(); }
};

// Calls fn(name, content) for each regular file of a tar archive, gzip-compressed or not
// (detected from the magic bytes). ustar names (prefix + name) and GNU long names are supported;
// directories, links and pax headers are skipped. A truncated or corrupt archive is an IOError.
void for_each_tar_entry(const std::string& path,
                        const std::function<void(const std::string& name, std::string& content)>& fn);

struct ImdbData {
  TextDataset train, test;
};
// aclImdb/{train,test}/{neg,pos}/*.txt, label 0 = neg, 1 = pos, in archive order (sorted by name).
// `path`: a folder holding aclImdb_labeled.tar.gz or an extracted aclImdb/, or the .tar.gz itself;
// "" means $KUN_IMDB, else ../shared/data/imdb.
ImdbData load_imdb(const std::string& path = "");

struct TextFileOptions {
  std::string format = "auto";        // "csv", "tsv", "jsonl"; auto: from the extension
  std::string text_column = "text";   // header name (CSV/TSV) or key (JSON lines)
  std::string label_column = "label";
  bool header = true;                 // CSV/TSV: false means columns 0 = text, 1 = label
};
// Labels are strings ("pos", "1", ...): names sorted (numerically when all are integers) give the ids.
// CSV follows RFC 4180 (quoted fields may hold commas, quotes as "" and newlines); TSV has no quoting.
TextDataset read_text_file(const std::string& path, const TextFileOptions& opt = {});

}  // namespace kun::text
