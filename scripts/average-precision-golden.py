#!/usr/bin/env python3
"""Golden values for lib/metrics/averagePrecision.ts from scikit-learn.

Reads the lwlrap golden cases (tests/fixtures/golden/lwlrap/case_<k>_{truth.u8,scores.f32}, shapes
from tests/fixtures/golden/manifest.json) and writes
tests/fixtures/golden/average_precision.json: per case, sklearn's
average_precision_score(truth[:, c], scores[:, c]) for every class with at least one positive
(null for the others, which sklearn cannot score), and their macro mean.

  apt-get install python3-sklearn   # Debian's scikit-learn
  /usr/bin/python3 scripts/average-precision-golden.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'golden')


def main() -> None:
    manifest = json.load(open(os.path.join(ROOT, 'manifest.json')))
    out = {'generator': f'sklearn {sklearn.__version__} average_precision_score, per class', 'cases': {}}
    for k, case in manifest['lwlrap'].items():
        rows, cols = case['shape']
        truth = np.fromfile(os.path.join(ROOT, 'lwlrap', f'case_{k}_truth.u8'), dtype=np.uint8).reshape(rows, cols)
        scores = np.fromfile(os.path.join(ROOT, 'lwlrap', f'case_{k}_scores.f32'), dtype=np.float32).reshape(rows, cols)
        per_class = [float(average_precision_score(truth[:, c], scores[:, c])) if truth[:, c].any() else None for c in range(cols)]
        defined = [v for v in per_class if v is not None]
        out['cases'][k] = {'per_class': per_class, 'macro': float(np.mean(defined))}
    with open(os.path.join(ROOT, 'average_precision.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
