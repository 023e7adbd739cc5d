"""Tables and figures with provenance.

``save_table`` writes ``figures/tables/<id>.{csv,md,tex}``; when a reproduced table is given for a
table the thesis reports, the files show reported, reproduced and their difference side by side.
``save_figure`` writes ``figures/<paper>/<id>.{png,pdf}`` at a fixed dpi. Every write is atomic
(temporary file + rename) and is recorded in ``figures/index.json`` with: id, paper, notebook,
profile, parameters, git commit and dirty flag, package versions, data fingerprint, wall time and
creation time. Table files themselves carry no timestamps, so two runs of the same profile write
byte-identical CSVs.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import functools
import hashlib
import importlib.metadata
import io
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from vadlib import paths, reported

FIGURE_DPI = 150
STATUS_COLUMN = "status"
REPRODUCED, PARTIAL, NOT_RUN, EXTRA = "reproduced", "partly reproduced", "not run", "reproduced only"
NOTE_COLUMN = "note"
TRACKED_PACKAGES = ("vadlib", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "torch", "torchvision",
                    "timm", "trackeval", "papermill")


# ------------------------------------------------------------------------------------ provenance

@dataclass
class Provenance:
    """Who produced an artifact: set once per notebook by ``vadlib.notebook.setup``."""

    notebook: str | None = None
    profile: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # every resolved knob and the device used
    last_save: float = field(default_factory=time.perf_counter)


_current = Provenance()


def set_provenance(notebook: str | None, profile: str | None, parameters: dict[str, Any],
                   settings: dict[str, Any] | None = None) -> Provenance:
    global _current
    _current = Provenance(notebook, profile, dict(parameters), dict(settings or {}))
    return _current


@functools.cache
def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def git_state(root: Path = paths.REPO_ROOT) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding vadlib."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def file_checksum(path: Path) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(items: Iterable[Path | str]) -> str:
    """sha256 over the given files (or every file under given directories): names, sizes, contents.

    Files above 64 MiB contribute name, size and modification time instead of content, so
    fingerprinting a real dataset stays cheap.
    """
    digest = hashlib.sha256()
    for item in items:
        item = Path(item)
        files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
        for path in files:
            stat = path.stat()
            digest.update(f"{path.name}\0{stat.st_size}\0".encode())
            if stat.st_size <= 64 * 2**20:
                digest.update(path.read_bytes())
            else:
                digest.update(str(int(stat.st_mtime)).encode())
    return "sha256:" + digest.hexdigest()


# -------------------------------------------------------------------------------- atomic writes

def atomic_write(path: Path, writer: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` atomically: ``writer(stream)`` fills a temporary file in the same directory,
    which is flushed to disk (fsync) and renamed over ``path``.

    A reader sees the old file or the complete new one, never a part; when ``writer`` raises (or
    the process dies) nothing is left under ``path``'s name. ``writer`` gets a seekable binary
    stream, so ``np.savez_compressed`` and ``torch.save`` can write into it directly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            writer(stream)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; artifacts are shared files
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda stream: stream.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def _locked_index() -> Iterator[Path]:
    root = paths.figures_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".index.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root / "index.json"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_index() -> dict[str, dict[str, Any]]:
    """``figures/index.json`` as ``{artifact id: record}`` (empty when absent)."""
    path = paths.figures_dir() / "index.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())["artifacts"]


def _record(artifact_id: str, kind: str, paper: str | None, files: list[Path], data_fingerprint: str | None,
            wall_time_s: float | None, extra: dict[str, Any]) -> dict[str, Any]:
    now = time.perf_counter()
    wall = wall_time_s if wall_time_s is not None else now - _current.last_save
    _current.last_save = now
    root = paths.figures_dir()
    record = {
        "id": artifact_id, "kind": kind, "paper": paper, "notebook": _current.notebook,
        "profile": _current.profile, "parameters": _current.parameters, "settings": _current.settings,
        **git_state(),
        "packages": package_versions(), "data_fingerprint": data_fingerprint,
        "wall_time_s": round(float(wall), 3),
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "files": {str(p.relative_to(root)): file_checksum(p) for p in files},
        **extra,
    }
    record["git_commit"], record["git_dirty"] = record.pop("commit"), record.pop("dirty")
    with _locked_index() as index_path:
        index = json.loads(index_path.read_text())["artifacts"] if index_path.exists() else {}
        index[artifact_id] = record
        payload = {"artifacts": dict(sorted(index.items()))}
        atomic_write_text(index_path, json.dumps(payload, indent=1, default=str) + "\n")
    return record


# ------------------------------------------------------------------------------------------ tables

def compare(reported_table: pd.DataFrame, reproduced: pd.DataFrame, key_columns: list[str] | None = None) -> pd.DataFrame:
    """Reported, reproduced and delta (reproduced − reported) side by side, one row per table row.

    Rows are matched on the label columns. Every reported row stays, in printed order: a row the
    reproduction did not produce (or produced without numbers) is marked ``not run`` with empty
    reproduced cells (never filled, never dropped); one with only some columns is ``partly
    reproduced``. Reproduced rows absent from the thesis are appended as ``reproduced only``.
    Columns are ``<column> | reported``, ``<column> | reproduced``, ``<column> | Δ``.
    """
    keys = list(key_columns or reported_table.attrs.get("key_columns") or [])
    if not keys:
        raise ValueError("compare needs the label (key) columns of the table")
    missing = [k for k in keys if k not in reproduced.columns]
    if missing:
        raise ValueError(f"reproduced table lacks label columns {missing}; expected {keys}")
    numeric = [c for c in reported_table.columns if c not in keys]
    unknown = [c for c in reproduced.columns if c not in keys and c not in numeric]
    if unknown:
        raise ValueError(f"reproduced columns {unknown} are not in the reported table; its columns: {numeric}")
    left = reported_table[keys + numeric].astype({k: str for k in keys})
    right = reproduced.astype({k: str for k in keys})
    if right.duplicated(keys).any():
        raise ValueError(f"reproduced table has duplicate rows for labels {keys}")
    merged = left.merge(right, on=keys, how="outer", suffixes=("", " \0reproduced"), indicator=True, sort=False)
    order = {tuple(r): i for i, r in enumerate(left[keys].itertuples(index=False))}
    merged["_order"] = [order.get(tuple(r), len(order)) for r in merged[keys].itertuples(index=False)]
    merged = merged.sort_values("_order", kind="stable").reset_index(drop=True)
    out = merged[keys].copy()
    for column in numeric:
        produced = merged[f"{column} \0reproduced"] if column in right.columns else pd.Series(np.nan, index=merged.index)
        out[f"{column} | reported"] = merged[column]
        out[f"{column} | reproduced"] = produced.astype(float).round(4)
        out[f"{column} | Δ"] = (produced.astype(float) - merged[column]).round(4)
    status = merged["_merge"].map({"both": REPRODUCED, "left_only": NOT_RUN, "right_only": EXTRA}).astype(str)
    produced = out[[f"{c} | reproduced" for c in numeric]].notna().to_numpy()
    printed = out[[f"{c} | reported" for c in numeric]].notna().to_numpy()
    status[(status == REPRODUCED) & ~produced.any(axis=1)] = NOT_RUN
    # partly: a number the thesis prints is missing (cells the thesis leaves empty do not count)
    status[(status == REPRODUCED) & (printed & ~produced).any(axis=1)] = PARTIAL
    out[STATUS_COLUMN] = status
    # numbers the thesis prints centred over two columns (Micro|Macro): which one they report is
    # unspecified, so they get no Δ and a note column says why
    spanning = reported_table.attrs.get("spanning", [])
    if spanning:
        notes = pd.Series("", index=out.index)
        for cell in spanning:
            row = (out[list(cell["labels"])].astype(str) == pd.Series(cell["labels"])).all(axis=1)
            left_column, right_column = cell["columns"]
            text = f"{left_column}|{right_column}: {cell['printed']} printed centred (averaging unspecified), no Δ"
            notes[row] = [f"{note}; {text}" if note else text for note in notes[row]]
        out[NOTE_COLUMN] = notes
    return out


def _cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def _markdown(frame: pd.DataFrame, title: str, footer: str) -> str:
    body = frame.map(_cell_text).to_markdown(index=False, disable_numparse=True)
    return f"**{title}**\n\n{body}\n\n{footer}\n"


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(char, char) for char in text)


def _latex(frame: pd.DataFrame, title: str, label: str) -> str:
    styler = frame.map(_cell_text).style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    return styler.to_latex(caption=_latex_escape(title), label=label, hrules=True, position="htbp")


def save_table(table_id: str, reproduced: pd.DataFrame | None = None, *, reported_id: str | None = None,
               paper: str | None = None, caption: str | None = None, data_fingerprint: str | None = None,
               wall_time_s: float | None = None, measured: bool = False) -> pd.DataFrame:
    """Write a table to ``figures/tables/<table_id>.{csv,md,tex}`` and record it in index.json.

    ``measured``: the reproduced numbers are wall-clock measurements (Tables C.6, D.7: ms per
    frame), which differ from machine to machine and from one cold run to the next. Such a table
    goes to ``figures/timings/`` instead, with the machine it was measured on in its record
    (:func:`machine`), so that every file under ``figures/tables/`` is byte-identical between two
    runs of a profile.

    - ``reproduced`` only, with no reported counterpart: the table as given.
    - a reported table (``reported_id`` defaults to ``table_id`` when the thesis has that table)
      and no ``reproduced``: the printed table, as transcribed.
    - both: the reported / reproduced / Δ layout of :func:`compare`.

    Returns the frame that was written. ``data_fingerprint`` defaults to the fingerprint of the
    transcribed CSV for reported-only tables.
    """
    known = set(reported.index().table_id)
    reported_id = reported_id or (table_id if table_id in known else None)
    if reported_id is None and reproduced is None:
        raise ValueError(f"table {table_id!r} is neither a reported table nor given as reproduced data")
    meta: dict[str, Any] = reported.info(reported_id) if reported_id else {}
    paper = paper or meta.get("paper")
    caption = caption or meta.get("caption", "")
    if reported_id and reproduced is None:
        frame, layout = reported.load_printed(reported_id), "reported"
        if data_fingerprint is None:
            data_fingerprint = fingerprint([reported.source_path(reported_id)])
    elif reported_id:
        frame, layout = compare(reported.load_table(reported_id), reproduced), "reported-vs-reproduced"
    else:
        frame, layout = reproduced, "reproduced"
    frame = frame.reset_index(drop=True)
    frame.attrs = {}
    directory = paths.timings_dir() if measured else paths.tables_dir()
    source = f"Reported: {meta['seed']} lines {meta['lines']}." if meta else ""
    profile = (f"Reproduced with the `{_current.profile}` profile." if layout == "reported-vs-reproduced"
               and _current.profile else "")
    timing = "Timings measured on this machine (see index.json); they vary between machines and runs." \
        if measured else ""
    footer = " ".join(s for s in (source, profile, timing) if s)
    title = f"Table {table_id}. {caption}".strip()
    texts = {"csv": frame.to_csv(index=False, lineterminator="\n"), "md": _markdown(frame, title, footer),
             "tex": _latex(frame, title, f"tab:{table_id}")}  # render all before writing any
    files = []
    for ext, text in texts.items():
        files.append(directory / f"{table_id}.{ext}")
        atomic_write_text(files[-1], text)
    extra = {"layout": layout, "reported_id": reported_id}
    if measured:
        extra.update(measured=True, machine=machine())
    _record(f"table:{table_id}", "table", paper, files, data_fingerprint, wall_time_s, extra)
    return frame


def machine() -> dict[str, Any]:
    """What a timing depends on: processor, cores, torch's math threads, GPU (if any), platform."""
    import platform

    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count()}
    try:
        import torch
    except ImportError:
        return info
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# ----------------------------------------------------------------------------------------- figures

def save_figure(fig, figure_id: str, paper: str, *, data_fingerprint: str | None = None,
                wall_time_s: float | None = None) -> list[Path]:
    """Write ``figures/<paper>/<figure_id>.{png,pdf}`` at :data:`FIGURE_DPI` and record it."""
    directory = paths.figures_dir() / paper
    files = []
    for ext, metadata in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Creator": None, "Producer": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=FIGURE_DPI, bbox_inches="tight", metadata=metadata)
        path = directory / f"{figure_id}.{ext}"
        atomic_write_bytes(path, buffer.getvalue())
        files.append(path)
    _record(f"figure:{paper}/{figure_id}", "figure", paper, files, data_fingerprint, wall_time_s, {})
    return files
