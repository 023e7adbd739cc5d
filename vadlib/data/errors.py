"""The one error every loader raises for a dataset it cannot read."""

from __future__ import annotations

import textwrap
from pathlib import Path


class DatasetError(ValueError):
    """A dataset root that is missing, incomplete or laid out differently from what a loader reads.

    The message names the dataset, what is wrong, the layout the loader expects (from the
    dataset's manifest) and the command that diagnoses it, so a user never meets a bare
    ``KeyError`` or an empty dataset that trains silently.
    """

    def __init__(self, dataset: str, root: str | Path | None, problem: str,
                 expected: str | None = None):
        self.dataset, self.root, self.problem = dataset, root, problem
        if expected is None:
            expected = _expected_layout(dataset)
        lines = [f"{dataset}: {problem}"]
        if root is not None:
            lines.append(f"  dataset root: {root}")
        if expected:
            lines.append("  expected layout:")
            lines.append(textwrap.indent(expected.rstrip(), "    "))
        lines.append(f"  Run `vadlib data status {dataset}` to check it, `vadlib data fetch {dataset}` to "
                     f"get it, or `vadlib data synth {dataset}` for a synthetic twin.")
        super().__init__("\n".join(lines))


def _expected_layout(dataset: str) -> str:
    try:
        from vadlib.data.manifests import load_manifest
        return load_manifest(dataset).layout_tree
    except Exception:  # an unknown dataset or a broken manifest must not hide the original problem
        return ""
