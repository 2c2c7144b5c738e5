#!/usr/bin/env python3
"""PyTorch's side of tools/bench_cpu_vs_pytorch.sh: the CIFAR ResNet-18 of nn/models/resnet18.cpp (3x3 stem, no
max-pool, BasicBlocks of widths w, 2w, 4w, 8w, batch norm, 4x4 average pool, linear head) trained on resident
random data with SGD (momentum 0.9, Nesterov, weight decay 5e-4), and its eval-mode inference on blocks of
1008 images, as `sp_train --bench` measures. The training step here does less than sp_train's (no
augmentation, no metrics), which favours PyTorch. Prints one line per row: "train B IMG_PER_S CPU_IMG_PER_S" for
each batch size B and "query Q IMG_PER_S CPU_IMG_PER_S" (the second rate per second of process CPU time: with one
thread on a loaded machine, what the load disturbs least). Benchmark-only: PyTorch is an optional dependency of this script alone."""
import argparse
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("bench_pytorch_resnet.py: PyTorch is not installed (pip install torch)", file=sys.stderr)
    sys.exit(2)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, w, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        layers, cin = [], w
        for cout, stride in ((w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)):
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(8 * w, classes)

    def forward(self, x):
        o = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.avg_pool2d(o, 4), 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--batches", required=True, help="comma-separated batch sizes")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--query-batch", type=int, default=1008)
    ap.add_argument("--channels-last", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = ResNet18(a.width).to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    for batch in (int(b) for b in a.batches.split(",")):
        x = torch.randn(batch, 3, 32, 32).to(memory_format=fmt)
        y = torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        step()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            step()
        n = batch * a.steps
        print(f"train {batch} {n / (time.perf_counter() - t0):.1f} {n / (time.process_time() - c0):.1f}", flush=True)

    model.eval()
    q = torch.randn(a.query_batch, 3, 32, 32).to(memory_format=fmt)
    with torch.no_grad():
        model(q)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            model(q)
    n = a.query_batch * a.steps
    print(f"query {a.query_batch} {n / (time.perf_counter() - t0):.1f} {n / (time.process_time() - c0):.1f}")


if __name__ == "__main__":
    main()
