"""Helpers shared by the notebook tests: expected outputs of nbval check cells.

Notebooks are committed with outputs stripped, so the expected output of a cell marked
``# NBVAL_CHECK_OUTPUT`` is written in the cell itself, as a comment block after the line
``# Expected output:``. :func:`with_expected_outputs` turns those comments into stored outputs in a
copy of the notebook, which nbval then compares against a fresh execution.
"""

from __future__ import annotations

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
EXPECTED_MARK = "# Expected output:"


def expected_output(source: str) -> str | None:
    lines = source.splitlines()
    if EXPECTED_MARK not in lines:
        return None
    block = lines[lines.index(EXPECTED_MARK) + 1:]
    return "".join(line[2:] + "\n" if line.startswith("# ") else "\n" for line in block if line.startswith("#"))


def check_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if c.cell_type == "code" and CHECK_MARK in c.source]


def with_expected_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    copy = nbformat.from_dict(notebook)
    for cell in check_cells(copy):
        text = expected_output(cell.source)
        if text is None:
            raise ValueError(f"check cell without '{EXPECTED_MARK}' block:\n{cell.source}")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cell.execution_count = 1  # nbval ignores outputs of cells it thinks were never run
    return copy
