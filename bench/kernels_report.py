#!/usr/bin/env python3
"""Tables and target ratios for docs/BENCHMARKS.md from a bench_kernels JSON file.

    bench_kernels --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
        --benchmark_out=kernels.json --benchmark_out_format=json
    python3 bench/kernels_report.py kernels.json

Medians of the repetitions. 1 thread: CPU time of the benchmark thread (robust to other
processes on the machine); 2 threads: wall time (the CPU time of the calling thread alone
would hide the second thread's work).
"""
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    times = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].replace("/real_time", "")
        family, threads = name.rsplit("/", 1)
        if not threads.isdigit():  # ukernel/<name>: no thread count, not in these tables
            continue
        t = b["cpu_time"] if threads == "1" else b["real_time"]
        times[(family, int(threads))] = (t, b)
    return times


def fmt_ratio(x):
    return f"{x:.2f}x"


def main(path):
    times = load(path)
    get = lambda fam, th: times[(fam, th)][0] if (fam, th) in times else None

    print("| layer | threads | entry | time (us) | vs oneDNN u8s8 | vs oneDNN f32 |")
    print("|---|---|---|---|---|---|")
    for (fam, th), (t, b) in sorted(times.items()):
        if not (fam.startswith("gemv/") or fam.startswith("conv/")):
            continue
        shape, entry = fam.split("/")[1], fam.split("/")[2]
        base = fam.rsplit("/", 1)[0]
        u8 = get(base + "/dnnl_u8s8", th)
        f32 = get(base + "/dnnl_f32", th)
        r8 = fmt_ratio(u8 / t) if u8 else "-"
        r32 = fmt_ratio(f32 / t) if f32 else "-"
        print(f"| {shape} | {th} | {entry} | {t:.1f} | {r8} | {r32} |")

    print()
    print("Targets:")
    for th in (1, 2):
        dram = times.get(("dram/read", th))
        dram_bw = None
        if dram:
            secs = dram[0] * 1e-6 if dram[1]["time_unit"] == "us" else dram[0] * 1e-9
            dram_bw = (256 << 20) / secs / 1e9
        g16 = "gemv/16384x16384/"
        dense = get(g16 + "stern_ternary_dense", th)
        u8 = get(g16 + "dnnl_u8s8", th)
        if dense and dram_bw:
            bytes_ = 16384 * 16384 / 4 + 16384 * 4
            bw = bytes_ / (dense * 1e-6) / 1e9
            print(f"- [{th}t] GEMV 16384^2 dense ternary: {bw:.1f} GB/s of weights vs DRAM read "
                  f"{dram_bw:.1f} GB/s = {bw / dram_bw:.0%} (target >= 80%); vs oneDNN u8s8 {u8 / dense:.2f}x")
        for sp in (90, 95, 98):
            s = get(g16 + f"stern_ternary_sparse_{sp}", th)
            if s and u8:
                print(f"- [{th}t] GEMV 16384^2 sparse {sp}%: {u8 / s:.2f}x oneDNN u8s8 (target >= 6x)")
        g4 = "gemv/4096x4096/"
        d4, u4, tq = get(g4 + "stern_ternary_dense", th), get(g4 + "dnnl_u8s8", th), get(g4 + "tq2_0", th)
        if d4 and u4 and tq:
            print(f"- [{th}t] GEMV 4096^2 dense ternary: {u4 / d4:.2f}x oneDNN u8s8 (target >= 2x), "
                  f"{tq / d4:.2f}x TQ2_0 maddubs (target >= 1.3x); {4096 * 4096 / d4 / 1e3:.0f} G weights/s")
        c = "conv/conv3x3_256@14/"
        cd, cu = get(c + "stern_ternary_dense", th), get(c + "dnnl_u8s8", th)
        if cd and cu:
            print(f"- [{th}t] conv 256->256 @14x14 dense ternary: time {cd / cu:.2f}x oneDNN u8s8's (target <= 1.25x)")
        for sp, target in ((90, 2), (98, 5)):
            s = get(c + f"stern_ternary_sparse_{sp}", th)
            if s and cu:
                print(f"- [{th}t] conv 256->256 @14x14 sparse {sp}%: {cu / s:.2f}x faster than oneDNN u8s8 (target >= {target}x)")


if __name__ == "__main__":
    main(sys.argv[1])
