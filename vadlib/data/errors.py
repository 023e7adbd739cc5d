"""The one error every loader raises for a dataset it cannot read."""

from __future__ import annotations

import textwrap
from pathlib import Path


class DatasetError(ValueError):
    """A dataset root that is missing, incomplete or laid out differently from what a loader reads.

    The message names the dataset, what is wrong, the layout the loader expects (from the
    dataset's manifest) and the command that diagnoses it, so a user never meets a bare
    ``KeyError`` or an empty dataset that trains silently. :attr:`summary` is the same in one
    line, which is what the ``vadlib`` command prints.
    """

    def __init__(self, dataset: str, root: str | Path | None, problem: str,
                 expected: str | None = None, hint: str | None = None):
        self.dataset, self.root, self.problem = dataset, root, problem
        if expected is None:
            expected = _expected_layout(dataset)
        if hint is None:
            hint = (f"Run `vadlib data status {dataset}` to check it, `vadlib data fetch {dataset}` "
                    f"to get it, or `vadlib data synth {dataset}` for a synthetic twin.")
        lines = [f"{dataset}: {problem}"]
        if root is not None:
            lines.append(f"  dataset root: {root}")
        if expected:
            lines.append("  expected layout:")
            lines.append(textwrap.indent(expected.rstrip(), "    "))
        lines.append(f"  {hint}")
        super().__init__("\n".join(lines))

    @property
    def summary(self) -> str:
        """``<dataset>: <problem>`` in one line, with the dataset root unless the problem names it."""
        line = f"{self.dataset}: {' '.join(self.problem.split())}"
        if self.root is not None and str(self.root) not in self.problem:
            line += f" (dataset root {self.root})"
        return line


class DatasetFileError(DatasetError):
    """One file of a dataset cannot be read: missing, truncated, corrupt or of another format.

    ``path`` is the file and ``reason`` what is wrong with it; the message starts with the path,
    so the file to re-fetch or delete is named even when the error is printed in one line.
    """

    def __init__(self, dataset: str, root: str | Path | None, path: str | Path, problem: str):
        self.path, self.reason = Path(path), problem
        super().__init__(dataset, root, f"{path}: {problem}", expected="",
                         hint=f"Run `vadlib data verify {dataset}` to check every file against its "
                              f"record, or `vadlib data fetch {dataset}` to get the set again.")


def directory_error(dataset: str, root: str | Path, missing: str) -> DatasetError:
    """The error for a dataset root that is not a directory: ``missing`` (the loader's own words)
    when nothing is there, "is a file, not a directory" when something else is."""
    if Path(root).exists():
        return DatasetError(dataset, root, f"the dataset root {root} is a file, not a directory")
    return DatasetError(dataset, root, missing)


def _expected_layout(dataset: str) -> str:
    try:
        from vadlib.data.manifests import load_manifest
        return load_manifest(dataset).layout_tree
    except Exception:  # an unknown dataset or a broken manifest must not hide the original problem
        return ""
