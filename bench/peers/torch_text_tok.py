"""Peer for bench/bench_text.cpp: the same 2,000 IMDB training reviews (every 12th, archive order),
encoded by GPT-2's published Python encoder algorithm (restated in tests/golden/gen_gpt2_bpe.py,
with a word cache like the original) and by a Keras-like Python word tokenizer.
Prints `<case> <threads> <median us>` per case (single-threaded: Python).

    /usr/bin/python3 bench/peers/torch_text_tok.py
"""
import os
import re
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "golden"))
from gen_gpt2_bpe import Gpt2Reference  # noqa: E402


def imdb_sample():
    root = os.environ.get("KUN_IMDB", os.path.join("..", "shared", "data", "imdb"))
    path = os.path.join(root, "aclImdb_labeled.tar.gz") if os.path.isdir(root) else root
    texts = []
    with tarfile.open(path, "r:gz") as tf:
        for m in tf:
            if m.isfile() and m.name.startswith("aclImdb/train/") and m.name.endswith(".txt") and \
                    ("/pos/" in m.name or "/neg/" in m.name):
                texts.append(tf.extractfile(m).read().decode("utf-8", "replace"))
    return texts[::12][:2000]


def median_us(fn, reps=5):
    fn()  # warm caches, like the C++ side's repeated iterations
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e6)
    return sorted(ts)[len(ts) // 2]


def main():
    texts = imdb_sample()
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    ref = Gpt2Reference(os.environ.get("KUN_GPT2_BPE", os.path.join("..", "shared", "data", "gpt2-bpe")))
    cache = {}

    def bpe_all():
        for t in texts:
            for piece in ref.pattern.findall(t):
                mapped = "".join(ref.byte_char[b] for b in piece.encode("utf-8"))
                if mapped not in cache:
                    cache[mapped] = [ref.vocab[s] for s in ref.merge_word(mapped)]

    us = median_us(bpe_all)
    print(f"BM_gpt2_bpe_encode_imdb 1 {us:.3f}", flush=True)
    print(f"# gpt2 bpe python: {nbytes / us:.2f} MB/s", file=sys.stderr)
    us = median_us(lambda: [ref.pattern.findall(t) for t in texts])
    print(f"BM_gpt2_pretokenize_imdb 1 {us:.3f}", flush=True)

    filt = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
    table = str.maketrans({c: " " for c in filt})
    tag = re.compile(r"<[/a-zA-Z!][^>]*>")
    counts = {}
    for t in texts:
        for w in tag.sub(" ", t).lower().translate(table).split(" "):
            if w:
                counts[w] = counts.get(w, 0) + 1
    index = {w: i + 2 for i, (w, _) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]))}

    def words_all():
        for t in texts:
            [index.get(w, 1) if index.get(w, 1) < 10000 else 1
             for w in tag.sub(" ", t).lower().translate(table).split(" ") if w]

    us = median_us(words_all)
    print(f"BM_word_tokenizer_imdb 1 {us:.3f}", flush=True)


if __name__ == "__main__":
    main()
