#!/usr/bin/env python3
"""PyTorch peer of bench/infer.ts: the same network (bench/torch_models.py), batch, input size
and threads, in eval mode under torch.inference_mode(); prints one JSON line.

    /usr/bin/python3 bench/infer_torch.py --model cnnModel1 --batch 64 --steps 3 --warmup 1 \
        --threads 2 --width 1 --size 128 --classes 80

One step = logits of `batch` inputs [batch, 3, size, size] (NCHW, values in 0..1), read back as
a numpy array (as infer reads logits back to JS).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', default='cnnModel1')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=os.cpu_count())
    p.add_argument('--width', type=float, default=1.0)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--classes', type=int, default=80)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.model, num_classes=a.classes, width=a.width).eval()
    x = torch.rand(a.batch, 3, a.size, a.size)
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            model(x).numpy()
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    times_sorted = sorted(times)
    m = len(times_sorted) // 2
    med = times_sorted[m] if len(times_sorted) % 2 else (times_sorted[m - 1] + times_sorted[m]) / 2
    print(json.dumps({
        'engine': 'pytorch', 'torch': torch.__version__, 'model': a.model, 'batch': a.batch,
        'threads': torch.get_num_threads(), 'stepSeconds': [round(t, 3) for t in times],
        'windowsPerSecond': round(a.batch / med, 3),
    }))


if __name__ == '__main__':
    main()
