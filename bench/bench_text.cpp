// Text preparation throughput on IMDB reviews (the first 2,000 training reviews, ~2.6 MB):
// GPT-2 byte-level BPE encoding, WordPiece encoding and the Keras-style word tokenizer, one thread.
// Peer: bench/peers/torch_text_tok.py (GPT-2's published Python encoder restated, and a Python
// word tokenizer like Keras'). bytes_per_second is reported by each case.
#include <benchmark/benchmark.h>

#include "kun/apps/text/bpe.h"
#include "kun/apps/text/text_data.h"
#include "kun/apps/text/tokenizer.h"
#include "kun/apps/text/wordpiece.h"
#include "kun/core/threading.h"

using namespace kun;

static const std::vector<std::string>* imdb_sample() {
  static std::vector<std::string>* texts = [] {
    auto* v = new std::vector<std::string>();
    try {
      auto d = text::load_imdb();
      for (size_t i = 0; i < d.train.size() && v->size() < 2000; i += 12) v->push_back(d.train.texts[i]);
    } catch (const std::exception&) {
    }
    return v;
  }();
  return texts;
}

static int64_t total_bytes(const std::vector<std::string>& t) {
  int64_t n = 0;
  for (auto& s : t) n += static_cast<int64_t>(s.size());
  return n;
}

static void BM_gpt2_bpe_encode_imdb(benchmark::State& st) {
  const auto* texts = imdb_sample();
  if (texts->empty()) return st.SkipWithError("IMDB not found (KUN_IMDB)");
  std::unique_ptr<text::ByteLevelBPE> bpe;
  try {
    bpe = std::make_unique<text::ByteLevelBPE>(text::ByteLevelBPE::load_gpt2());
  } catch (const std::exception&) {
    return st.SkipWithError("GPT-2 BPE files not found (KUN_GPT2_BPE)");
  }
  set_num_threads(1);
  std::vector<int64_t> ids;
  for (auto _ : st) {
    for (auto& s : *texts) {
      ids.clear();
      bpe->encode(s, ids);
      benchmark::DoNotOptimize(ids.data());
    }
  }
  st.SetBytesProcessed(st.iterations() * total_bytes(*texts));
}
BENCHMARK(BM_gpt2_bpe_encode_imdb)->Unit(benchmark::kMillisecond);

static void BM_gpt2_pretokenize_imdb(benchmark::State& st) {
  const auto* texts = imdb_sample();
  if (texts->empty()) return st.SkipWithError("IMDB not found (KUN_IMDB)");
  for (auto _ : st)
    for (auto& s : *texts) benchmark::DoNotOptimize(text::gpt2_pretokenize(s).data());
  st.SetBytesProcessed(st.iterations() * total_bytes(*texts));
}
BENCHMARK(BM_gpt2_pretokenize_imdb)->Unit(benchmark::kMillisecond);

static void BM_word_tokenizer_imdb(benchmark::State& st) {
  const auto* texts = imdb_sample();
  if (texts->empty()) return st.SkipWithError("IMDB not found (KUN_IMDB)");
  text::Tokenizer tok({.num_words = 10000, .oov_token = "<OOV>", .strip_html = true});
  tok.fit_on_texts(*texts);
  for (auto _ : st)
    for (auto& s : *texts) benchmark::DoNotOptimize(tok.text_to_sequence(s).data());
  st.SetBytesProcessed(st.iterations() * total_bytes(*texts));
}
BENCHMARK(BM_word_tokenizer_imdb)->Unit(benchmark::kMillisecond);

static void BM_wordpiece_encode_imdb(benchmark::State& st) {
  const auto* texts = imdb_sample();
  if (texts->empty()) return st.SkipWithError("IMDB not found (KUN_IMDB)");
  static text::WordPiece wp = text::WordPiece::train(*texts, {.vocab_size = 4000});
  for (auto _ : st)
    for (auto& s : *texts) benchmark::DoNotOptimize(wp.encode(s).data());
  st.SetBytesProcessed(st.iterations() * total_bytes(*texts));
}
BENCHMARK(BM_wordpiece_encode_imdb)->Unit(benchmark::kMillisecond);
