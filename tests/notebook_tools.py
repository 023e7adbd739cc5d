"""Helpers shared by the notebook tests: expected outputs of nbval check cells, and the tables and
figures a notebook's source writes.

Notebooks are committed with outputs stripped, so the expected output of a cell marked
``# NBVAL_CHECK_OUTPUT`` is written in the cell itself, as a comment block after the line
``# Expected output:``. :func:`with_expected_outputs` turns those comments into stored outputs in a
copy of the notebook, which nbval then compares against a fresh execution.

:func:`artifact_calls` reads a notebook's ``.py`` without running it and lists the ids of its
``nb.table(id, ...)`` and ``nb.figure(fig, id, ...)`` calls, the oracle the catalog's declarations
are checked against.
"""

from __future__ import annotations

import ast
import itertools

import nbformat

from vadlib import artifacts, reproduce
from vadlib.catalog import NotebookEntry

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


# ------------------------------------------------------------------------------ declared outputs

ID_ARGUMENT = {"table": (0, "table_id"), "figure": (1, "figure_id")}  # position and name in Session's methods
UNKNOWN = "*"  # stands for a part of an id the source does not spell out


def _id_values(node: ast.expr, loops: dict[str, list[str]]) -> list[str]:
    """Every id the expression can take: a literal, a loop variable over a literal tuple, or an
    f-string of those; any other part becomes ``*``, so the id is a pattern."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return loops.get(node.id, [UNKNOWN])
    if isinstance(node, ast.JoinedStr):
        parts = [_id_values(v.value if isinstance(v, ast.FormattedValue) else v, loops) for v in node.values]
        return ["".join(combination) for combination in itertools.product(*parts)]
    return [UNKNOWN]


def _literal_strings(node: ast.expr) -> list[str] | None:
    if isinstance(node, (ast.Tuple, ast.List)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return [e.value for e in node.elts]
    return None


def artifact_calls(source: str) -> dict[str, list[str]]:
    """``{"table": ids, "figure": ids}`` of the ``nb.table`` / ``nb.figure`` calls in ``source``,
    in source order. A loop ``for x in ("a", "b"):`` expands ``x``; an id built from anything else
    comes back as an fnmatch pattern with ``*`` for the part not known before running."""
    found: dict[str, list[str]] = {"table": [], "figure": []}

    def visit(node: ast.AST, loops: dict[str, list[str]]) -> None:
        if isinstance(node, ast.For):
            values = _literal_strings(node.iter)
            inner = dict(loops)
            for name in ast.walk(node.target):  # a loop over anything else hides an outer binding
                if isinstance(name, ast.Name):
                    inner.pop(name.id, None)
            if values is not None and isinstance(node.target, ast.Name):
                inner[node.target.id] = values
            visit(node.iter, loops)
            for child in node.body + node.orelse:
                visit(child, inner)
            return
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ID_ARGUMENT
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "nb"):
            position, keyword = ID_ARGUMENT[node.func.attr]
            argument = node.args[position] if len(node.args) > position else next(
                (k.value for k in node.keywords if k.arg == keyword), None)
            if argument is not None:
                found[node.func.attr] += _id_values(argument, loops)
        for child in ast.iter_child_nodes(node):
            visit(child, loops)

    visit(ast.parse(source), {})
    return found


def assert_declared_outputs(entry: NotebookEntry) -> reproduce.OutputCheck:
    """After a notebook ran with its default parameters: every table and figure its catalog entry
    declares is recorded in ``figures/index.json`` under its name. Returns the check (its
    ``undeclared`` ids are only a warning)."""
    check = reproduce.check_outputs(entry, reproduce.written_by(entry))
    assert not check.missing, f"{check.error()} (index: {sorted(artifacts.read_index())})"
    return check
