#!/usr/bin/python3
"""Writes tests/fixtures/param-counts.json: the trainable parameter count of each PyTorch
reference network (bench/torch_models.py) at 3×128×128 input (1×128×128 for the PANNs) and 80 classes, width 1, plus a
narrow width and the options, so tests/models/zoo.test.ts can check lib/models against them.

    /usr/bin/python3 scripts/torch-param-counts.py      # needs python3-torch, python3-torchvision
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'bench'))
from torch_models import NAMES, build, input_channels, trainable_params  # noqa: E402

CASES = [(name, 1.0, {}) for name in NAMES] + [(name, 0.25, {}) for name in NAMES] + [
    ('mobilenetv2', 1.0, {'channel_stem': True}),
    ('xresnet50', 1.0, {'mish': True}),
]


def main():
    torch.manual_seed(0)
    rows = []
    for name, width, options in CASES:
        model = build(name, num_classes=80, width=width, mels=128, **options)
        model.eval()
        channels = 1 if options.get('channel_stem') else input_channels(name)
        with torch.no_grad():
            out = model(torch.zeros(2, channels, 128, 128))
        assert tuple(out.shape) == (2, 80), (name, out.shape)
        rows.append({'arch': name, 'width': width, 'options': options, 'trainableParams': trainable_params(model)})
        print(f"{name:12s} width {width:<5} {json.dumps(options):24s} {rows[-1]['trainableParams']:>12,d}")
    fixture = {
        'source': 'scripts/torch-param-counts.py with bench/torch_models.py '
                  f'(torch {torch.__version__}); input 3x128x128, 80 classes',
        'numClasses': 80,
        'input': [3, 128, 128],
        'networks': rows,
    }
    out_path = os.path.join(HERE, '..', 'tests', 'fixtures', 'param-counts.json')
    with open(out_path + '.tmp', 'w') as f:
        json.dump(fixture, f, indent=1)
        f.write('\n')
    os.replace(out_path + '.tmp', out_path)
    print('wrote', os.path.relpath(out_path))


if __name__ == '__main__':
    main()
