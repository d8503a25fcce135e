#!/usr/bin/env python3
"""Runs kun's op benchmarks and the PyTorch peers side by side and prints a Markdown table.

usage: bench/compare.py [--build build] [--filter REGEX] [--threads 1,2]

kun cases are the Google Benchmark names in build/kun_bench without the BM_ prefix; each
bench/peers/torch_<family>.py prints `<case> <threads> <median us>` for the same cases.
Both sides run at the same thread count (OMP_NUM_THREADS for kun, torch.set_num_threads for
PyTorch), one after the other in this one run. Ratio = PyTorch time / kun time (> 1: kun faster).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_kun(build, flt, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [os.path.join(build, "kun_bench"), "--benchmark_format=json", "--benchmark_min_time=0.3",
           "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
    if flt:
        cmd.append(f"--benchmark_filter={flt}")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].removeprefix("BM_")
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b["time_unit"]]
        res[name] = b["real_time"] * scale
    return res


def run_peers(flt, threads):
    res = {}
    for script in sorted(glob.glob(os.path.join(HERE, "peers", "torch_*.py"))):
        out = subprocess.run(["/usr/bin/python3", script, str(threads)], cwd=os.path.join(HERE, "peers"),
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and (not flt or re.search(flt, parts[0])):
                res[parts[0]] = float(parts[2])
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--filter", default="")
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    print("| case | threads | kun (us) | PyTorch 1.13 (us) | PyTorch / kun |")
    print("|---|---|---|---|---|")
    for th in [int(x) for x in a.threads.split(",")]:
        kun = run_kun(a.build, a.filter, th)
        peer = run_peers(a.filter, th)
        for name in sorted(kun):
            p = peer.get(name)
            ratio = f"{p / kun[name]:.2f}x" if p else "-"
            ps = f"{p:.2f}" if p else "-"
            print(f"| {name} | {th} | {kun[name]:.2f} | {ps} | {ratio} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
