#!/usr/bin/env python3
"""Interleaved benchmark rounds for the speed targets of docs/BENCHMARKS.md.

Each round runs every entry once, each in its own process (Google Benchmark, 3 repetitions,
median wall time), at 1 and at 2 threads, so a peer is timed seconds apart from stern in the
same machine state; ratios are taken per round, then the median over rounds is reported.

usage: scripts/bench_rounds.py [BUILD_DIR] [--rounds R] [--threads 1,2] [--model M.stern]
                               [--entries REGEX] [--json]

--model: the trained sparse-ternary Fashion-MNIST VGG for the end-to-end entries
(bench_end_to_end, STERN_E2E_MODEL); without it those entries are skipped.
--entries: only the entries whose key matches (re.search), e.g. '^conv256' for the target
layer: more rounds in a quiet spell of a shared machine.
The conv256_pair_* rows (1 thread) time stern and oneDNN alternately in one process
(bench_kernels' pair_* entries): the least noise-prone figure on a shared machine.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

# (binary, benchmark name with {t} for the thread count)
KERNELS = "bench_kernels"
BINARY = "bench_binary"
E2E = "bench_end_to_end"
VNNI_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI"}
ENTRIES = {
    "conv256_dense": (KERNELS, "conv/conv3x3_256@14/stern_ternary_dense/{t}/real_time"),
    "conv256_sparse90": (KERNELS, "conv/conv3x3_256@14/stern_ternary_sparse_90/{t}/real_time"),
    "conv256_sparse98": (KERNELS, "conv/conv3x3_256@14/stern_ternary_sparse_98/{t}/real_time"),
    # The runtime's own choice for a ternary layer of that sparsity (dense on the AMX tile
    # GEMM or the sparse add/sub GEMM, int_layers.cpp choose_ternary_method).
    "conv256_auto90": (KERNELS, "conv/conv3x3_256@14/stern_ternary_auto_90/{t}/real_time"),
    "conv256_auto98": (KERNELS, "conv/conv3x3_256@14/stern_ternary_auto_98/{t}/real_time"),
    # The same layers from input codes (as after a requantizing layer): where oneDNN's start.
    "conv256_dense_codes": (KERNELS, "conv/conv3x3_256@14/stern_ternary_dense_codes_in/{t}/real_time"),
    "conv256_sparse90_codes": (KERNELS, "conv/conv3x3_256@14/stern_ternary_sparse_90_codes_in/{t}/real_time"),
    "conv256_sparse98_codes": (KERNELS, "conv/conv3x3_256@14/stern_ternary_sparse_98_codes_in/{t}/real_time"),
    # 4-bit activation codes (the sparse GEMM's packed planes on AVX-512), from codes.
    "conv256_sparse90_a4_codes": (KERNELS, "conv/conv3x3_256@14/stern_ternary_sparse_90_a4_codes_in/{t}/real_time"),
    "conv256_sparse98_a4_codes": (KERNELS, "conv/conv3x3_256@14/stern_ternary_sparse_98_a4_codes_in/{t}/real_time"),
    "conv256_dnnl_u8s8": (KERNELS, "conv/conv3x3_256@14/dnnl_u8s8/{t}/real_time"),
    # oneDNN capped at AVX-512 VNNI: on CPUs with AMX its int8 conv runs on the tile unit,
    # which stern does not use; this peer is the like-for-like ISA comparison.
    "conv256_dnnl_u8s8_vnni": (KERNELS, "conv/conv3x3_256@14/dnnl_u8s8/{t}/real_time", VNNI_ONLY),
    "gemv4k_dense": (KERNELS, "gemv/4096x4096/stern_ternary_dense/{t}/real_time"),
    "gemv4k_tq2_0": (KERNELS, "gemv/4096x4096/tq2_0/{t}/real_time"),
    "gemv4k_dnnl_u8s8": (KERNELS, "gemv/4096x4096/dnnl_u8s8/{t}/real_time"),
    "gemv16k_dense": (KERNELS, "gemv/16384x16384/stern_ternary_dense/{t}/real_time"),
    "gemv16k_sparse90": (KERNELS, "gemv/16384x16384/stern_ternary_sparse_90/{t}/real_time"),
    "gemv16k_sparse95": (KERNELS, "gemv/16384x16384/stern_ternary_sparse_95/{t}/real_time"),
    "gemv16k_sparse98": (KERNELS, "gemv/16384x16384/stern_ternary_sparse_98/{t}/real_time"),
    "gemv16k_dnnl_u8s8": (KERNELS, "gemv/16384x16384/dnnl_u8s8/{t}/real_time"),
    "dram_read": (KERNELS, "dram/read/{t}/real_time"),
    "sb256_signed_binary": (BINARY, "conv/conv3x3_256@14/signed_binary_69/threads:{t}/real_time"),
    "sb256_binary": (BINARY, "conv/conv3x3_256@14/binary_bitmap/threads:{t}/real_time"),
    "sb256_ternary_dense": (BINARY, "conv/conv3x3_256@14/ternary2_dense/threads:{t}/real_time"),
    "e2e_b1_stern": (E2E, "BM_SternSparseTernary/1/{t}/real_time"),
    "e2e_b1_libtorch": (E2E, "BM_LibTorchFp32/1/{t}/real_time"),
    "e2e_b64_stern": (E2E, "BM_SternSparseTernary/64/{t}/real_time"),
    "e2e_b64_libtorch": (E2E, "BM_LibTorchFp32/64/{t}/real_time"),
}
# (label, faster entry, slower peer, target as peer time / entry time; None: report only)
RATIOS = [
    ("conv 256@14: oneDNN u8s8 / dense ternary (target >= 0.8, i.e. <= 1.25x the time)",
     "conv256_dense", "conv256_dnnl_u8s8", 0.8),
    ("conv 256@14: oneDNN u8s8 / sparse ternary 90% (target >= 2)", "conv256_sparse90", "conv256_dnnl_u8s8", 2),
    ("conv 256@14: oneDNN u8s8 / sparse ternary 98% (target >= 5)", "conv256_sparse98", "conv256_dnnl_u8s8", 5),
    ("conv 256@14: oneDNN u8s8 / runtime's choice at 90% (target >= 2)", "conv256_auto90", "conv256_dnnl_u8s8", 2),
    ("conv 256@14: oneDNN u8s8 / runtime's choice at 98% (target >= 5)", "conv256_auto98", "conv256_dnnl_u8s8", 5),
    ("conv 256@14, input codes: oneDNN u8s8 / dense ternary (target >= 0.8)", "conv256_dense_codes",
     "conv256_dnnl_u8s8", 0.8),
    ("conv 256@14, input codes: oneDNN u8s8 / sparse ternary 90% (target >= 2)", "conv256_sparse90_codes",
     "conv256_dnnl_u8s8", 2),
    ("conv 256@14, input codes: oneDNN u8s8 / sparse ternary 98% (target >= 5)", "conv256_sparse98_codes",
     "conv256_dnnl_u8s8", 5),
    ("conv 256@14, 4-bit input codes: oneDNN u8s8 / sparse ternary 90% (report: the targets are 8-bit)",
     "conv256_sparse90_a4_codes", "conv256_dnnl_u8s8", None),
    ("conv 256@14, 4-bit input codes: oneDNN u8s8 / sparse ternary 98% (report: the targets are 8-bit)",
     "conv256_sparse98_a4_codes", "conv256_dnnl_u8s8", None),
    ("conv 256@14: oneDNN u8s8 capped at AVX-512 VNNI / dense ternary", "conv256_dense", "conv256_dnnl_u8s8_vnni", 0.8),
    ("conv 256@14: oneDNN u8s8 capped at AVX-512 VNNI / sparse ternary 90%", "conv256_sparse90",
     "conv256_dnnl_u8s8_vnni", 2),
    ("conv 256@14: oneDNN u8s8 capped at AVX-512 VNNI / sparse ternary 98%", "conv256_sparse98",
     "conv256_dnnl_u8s8_vnni", 5),
    ("conv 256@14: oneDNN u8s8 capped at AVX-512 VNNI / runtime's choice at 90%", "conv256_auto90",
     "conv256_dnnl_u8s8_vnni", 2),
    ("conv 256@14: oneDNN u8s8 capped at AVX-512 VNNI / runtime's choice at 98%", "conv256_auto98",
     "conv256_dnnl_u8s8_vnni", 5),
    ("GEMV 4096^2: oneDNN u8s8 / dense ternary (target >= 2)", "gemv4k_dense", "gemv4k_dnnl_u8s8", 2),
    ("GEMV 4096^2: TQ2_0 / dense ternary (target >= 1.3)", "gemv4k_dense", "gemv4k_tq2_0", 1.3),
    ("GEMV 16384^2: oneDNN u8s8 / dense ternary (about 3x expected)", "gemv16k_dense", "gemv16k_dnnl_u8s8", None),
    ("GEMV 16384^2: oneDNN u8s8 / sparse 90% (target >= 6)", "gemv16k_sparse90", "gemv16k_dnnl_u8s8", 6),
    ("GEMV 16384^2: oneDNN u8s8 / sparse 95% (target >= 6)", "gemv16k_sparse95", "gemv16k_dnnl_u8s8", 6),
    ("GEMV 16384^2: oneDNN u8s8 / sparse 98% (target >= 6)", "gemv16k_sparse98", "gemv16k_dnnl_u8s8", 6),
    ("signed-binary 69% 256@14: dense binary / signed-binary (target >= 1.25)",
     "sb256_signed_binary", "sb256_binary", 1.25),
    ("signed-binary 69% 256@14: dense ternary / signed-binary (target >= 1.5)",
     "sb256_signed_binary", "sb256_ternary_dense", 1.5),
    ("end to end batch 1: LibTorch FP32 / stern sparse ternary (target >= 5 at 2 threads)",
     "e2e_b1_stern", "e2e_b1_libtorch", 5),
    ("end to end batch 64: LibTorch FP32 / stern sparse ternary (target >= 3 at 2 threads)",
     "e2e_b64_stern", "e2e_b64_libtorch", 3),
]
# The target layer from codes with oneDNN in the same process, one thread, alternating blocks
# of runs (bench_kernels BM_pair): the ratio of the two medians of each run, so a noisy spell
# slows both. (label, entry key, benchmark name, target)
PAIRS = [
    ("conv 256@14, input codes, interleaved in one process: oneDNN u8s8 / dense ternary (target >= 0.8)",
     "conv256_pair_dense_codes", "conv/conv3x3_256@14/pair_dnnl_u8s8_stern_ternary_dense_codes_in/real_time", 0.8),
    ("conv 256@14, input codes, interleaved in one process: oneDNN u8s8 / sparse ternary 90% (target >= 2)",
     "conv256_pair_sparse90_codes", "conv/conv3x3_256@14/pair_dnnl_u8s8_stern_ternary_sparse_90_codes_in/real_time", 2),
    ("conv 256@14, input codes, interleaved in one process: oneDNN u8s8 / sparse ternary 98% (target >= 5)",
     "conv256_pair_sparse98_codes", "conv/conv3x3_256@14/pair_dnnl_u8s8_stern_ternary_sparse_98_codes_in/real_time", 5),
]
DENSE_BYTES_16K = 16384 * 16384 // 4  # 2-bit weights
DRAM_READ_BYTES = 256 << 20  # bench_kernels dram/read: a streaming sum over 256 MiB


def run_reps(build, binary, name, env, extra_env=None):
    cmd = [os.path.join(build, "bench", binary), f"--benchmark_filter=^{name}$", "--benchmark_min_time=0.2",
           "--benchmark_repetitions=3", "--benchmark_format=json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(env, **(extra_env or {}))).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    if not runs:
        sys.exit(f"bench_rounds: no benchmark matched {name} in {binary}")
    return runs


def run_one(build, binary, name, env, extra_env=None):
    runs = run_reps(build, binary, name, env, extra_env)
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[runs[0]["time_unit"]]
    return statistics.median(b["real_time"] * scale for b in runs)  # microseconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--model", default="")
    ap.add_argument("--entries", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    # OpenMP's default wait policy (spin, then sleep) for the peers: forcing PASSIVE made
    # oneDNN's and LibTorch's 2-thread runs up to 3x slower than their 1-thread ones.
    env = dict(os.environ)
    entries = dict(ENTRIES)
    if args.model:
        if not os.path.isfile(args.model):
            ap.error(f"--model {args.model}: no such file; the model of docs/RESULTS.md is made by "
                     "(about 9 minutes on 2 cores): stern train --data fashion-mnist --model vgg --epochs 6 "
                     "--threads 2 --recipe sparse-ternary --act-bits 8 --target-sparsity 0.93 "
                     f"--out {args.model}")
        env["STERN_E2E_MODEL"] = os.path.abspath(args.model)
    else:
        entries = {k: v for k, v in entries.items() if v[0] != E2E}
    entries = {k: v for k, v in entries.items() if re.search(args.entries, k)}
    threads = [int(t) for t in args.threads.split(",")]
    times = {(k, t): [] for k in entries for t in threads}
    pairs = [p for p in PAIRS if re.search(args.entries, p[1])] if 1 in threads else []
    pair_ratios = {p[1]: [] for p in pairs}
    for r in range(args.rounds):
        for t in threads:
            for key, (binary, name, *extra_env) in entries.items():
                us = run_one(args.build, binary, name.format(t=t), env, *extra_env)
                times[(key, t)].append(us)
                print(f"round {r + 1} threads {t} {key}: {us:.1f} us", file=sys.stderr)
        for _, key, name, _ in pairs:
            reps = run_reps(args.build, KERNELS, name, env)
            ratio = statistics.median(b["peer_over_stern"] for b in reps)
            pair_ratios[key].append(ratio)
            print(f"round {r + 1} threads 1 {key}: oneDNN / stern {ratio:.2f}x (stern "
                  f"{statistics.median(b['stern_median_us'] for b in reps):.1f} us)", file=sys.stderr)
    result = {"rounds": args.rounds, "threads": threads, "median_us": {}, "ratios": []}
    for (key, t), v in times.items():
        result["median_us"][f"{key}/{t}"] = statistics.median(v)
    for label, fast, slow, target in RATIOS:
        if fast not in entries or slow not in entries:
            continue
        for t in threads:
            per_round = [s / f for f, s in zip(times[(fast, t)], times[(slow, t)])]
            med = statistics.median(per_round)
            result["ratios"].append({"label": label, "threads": t, "median_ratio": med, "min_ratio": min(per_round),
                                     "max_ratio": max(per_round), "target_ratio": target,
                                     "met": None if target is None else med >= target})
    for label, key, _, target in pairs:
        v = pair_ratios[key]
        med = statistics.median(v)
        result["ratios"].append({"label": label, "threads": 1, "median_ratio": med, "min_ratio": min(v),
                                 "max_ratio": max(v), "target_ratio": target, "met": med >= target})
    # Dense 2-bit GEMV in DRAM against the streaming read: weight bytes per second over the
    # read's bytes per second (the read streams DRAM_READ_BYTES).
    for t in threads:
        if f"gemv16k_dense/{t}" not in result["median_us"] or f"dram_read/{t}" not in result["median_us"]:
            continue
        dense_gbps = DENSE_BYTES_16K / (result["median_us"][f"gemv16k_dense/{t}"] * 1e3)
        read_gbps = DRAM_READ_BYTES / (result["median_us"][f"dram_read/{t}"] * 1e3)
        result["ratios"].append({"label": "GEMV 16384^2 dense ternary: weight bytes/s over the DRAM read's (target >= 0.8)",
                                 "threads": t, "median_ratio": dense_gbps / read_gbps, "min_ratio": dense_gbps / read_gbps,
                                 "max_ratio": dense_gbps / read_gbps, "target_ratio": 0.8,
                                 "met": dense_gbps / read_gbps >= 0.8})
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("| ratio (peer time / stern time) | threads | median | range | target | met |")
    print("|---|---|---|---|---|---|")
    for r in result["ratios"]:
        tgt = "-" if r["target_ratio"] is None else f"{r['target_ratio']}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "no")
        print(f"| {r['label']} | {r['threads']} | {r['median_ratio']:.2f}x | "
              f"{r['min_ratio']:.2f}-{r['max_ratio']:.2f}x | {tgt} | {met} |")
    print()
    print("| entry | " + " | ".join(f"{t} thread median us" for t in threads) + " |")
    print("|---|" + "---|" * len(threads))
    for key in entries:
        print(f"| {key} | " + " | ".join(f"{result['median_us'][f'{key}/{t}']:.1f}" for t in threads) + " |")


if __name__ == "__main__":
    main()
