"""Exports a small CNN with PyTorch's own ONNX exporter, plus an input batch and PyTorch's
output as ONNX TensorProto files, for test_onnx_torch (run with Debian's /usr/bin/python3).

usage: export_torch_cnn.py OUT_DIR [--qdq]    (exit status 77: torch or onnx not importable)

--qdq: a CNN whose conv / linear weights are ternary per output channel ({-a, 0, a}) and whose
layer inputs go through torch.fake_quantize_per_tensor_affine with uint8 zero points other
than 0 (exported as QuantizeLinear -> DequantizeLinear), the form of a model quantized with
asymmetric activations.
"""
import sys
from pathlib import Path

try:
    import torch
    import torch.nn as nn
    from onnx import numpy_helper
except ImportError:
    sys.exit(77)  # the test skips: Debian python3-torch / python3-onnx missing


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.AvgPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 2 * 2, 32), nn.ReLU(),
                                  nn.Linear(32, 10))

    def forward(self, x):
        y = self.features(x)
        return torch.softmax(self.head(y) * 0.5, dim=1)


class FakeQuantU8(nn.Module):
    def __init__(self, scale, zero_point):
        super().__init__()
        self.scale, self.zero_point = scale, zero_point

    def forward(self, x):
        return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, 0, 255)


class TernaryQdqCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            FakeQuantU8(0.02, 100), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            FakeQuantU8(0.03, 20), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Flatten(), FakeQuantU8(0.05, 128), nn.Linear(32 * 7 * 7, 10))
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    codes = torch.randint(-1, 2, m.weight.shape).float()
                    alpha = torch.empty(m.weight.shape[0]).uniform_(0.05, 0.2)
                    m.weight.copy_(codes * alpha.view(-1, *([1] * (m.weight.dim() - 1))))

    def forward(self, x):
        return self.head(self.features(x))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(7)
    qdq = "--qdq" in sys.argv[2:]
    model = TernaryQdqCnn() if qdq else SmallCnn()
    # Non-trivial BatchNorm statistics, as a trained model would have.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    # Signed inputs for the QDQ model: its first quantizer's zero point makes room for them.
    x = torch.randn(3, 1, 28, 28) if qdq else torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, str(out / "cnn.onnx"), opset_version=13, input_names=["image"],
                      output_names=["prob"], dynamic_axes={"image": {0: "batch"}, "prob": {0: "batch"}})
    (out / "input_0.pb").write_bytes(numpy_helper.from_array(x.numpy(), "image").SerializeToString())
    (out / "output_0.pb").write_bytes(numpy_helper.from_array(y.numpy(), "prob").SerializeToString())


if __name__ == "__main__":
    main()
