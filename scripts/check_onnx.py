#!/usr/bin/env python3
"""Checks exported model.onnx files with the reference ONNX checker (Debian python3-onnx).

Usage: /usr/bin/python3 scripts/check_onnx.py weights/<run>/**/model.onnx
Optional, not part of npm test: ONNX Runtime loading the files back (tests/export/onnxExport.test.ts)
already proves them standard; this adds onnx.checker's full check with shape inference.
"""
import sys

import onnx


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    for path in paths:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        inp = model.graph.input[0].type.tensor_type.shape.dim
        out = model.graph.output[0].type.tensor_type.shape.dim
        show = lambda dims: [d.dim_param or d.dim_value for d in dims]
        opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
        print(f"{path}: ok (opset {opset[0]}, input {show(inp)}, output {show(out)}, {len(model.graph.node)} nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
