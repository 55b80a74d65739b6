"""Runs the FGQ grid of docs/RESULTS.md: an FP32 ONNX model, re-imported by stern, then
`stern fgq` at N in {channel, 4, 8, 16, 32, 64} x activation bits {8, 4}, each evaluated by
`stern eval` on the test split. Prints a Markdown table. With --finetune-epochs E every point
is fine-tuned by `stern fgq --finetune-epochs E` (LibTorch) and the table adds LibTorch's
test accuracy before and after fine-tuning next to the runtime's.

usage: fgq_results.py STERN_BINARY MODEL.onnx DATASET WORKDIR [--calib-method M] [--first-last-bits B]
       [--groups channel,4,...] [--act-bits 8,4] [--extra "--asymmetric --bias-correction"]
       [--finetune-epochs E]
"""
import argparse
import json
import os
import subprocess


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stern")
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("workdir")
    ap.add_argument("--calib-method", default="max")
    ap.add_argument("--first-last-bits", default="8")
    ap.add_argument("--groups", default="channel,4,8,16,32,64")
    ap.add_argument("--act-bits", default="8,4")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--extra", default="", help="more stern fgq flags, e.g. '--asymmetric --bias-correction'")
    ap.add_argument("--finetune-epochs", default="0", help="stern fgq --finetune-epochs (0: post-training only)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    ev = ["--data", args.data, "--json", "--threads", args.threads]
    fp32 = run_json([args.stern, "eval", args.model] + ev)
    onnx_bytes = os.path.getsize(args.model)
    print(f"FP32 (ONNX, re-imported): accuracy {fp32['accuracy']:.4f}, {onnx_bytes} bytes (.onnx)\n")
    tuned = float(args.finetune_epochs) > 0
    ft_head, ft_rule = (" fine-tune epochs | LibTorch before / after | fine-tune s |", "---|---|---|") if tuned else ("", "")
    print(f"| N | act bits | accuracy | delta vs FP32 (points) | mults removed | weight bytes | .stern bytes | compression |{ft_head}")
    print(f"|---|---|---|---|---|---|---|---|{ft_rule}")
    for n in args.groups.split(","):
        for a in args.act_bits.split(","):
            out = os.path.join(args.workdir, f"fgq_{n}_a{a}.stern")
            rep = run_json([args.stern, "fgq", args.model, "--group", n, "--act-bits", a, "--calib", args.data,
                            "--calib-method", args.calib_method, "--first-last-bits", args.first_last_bits,
                            "--finetune-epochs", args.finetune_epochs, "--threads", args.threads,
                            "--out", out, "--json"] + args.extra.split())
            acc = run_json([args.stern, "eval", out] + ev)["accuracy"]
            print(f"| {n} | {a} | {acc:.4f} | {100 * (acc - fp32['accuracy']):+.2f} | "
                  f"{100 * rep['mults_removed_fraction']:.1f}% | {rep['weight_bytes']} | {rep['model_bytes']} | "
                  f"{rep['fp32_weight_bytes'] / rep['weight_bytes']:.1f}x |" + (
                      f" {args.finetune_epochs} | {rep['finetune']['accuracy_before']:.4f} / "
                      f"{rep['finetune']['accuracy_after']:.4f} | {rep['finetune']['train_seconds']:.0f} |"
                      if tuned else ""), flush=True)


if __name__ == "__main__":
    main()
