"""Fine-tunes an FP32 ONNX CNN (Conv/Relu/MaxPool/Flatten/Gemm chain, as written by
train_reference_cnn.py) for FGQ at group size N in PyTorch, then exports the FP32 shadow
weights as ONNX for `stern fgq` (docs/RESULTS.md). stern's C++ `--finetune-epochs` does not
exist; this script is the stand-in, run with Debian's /usr/bin/python3.

The forward pass uses exactly stern fgq's weight quantizer, reimplemented vectorized: per group
of N consecutive OHWI columns, the L2-optimal ternary fit by sorting (k maximizing S_k^2/k,
threshold halfway between the k-th and (k+1)-th magnitude, scale = mean kept magnitude); the
first and last layer get stern's 8-bit per-channel integer weights. Gradients reach the FP32
weights through the straight-through estimator. Activations are not fake-quantized.

usage: finetune_fgq.py IN.onnx OUT.onnx --group N --steps S [--lr LR] [--threads T]
"""
import argparse
import gzip
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

FASHION = "/usr/share/datasets/fashion-mnist"


def load_idx(images, labels):
    with gzip.open(images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def ternary_groups(w2d, n):
    """stern fgq's per-group exact ternary fit of a [rows, cols] matrix."""
    rows, cols = w2d.shape
    groups = (cols + n - 1) // n
    g = F.pad(w2d, (0, groups * n - cols)).view(rows, groups, n)
    a = g.abs()
    s, _ = a.sort(dim=-1, descending=True)
    cs = s.cumsum(-1)
    gain = cs * cs / torch.arange(1, n + 1, dtype=w2d.dtype)
    best = gain.argmax(-1, keepdim=True)
    lo = s.gather(-1, best)
    hi = s.gather(-1, (best + 1).clamp(max=n - 1))
    delta = torch.where(best == n - 1, 0.5 * lo, 0.5 * (lo + hi))
    keep = (a > delta).to(w2d.dtype)
    alpha = (a * keep).sum(-1, keepdim=True) / keep.sum(-1, keepdim=True).clamp(min=1)
    return (alpha * torch.sign(g) * keep).view(rows, groups * n)[:, :cols]


def int8_rows(w2d):
    scale = w2d.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
    return torch.clamp(torch.round(w2d / scale), -127, 127) * scale


class QuantLayer(nn.Module):
    """Conv or Linear whose forward uses the quantized weight (STE to the FP32 weight)."""

    def __init__(self, layer, mode, group):
        super().__init__()
        self.layer, self.mode, self.group = layer, mode, group

    def quantized_weight(self):
        w = self.layer.weight
        if w.dim() == 4:  # OIHW -> OHWI matrix, the column order of stern's groups
            m = w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)
        else:
            m = w
        q = ternary_groups(m, self.group) if self.mode == "ternary" else int8_rows(m)
        if w.dim() == 4:
            q = q.view(w.shape[0], w.shape[2], w.shape[3], w.shape[1]).permute(0, 3, 1, 2)
        return w + (q - w).detach()

    def forward(self, x):
        w = self.quantized_weight()
        if isinstance(self.layer, nn.Conv2d):
            return F.conv2d(x, w, self.layer.bias, self.layer.stride, self.layer.padding)
        return F.linear(x, w, self.layer.bias)


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def model_from_onnx(path):
    m = onnx.load(path)
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    layers = []
    for node in m.graph.node:
        if node.op_type == "Conv":
            w = init[node.input[1]]
            pads = attr(node, "pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] and pads[1] == pads[3] and attr(node, "group", 1) == 1
            conv = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(attr(node, "strides", [1, 1])),
                             padding=(pads[0], pads[1]), bias=len(node.input) > 2)
            conv.weight.data.copy_(w)
            if len(node.input) > 2:
                conv.bias.data.copy_(init[node.input[2]])
            layers.append(conv)
        elif node.op_type == "Gemm":
            w = init[node.input[1]]
            assert attr(node, "transB", 0) == 1 and attr(node, "alpha", 1.0) == 1.0
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data.copy_(w)
            lin.bias.data.copy_(init[node.input[2]])
            layers.append(lin)
        elif node.op_type == "Relu":
            layers.append(nn.ReLU())
        elif node.op_type == "MaxPool":
            layers.append(nn.MaxPool2d(tuple(attr(node, "kernel_shape", [2, 2])), tuple(attr(node, "strides", [2, 2]))))
        elif node.op_type == "Flatten":
            layers.append(nn.Flatten())
        else:
            raise SystemExit(f"finetune_fgq.py: unsupported op {node.op_type}")
    return nn.Sequential(*layers)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return (pred == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--group", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True, help="training steps of 128 images")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(2018)
    fp32 = model_from_onnx(args.input)
    weighted = [i for i, l in enumerate(fp32) if isinstance(l, (nn.Conv2d, nn.Linear))]
    model = nn.Sequential(*[
        QuantLayer(l, "int8" if i in (weighted[0], weighted[-1]) else "ternary", args.group) if i in weighted else l
        for i, l in enumerate(fp32)])
    xtr, ytr = load_idx(f"{FASHION}/train-images-idx3-ubyte.gz", f"{FASHION}/train-labels-idx1-ubyte.gz")
    xte, yte = load_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz", f"{FASHION}/t10k-labels-idx1-ubyte.gz")
    print(f"before fine-tuning (PyTorch, quantized weights): {accuracy(model, xte, yte):.4f}", flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    model.train()
    start = time.time()
    perm = torch.randperm(len(xtr))
    for step in range(args.steps):
        idx = perm[(step * 128) % (len(xtr) - 128):][:128]
        xb = xtr[idx]
        flip = torch.rand(len(xb)) < 0.5
        xb[flip] = xb[flip].flip(3)
        loss = F.cross_entropy(model(xb), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            print(f"  step {step}: loss {loss.item():.3f}, {time.time() - start:.0f} s", flush=True)
    print(f"after {args.steps} steps ({args.steps * 128 / len(xtr):.2f} epochs): {accuracy(model, xte, yte):.4f}",
          flush=True)
    fp32.eval()
    torch.onnx.export(fp32, xte[:1], args.output, opset_version=13, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})


if __name__ == "__main__":
    main()
