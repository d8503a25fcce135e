#!/usr/bin/env python3
"""Independent reference for kun's GPT-2 byte-level BPE, and the Unicode tables kun's text code uses.

    cd tests/golden && /usr/bin/python3 gen_gpt2_bpe.py            # -> gpt2_bpe.json (lines + GPT-2 ids)
    cd tests/golden && /usr/bin/python3 gen_gpt2_bpe.py --tables   # -> ../../src/apps/text/unicode_tables.cpp

The golden part restates GPT-2's published encoder (pre-tokenize with the regex below using the
`regex` module (Debian python3-regex), map UTF-8 bytes to printable characters, then apply the
ranked merges greedily, lowest rank first, every occurrence left to right). It reads encoder.json /
vocab.bpe from $KUN_GPT2_BPE (default ../../../shared/data/gpt2-bpe). The 1,000 lines are made
here from a fixed seed, so the file is reproducible.

The table part derives letter / number classes and simple lower-case mappings from Python's
unicodedata and writes them as compact range tables.
"""
import json
import os
import random
import sys
import unicodedata

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_to_char_table():
    """GPT-2's reversible byte -> printable-character map: printable Latin-1 bytes map to
    themselves, the remaining 68 bytes to U+0100 upwards in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class Gpt2Reference:
    def __init__(self, folder):
        import regex  # only the golden part needs it
        self.pattern = regex.compile(GPT2_PATTERN)
        with open(os.path.join(folder, "encoder.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(os.path.join(folder, "vocab.bpe"), encoding="utf-8") as f:
            rows = f.read().split("\n")[1:]
        self.rank = {}
        for r in rows:
            parts = r.split()
            if len(parts) == 2:
                self.rank[(parts[0], parts[1])] = len(self.rank)
        self.byte_char = byte_to_char_table()

    def merge_word(self, word):
        symbols = list(word)
        while len(symbols) > 1:
            best, best_rank = None, None
            for k in range(len(symbols) - 1):
                r = self.rank.get((symbols[k], symbols[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = (symbols[k], symbols[k + 1]), r
            if best is None:
                break
            merged, k = [], 0
            while k < len(symbols):
                if k + 1 < len(symbols) and symbols[k] == best[0] and symbols[k + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    k += 2
                else:
                    merged.append(symbols[k])
                    k += 1
            symbols = merged
        return symbols

    def encode(self, text):
        ids = []
        for piece in self.pattern.findall(text):
            mapped = "".join(self.byte_char[b] for b in piece.encode("utf-8"))
            ids.extend(self.vocab[s] for s in self.merge_word(mapped))
        return ids


# ---- deterministic varied lines ----
WORDS = ("the movie was great but I didn't like its ending and they'll say it's fine we're "
         "you've I'm he'd THE Movie WASN'T she'S O'Neil rock'n'roll naïve café résumé Zürich "
         "straße Ærø déjà-vu coöperate").split()
SCRIPTS = [  # (first, last) code point blocks to sample from
    (0x0041, 0x007A), (0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x0590, 0x05FF),
    (0x0600, 0x06FF), (0x0900, 0x097F), (0x0E00, 0x0E7F), (0x3040, 0x30FF), (0x4E00, 0x4FFF),
    (0xAC00, 0xAD00), (0x2000, 0x206F), (0x2150, 0x218F), (0x2460, 0x24FF), (0x0660, 0x0669),
    (0xFF00, 0xFFEF), (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x10400, 0x1044F), (0x1D400, 0x1D4FF),
]
EMOJI = ["🙂", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🤖", "😂😂😂", "✨", "🎬"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", " \t ", "\u00a0", "\u3000", "\u2003", "\u200b", "\x0b", "\x0c",
          "\x1c", "\u2028", "    \n\n  "]
PUNCT = [".", ",", "!", "?", "...", "--", "'", "''", "\"", "(", ")", "<br />", "<br /><br />", ":-)", "#1", "@user",
         "https://example.com/a?b=1", "$12.50", "1,000,000", "3.14159", "2nd", "1990s", "x86_64", "'s", "'ll", "'"]


def usable(c, regex_mod):
    """A code point whose letter/number class agrees between unicodedata and the regex module
    (they may be built on different Unicode versions) and that is not a surrogate."""
    if 0xD800 <= ord(c) <= 0xDFFF:
        return False
    cat = unicodedata.category(c)
    if cat == "Cn":
        return False
    is_l = bool(regex_mod.match(r"\p{L}", c))
    is_n = bool(regex_mod.match(r"\p{N}", c))
    return is_l == cat.startswith("L") and is_n == cat.startswith("N")


def make_lines(n, seed=1234):
    import regex
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 9)):
            kind = rng.random()
            if kind < 0.35:
                parts.append(rng.choice(WORDS))
            elif kind < 0.5:
                parts.append(str(rng.choice([0, 7, 42, 1999, 31337, 123456789, rng.randint(0, 10**6)])))
            elif kind < 0.65:
                parts.append(rng.choice(PUNCT))
            elif kind < 0.75:
                parts.append(rng.choice(EMOJI))
            else:
                lo, hi = rng.choice(SCRIPTS)
                s = ""
                while len(s) < rng.randint(1, 6):
                    c = chr(rng.randint(lo, hi))
                    if usable(c, regex):
                        s += c
                parts.append(s)
            parts.append(rng.choice(SPACES) if rng.random() < 0.4 else (" " if rng.random() < 0.8 else ""))
        line = "".join(parts)
        if i % 50 == 0:
            line = "  " + line + "   "      # leading / trailing whitespace runs
        if i % 97 == 0:
            line = ""                       # empty line
        lines.append(line)
    return lines


def write_golden():
    folder = os.environ.get("KUN_GPT2_BPE", os.path.join("..", "..", "..", "shared", "data", "gpt2-bpe"))
    ref = Gpt2Reference(folder)
    lines = make_lines(1000)
    out = {"pattern": GPT2_PATTERN, "lines": lines, "ids": [ref.encode(s) for s in lines]}
    with open("gpt2_bpe.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
    print("gpt2_bpe.json:", os.path.getsize("gpt2_bpe.json"), "bytes,", sum(len(i) for i in out["ids"]), "ids")


# ---- Unicode tables for src/apps/text/unicode_tables.cpp ----
def ranges(pred):
    out, start = [], None
    for cp in range(0x110000 + 1):
        ok = cp < 0x110000 and pred(cp)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def lower_runs():
    """Simple (one code point -> one code point) lower-case mappings as runs
    (first, last, delta, stride): every stride-th code point in [first, last] maps to cp + delta."""
    pairs = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        lo = chr(cp).lower()
        if len(lo) == 1 and ord(lo) != cp:
            pairs.append((cp, ord(lo) - cp))
    runs = []
    for cp, d in pairs:
        if runs:
            first, last, delta, stride = runs[-1]
            if delta == d and (cp - last) == stride and (stride != 0):
                runs[-1] = (first, cp, delta, stride)
                continue
            if delta == d and first == last and cp - last in (1, 2):
                runs[-1] = (first, cp, delta, cp - last)
                continue
        runs.append((cp, cp, d, 1))
    return runs


def write_tables():
    letters = ranges(lambda c: unicodedata.category(chr(c)).startswith("L"))
    numbers = ranges(lambda c: unicodedata.category(chr(c)).startswith("N"))
    low = lower_runs()
    path = os.path.join("..", "..", "src", "apps", "text", "unicode_tables.cpp")
    with open(path, "w") as f:
        f.write("// Generated by tests/golden/gen_gpt2_bpe.py --tables from Python's unicodedata "
                f"(Unicode {unicodedata.unidata_version}). Do not edit.\n")
        f.write('#include "apps/text/unicode_tables.h"\n\nnamespace kun::text::detail {\n\n')

        def emit(name, rs):
            f.write(f"const CodeRange {name}[] = {{\n")
            for k in range(0, len(rs), 6):
                f.write("    " + " ".join("{0x%X, 0x%X}," % r for r in rs[k:k + 6]) + "\n")
            f.write("};\n")
            f.write(f"const size_t {name}_count = {len(rs)};\n\n")
        emit("kLetterRanges", letters)
        emit("kNumberRanges", numbers)
        f.write("const LowerRun kLowerRuns[] = {\n")
        for k in range(0, len(low), 4):
            f.write("    " + " ".join("{0x%X, 0x%X, %d, %d}," % r for r in low[k:k + 4]) + "\n")
        f.write("};\n")
        f.write(f"const size_t kLowerRuns_count = {len(low)};\n\n}}  // namespace kun::text::detail\n")
    print(path, len(letters), "letter ranges,", len(numbers), "number ranges,", len(low), "lower runs")


if __name__ == "__main__":
    if "--tables" in sys.argv:
        write_tables()
    else:
        write_golden()
