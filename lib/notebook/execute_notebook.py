"""Executes a Jupyter notebook with nbclient and saves the executed copy, even on failure.

Usage: execute_notebook.py IN.ipynb OUT.ipynb [--kernel tslab] [--timeout SECONDS] [--inject CODE]

--inject CODE: as papermill does, a code cell (tagged "injected-parameters") holding CODE is
inserted after the cell tagged "parameters" (the notebook's settings), so a test can shrink
the settings the reader sees without editing the notebook.

Unlike `jupyter nbconvert --execute`, a failing cell's own output (tslab prints errors and
compile diagnostics to the cell's stderr stream, not into the error reply) is printed to
stderr, and the partly executed notebook is written, so the caller can show what went wrong.
Exit status: 0 ok, 1 a cell failed, 2 bad usage.
"""
import argparse
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def output_text(cell):
    parts = []
    for o in cell.get("outputs", []):
        kind = o.get("output_type")
        if kind == "stream":
            parts.append(o.get("text", ""))
        elif kind == "error":
            parts.append("%s: %s\n%s" % (o.get("ename"), o.get("evalue"), "\n".join(o.get("traceback", []))))
        elif kind in ("display_data", "execute_result"):
            text = o.get("data", {}).get("text/plain")
            if text:
                parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--kernel", default="tslab")
    ap.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    ap.add_argument("--inject", default=None, help="code inserted after the cell tagged 'parameters'")
    args = ap.parse_args()

    nb = nbformat.read(args.input, as_version=4)
    if args.inject:
        tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
        if not tagged:
            print("%s: --inject given but no cell is tagged 'parameters'" % args.input, file=sys.stderr)
            return 2
        cell = nbformat.v4.new_code_cell(args.inject)
        cell.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(tagged[0] + 1, cell)
    started = {"index": None}

    def on_start(cell, cell_index, **_):
        started["index"] = cell_index
        print("[cell %d] started" % cell_index, file=sys.stderr, flush=True)

    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.input))}},
        on_cell_start=on_start,
    )
    status = 0
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        status = 1
        i = started["index"]
        cell = nb.cells[i] if i is not None else None
        print("CELL FAILED: cell %s of %s (%s)" % (i, args.input, type(err).__name__), file=sys.stderr)
        if cell is not None:
            print("------ source ------\n%s\n------ output ------\n%s\n--------------------"
                  % (cell.source, output_text(cell) or str(err)), file=sys.stderr)
    finally:
        nbformat.write(nb, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
