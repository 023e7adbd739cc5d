"""What ``vadlib data list | status | verify | fetch | synth`` print; each returns text (and ok)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tabulate import tabulate

from vadlib import paths
from vadlib.data import download, status as status_module, synthetic
from vadlib.data.manifests import all_manifests, load_manifest, manifest_names


def list_datasets() -> str:
    rows = [(m.name, m.access, ",".join(m.papers), m.title, "yes" if m.synthetic else "no")
            for m in all_manifests()]
    return tabulate(rows, headers=("dataset", "access", "papers", "title", "twin"))


def markdown_table() -> str:
    """Every dataset as a Markdown table (used in the README)."""
    lines = ["| dataset | access | papers | what |", "|---|---|---|---|"]
    for m in all_manifests():
        lines.append(f"| `{m.name}` | {m.access} | {', '.join(m.papers) or '—'} | {m.title} |")
    return "\n".join(lines)


def status_report(name: str | None, data_root: Path | None) -> tuple[str, bool]:
    names = [name] if name else manifest_names()
    found = [status_module.status(n, data_root) for n in names]
    header = f"data root: {data_root or paths.data_root()}"
    return "\n".join([header] + [entry.describe() for entry in found]), all(e.usable for e in found)


def verify(name: str, data_root: Path | None) -> tuple[str, bool]:
    found = status_module.status(name, data_root, deep=True)
    text = found.describe()
    if found.usable:
        text += "\nlayout matches" + (" and every recorded sha256 agrees" if _has_record(found.path)
                                      else "; no vadlib record, so file checksums were not checked")
    return text, found.usable


def _has_record(path: Path) -> bool:
    from vadlib.data.integrity import read_record
    return read_record(path) is not None


def instructions(name: str, data_root: Path | None) -> str:
    manifest = load_manifest(name)
    target = manifest.path(data_root or paths.data_root())
    lines = [f"{manifest.title} ({manifest.name}) needs {manifest.access}; vadlib cannot download it.",
             f"homepage: {manifest.homepage}", f"licence: {manifest.licence}", "",
             textwrap.dedent(manifest.steps).strip(), "",
             f"Put the files so that this layout results under {target}:",
             textwrap.indent(manifest.layout_tree.rstrip(), "  "), "",
             f"Then run `vadlib data status {name}`."]
    return "\n".join(lines)


def fetch(name: str, data_root: Path | None, keep_archives: bool = False) -> tuple[str, bool]:
    manifest = load_manifest(name)
    root = Path(data_root or paths.data_root())
    if manifest.access != "direct":
        present = status_module.status(name, root).usable
        return instructions(name, root) + ("\n(It is already present.)" if present else ""), present
    download.fetch(manifest, root, keep_archives=keep_archives)
    found = status_module.status(name, root)
    return found.describe(), found.usable


def synth(name: str, data_root: Path | None, size: str = "smoke", seed: int = 0,
          force: bool = False) -> list[Path]:
    names = sorted(synthetic.generators()) if name == "all" else [name]
    return [synthetic.generate(n, size=size, seed=seed, data_root=data_root, force=force) for n in names]
