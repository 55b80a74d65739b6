"""Trains the FP32 VGG-style Fashion-MNIST model used for the FGQ results (docs/RESULTS.md)
with PyTorch on the CPU and exports it with torch.onnx.export. Run with Debian's
/usr/bin/python3 (python3-torch, python3-onnx).

usage: train_reference_cnn.py OUT.onnx [--epochs E] [--threads T] [--width W]
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION = "/usr/share/datasets/fashion-mnist"


def load_idx(images, labels):
    with gzip.open(images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def vgg_small(width):
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    w = width
    return nn.Sequential(
        *block(1, w), *block(w, w), nn.MaxPool2d(2),
        *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * w * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return (pred == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=16, help="channels of the first block (x2 in the second)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(2017)
    xtr, ytr = load_idx(f"{FASHION}/train-images-idx3-ubyte.gz", f"{FASHION}/train-labels-idx1-ubyte.gz")
    xte, yte = load_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz", f"{FASHION}/t10k-labels-idx1-ubyte.gz")
    model = vgg_small(args.width)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = args.epochs * (len(xtr) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        start = time.time()
        for i in range(0, len(xtr) - 127, 128):
            idx = perm[i:i + 128]
            xb = xtr[idx]
            flip = torch.rand(len(xb)) < 0.5  # horizontal flips: clothes are left-right symmetric
            xb[flip] = xb[flip].flip(3)
            loss = F.cross_entropy(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if (i // 128) % 100 == 0:
                print(f"  step {i // 128}: loss {loss.item():.3f}, {time.time() - start:.0f} s", flush=True)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {accuracy(model, xte, yte):.4f}, "
              f"{time.time() - start:.0f} s", flush=True)
    model.eval()
    torch.onnx.export(model, xte[:1], args.out, opset_version=13, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    print(f"wrote {args.out}; PyTorch test accuracy {accuracy(model, xte, yte):.4f}")


if __name__ == "__main__":
    main()
