"""Helpers for kun's PyTorch side-by-side scripts (run with Debian's /usr/bin/python3 + python3-torch).

Each bench/peers/torch_<family>.py times the same ops and sizes as bench/bench_<family>.cpp and
prints one line per case: `<case name> <threads> <median microseconds>`; bench/compare.py joins
those lines with Google Benchmark's JSON output and prints the ratios.
"""
import os
import statistics
import sys
import time

import torch


def setup(threads):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)


def time_us(fn, min_time=0.3, warmup=3):
    """Median (or, with PEER_STAT=min, fastest) microseconds per call over 10 batches that each take
    ~min_time/10 seconds. On a loaded shared machine the fastest batch estimates the unloaded time."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / 10 / one))
    samples = []
    for _ in range(10):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner * 1e6)
    return min(samples) if os.environ.get("PEER_STAT") == "min" else statistics.median(samples)


def report(name, threads, us):
    print(f"{name} {threads} {us:.3f}", flush=True)


def threads_from_argv():
    return [int(a) for a in sys.argv[1:]] or [1, 2]
