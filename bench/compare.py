#!/usr/bin/env python3
"""Runs kun's op benchmarks and the PyTorch peers side by side and prints Markdown tables.

usage: bench/compare.py [--build build] [--filter REGEX] [--threads 1,2] [--wait passive,active]
                        [--peer-openblas same,1] [--min-time 0.3] [--reps 3] [--stat median|min]

kun cases are the Google Benchmark names in build/kun_bench without the BM_ prefix (and without
a /real_time suffix); each bench/peers/torch_<family>.py prints `<case> <threads> <median us>` for
the same cases (peer-only cases, e.g. TorchScript variants, get their own rows).
For every thread count and OMP_WAIT_POLICY both sides run one after the other in this one run:
kun with OMP_NUM_THREADS=threads, PyTorch with torch.set_num_threads(threads), OMP_NUM_THREADS=threads
and OPENBLAS_NUM_THREADS = threads ("same") or each value listed in --peer-openblas (PyTorch's Linear
goes through OpenBLAS' own thread pool; the fastest variant per case is kept and named).
Ratio = PyTorch time / kun time (> 1: kun faster). Cases named *_bs<N> also show images/s.
A last table compares each side's best time over every setting measured (PyTorch's best thread
setting against kun's).
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_kun(build, flt, threads, wait, min_time, reps, stat):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY=wait)
    # Repetitions interleaved in random order, so cases compared with each other (matmul vs sgemm)
    # see the same machine load; `stat` picks the median or the fastest repetition.
    cmd = [os.path.join(build, "kun_bench"), "--benchmark_format=json", f"--benchmark_min_time={min_time}",
           f"--benchmark_repetitions={reps}", "--benchmark_enable_random_interleaving=true"]
    if flt:
        cmd.append(f"--benchmark_filter={flt}")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"].removeprefix("BM_").removesuffix("/real_time")
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b["time_unit"]]
        times.setdefault(name, []).append(b["real_time"] * scale)
    return {n: (min(t) if stat == "min" else statistics.median(t)) for n, t in times.items()}


def peer_filter(flt):
    """The kun filter applies to BM_<case>; the peers print <case>."""
    return flt.replace("BM_", "")


def peer_scripts(flt):
    """The peer scripts whose source mentions something the filter matches (all without a filter)."""
    scripts = sorted(glob.glob(os.path.join(HERE, "peers", "torch_*.py")))
    if not flt:
        return scripts
    # An anchored filter must match at the start of a string literal (a case name, f-strings too).
    loose = ("[\"']" + flt[1:] if flt.startswith("^") else flt).replace("$", "")
    return [s for s in scripts if re.search(loose, open(s).read())]


def run_peers(flt, threads, wait, openblas, stat):
    """{case: (us, variant)} keeping the fastest OpenBLAS-thread variant per case."""
    res = {}
    flt = peer_filter(flt)
    for ob in openblas:
        obn = str(threads) if ob == "same" else ob
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=obn, OMP_WAIT_POLICY=wait,
                   PEER_STAT=stat)
        for script in peer_scripts(flt):
            out = subprocess.run(["/usr/bin/python3", script, str(threads)], cwd=os.path.join(HERE, "peers"), env=env,
                                 check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 3 and (not flt or re.search(flt, parts[0])):
                    us = float(parts[2])
                    if parts[0] not in res or us < res[parts[0]][0]:
                        res[parts[0]] = (us, f"OB={obn}")
    return res


def batch_of(name):
    m = re.search(r"_bs(\d+)", name)
    return int(m.group(1)) if m else None


def rate(name, us):
    b = batch_of(name)
    return f"{b / us * 1e6:,.0f}" if b and us else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--filter", default="")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--wait", default="passive", help="OMP_WAIT_POLICY values to run, comma separated")
    ap.add_argument("--peer-openblas", default="same", help="OPENBLAS_NUM_THREADS variants for PyTorch, e.g. same,1")
    ap.add_argument("--min-time", default="0.3")
    ap.add_argument("--reps", default="3")
    ap.add_argument("--stat", default="median", choices=["median", "min"],
                    help="per side: median or fastest repetition (min suits a loaded shared machine)")
    a = ap.parse_args()
    openblas = a.peer_openblas.split(",")
    best_kun, best_peer = {}, {}
    print("| case | threads | OMP_WAIT_POLICY | kun (us) | PyTorch 1.13 (us) | PyTorch / kun | kun images/s | PyTorch images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for wait in a.wait.split(","):
        for th in [int(x) for x in a.threads.split(",")]:
            kun = run_kun(a.build, a.filter, th, wait, a.min_time, a.reps, a.stat)
            peer = run_peers(a.filter, th, wait, openblas, a.stat)
            for name in sorted(set(kun) | set(peer)):
                k = kun.get(name)
                p, var = peer.get(name, (None, ""))
                ks = f"{k:.2f}" if k else "-"
                ps = (f"{p:.2f}" + (f" ({var})" if len(openblas) > 1 else "")) if p else "-"
                ratio = f"{p / k:.2f}x" if p and k else "-"
                print(f"| {name} | {th} | {wait} | {ks} | {ps} | {ratio} | {rate(name, k)} | {rate(name, p)} |",
                      flush=True)
                cfg = f"{th} thr, {wait}"
                if k and (name not in best_kun or k < best_kun[name][0]):
                    best_kun[name] = (k, cfg)
                if p and (name not in best_peer or p < best_peer[name][0]):
                    best_peer[name] = (p, cfg + (f", {var}" if len(openblas) > 1 else ""))
    print()
    print("Best of every setting above, each side:")
    print()
    print("| case | kun best (us) | kun setting | PyTorch best (us) | PyTorch setting | PyTorch / kun |")
    print("|---|---|---|---|---|---|")
    for name in sorted(set(best_kun) | set(best_peer)):
        k, kc = best_kun.get(name, (None, "-"))
        p, pc = best_peer.get(name, (None, "-"))
        ratio = f"{p / k:.2f}x" if p and k else "-"
        print(f"| {name} | {f'{k:.2f}' if k else '-'} | {kc} | {f'{p:.2f}' if p else '-'} | {pc} | {ratio} |")


if __name__ == "__main__":
    sys.exit(main())
