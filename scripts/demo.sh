#!/usr/bin/env bash
# The main job: train LeNet-5 on the real MNIST digits in FP32 and as a sparse ternary network
# (scheduled quantization pruning to 96.5% body sparsity -> retraining with the zeros frozen,
# docs/TRAINING.md), compress it
# to the entropy-coded archive, run all of them through the runtime and print the table of
# accuracy, sparsity, size and speed. Then the same for the VGG-style network on
# Fashion-MNIST (15,000 of the 60,000 training images, the whole 10,000 test images). DEMO_QUICK=1 trains for fewer epochs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
build=${STERN_BUILD_DIR:-build}
TARGETS=stern bash scripts/build.sh "$build"
stern=$build/cli/stern
out=$build/demo
mkdir -p "$out"
# LibTorch's OpenMP team spin-waits; passive waiting loses nothing on an idle machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# The sparse ternary models take 8-bit activations (--act-bits 8), so the runtime runs them on
# the integer kernels; with float activations (the recipe's default) it would dequantize.

# MNIST as in docs/RESULTS.md (Training); Fashion-MNIST shorter than there (6 epochs on all
# 60,000 images) to keep the job near 10 minutes. DEMO_QUICK=1: a few minutes.
if [ -n "${DEMO_QUICK:-}" ]; then mnist_epochs=6; fashion_epochs=2; fashion_limit=5000
else mnist_epochs=30; fashion_epochs=4; fashion_limit=15000; fi

train() {  # name data model epochs flags...
  local name=$1 data=$2 model=$3 epochs=$4; shift 4
  echo "== stern train --data $data --model $model --epochs $epochs $*"
  "$stern" train --data "$data" --model "$model" --epochs "$epochs" "$@" --out "$out/$name.stern"
}

train lenet5-fp32 mnist lenet5 "$mnist_epochs" --recipe fp32 --lr 3e-3
train lenet5-sparse-ternary mnist lenet5 "$mnist_epochs" --recipe sparse-ternary --lr 3e-3 --granularity channel --act-bits 8 --target-sparsity 0.965 --edge-sparsity 0.5
"$stern" compress "$out/lenet5-sparse-ternary.stern" -o "$out/lenet5-sparse-ternary.sternz" >/dev/null

train vgg-fp32 fashion-mnist vgg "$fashion_epochs" --recipe fp32 --train-limit "$fashion_limit"
train vgg-sparse-ternary fashion-mnist vgg "$fashion_epochs" --recipe sparse-ternary --act-bits 8 --target-sparsity 0.93 --train-limit "$fashion_limit"
"$stern" compress "$out/vgg-sparse-ternary.stern" -o "$out/vgg-sparse-ternary.sternz" >/dev/null

echo
"$stern" summary --data mnist "$out/lenet5-fp32.stern" "$out/lenet5-sparse-ternary.stern" "$out/lenet5-sparse-ternary.sternz"
echo
"$stern" summary --data fashion-mnist "$out/vgg-fp32.stern" "$out/vgg-sparse-ternary.stern" "$out/vgg-sparse-ternary.sternz"
