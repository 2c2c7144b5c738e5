#!/usr/bin/env python3
"""Measures how hard the built-in shapes10 dataset is: trains a CIFAR ResNet-18 (PyTorch, on a GPU) on
batches exported by `sp_data export` and prints test accuracy and the confusion matrix. The generator is
tuned so that a small ResNet lands around 85-95% (data/procedural.h); run this after changing it:

    build/bin/sp_data export --dataset shapes10:train=50000,test=2000 --out /tmp/s10
    python3 tools/shapes10_probe.py /tmp/s10 --width 32 --epochs 40 --train 10000

Not part of the test suite (it needs PyTorch and a GPU)."""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    rec = np.fromfile(path, np.uint8).reshape(-1, 3073)
    return torch.tensor(rec[:, 1:].reshape(-1, 3, 32, 32)), torch.tensor(rec[:, 0].astype(np.int64))


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
        self.short = nn.Sequential()
        if stride != 1 or cin != c:
            self.short = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.short(x))


class ResNet18(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks, cin = [], width
        for stage, mult in enumerate([1, 2, 4, 8]):
            for j in range(2):
                blocks.append(Block(cin, width * mult, 2 if stage > 0 and j == 0 else 1))
                cin = width * mult
        self.blocks, self.fc = nn.Sequential(*blocks), nn.Linear(cin, 10)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="folder with data_batch_1.bin and test_batch.bin")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--train", type=int, default=10000, help="use the first N training images")
    a = ap.parse_args()
    dev = "cuda"
    torch.backends.cudnn.benchmark = True
    xtr, ytr = load(a.data + "/data_batch_1.bin")
    xte, yte = load(a.data + "/test_batch.bin")
    xtr, ytr, xte, yte = xtr[: a.train].to(dev), ytr[: a.train].to(dev), xte.to(dev), yte.to(dev)
    mean = torch.tensor([0.4914, 0.4822, 0.4465], device=dev).view(1, 3, 1, 1)
    std = torch.tensor([0.2023, 0.1994, 0.2010], device=dev).view(1, 3, 1, 1)
    prep = lambda x: ((x.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    model = ResNet18(a.width).to(dev).to(memory_format=torch.channels_last)
    batch = 128
    steps = a.epochs * (len(xtr) // batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=steps, pct_start=0.15)
    ar = torch.arange(32, device=dev)

    def predict(x):
        model.eval()
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
            p = torch.cat([model(prep(x[i : i + 1000])).argmax(1) for i in range(0, len(x), 1000)])
        model.train()
        return p

    t0 = time.time()
    for ep in range(a.epochs):
        perm = torch.randperm(len(xtr), device=dev)
        for k in range(len(xtr) // batch):
            idx = perm[k * batch : (k + 1) * batch]
            x = F.pad(xtr[idx], (4, 4, 4, 4))  # random 32x32 crop of the zero-padded image, then flip
            oy, ox = torch.randint(0, 9, (2, batch), device=dev)
            x = x.gather(2, (oy[:, None] + ar)[:, None, :, None].expand(batch, 3, 32, 40))
            x = x.gather(3, (ox[:, None] + ar)[:, None, None, :].expand(batch, 3, 32, 32))
            x = torch.where((torch.rand(batch, device=dev) < 0.5)[:, None, None, None], x.flip(3), x)
            with torch.autocast("cuda", torch.bfloat16):
                loss = F.cross_entropy(model(prep(x)), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if (ep + 1) % 10 == 0 or ep + 1 == a.epochs:
            te = (predict(xte) == yte).float().mean().item()
            tr = (predict(xtr[:5000]) == ytr[:5000]).float().mean().item()
            print(f"width {a.width}, {len(xtr)} train, epoch {ep + 1}: loss {loss.item():.3f} "
                  f"train {tr:.4f} test {te:.4f} ({time.time() - t0:.0f} s)", flush=True)
    cm = torch.zeros(10, 10, dtype=torch.long)
    for t, p in zip(yte.tolist(), predict(xte).tolist()):
        cm[t, p] += 1
    print("confusion (rows: true class):")
    print(cm.numpy())


if __name__ == "__main__":
    main()
