"""A record of every file of a dataset directory, written when vadlib fetched or generated it.

``<dataset>/.vadlib-record.json`` lists each file's size and sha256. ``check_record`` compares the
directory against it: sizes only (fast, for ``vadlib data status``) or full checksums (for
``vadlib data verify``). A dataset a user copied in by hand has no record; then only its layout
can be checked.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

RECORD_NAME = ".vadlib-record.json"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != RECORD_NAME:
            yield path


def write_record(directory: Path, source: str, **details: Any) -> dict:
    """Write the record of ``directory``; ``source`` is 'download' or 'synthetic'."""
    directory = Path(directory)
    files = {path.relative_to(directory).as_posix(): [path.stat().st_size, sha256_of(path)]
             for path in iter_files(directory)}
    record = {"source": source, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              **details, "files": files}
    target = directory / RECORD_NAME
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(temporary, target)
    return record


def read_record(directory: Path) -> dict | None:
    path = Path(directory) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {"files": {}, "broken": True}


def check_record(directory: Path, deep: bool = False) -> list[str]:
    """Problems found comparing ``directory`` with its record: missing, resized or altered files.

    Returns an empty list when the directory matches, or when it has no record at all.
    """
    record = read_record(directory)
    if record is None:
        return []
    if record.get("broken"):
        return [f"{RECORD_NAME} is unreadable"]
    problems = []
    for relative, (size, checksum) in sorted(record["files"].items()):
        path = Path(directory) / relative
        if not path.is_file():
            problems.append(f"missing {relative}")
        elif path.stat().st_size != size:
            problems.append(f"{relative} has {path.stat().st_size} bytes, recorded {size}")
        elif deep and sha256_of(path) != checksum:
            problems.append(f"{relative} differs from its recorded sha256")
    return problems


def fingerprint(directory: Path) -> str:
    """A cheap identity of a dataset directory for provenance.

    With a record: the sha256 of the record (which lists every file's sha256). Without one (a set
    copied in by hand): names, sizes and modification times, so fingerprinting never reads a
    hundred gigabytes.
    """
    directory = Path(directory)
    record = directory / RECORD_NAME
    if record.is_file():
        return "sha256:" + sha256_of(record)
    digest = hashlib.sha256()
    for path in iter_files(directory):
        info = path.stat()
        digest.update(f"{path.relative_to(directory).as_posix()}\0{info.st_size}\0{int(info.st_mtime)}\n".encode())
    return "sha256:" + digest.hexdigest()
