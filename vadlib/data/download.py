"""Downloading and unpacking datasets: pooch with sha256 checks, resumable transfers, and
extraction that cannot write outside its target.

* :class:`ResumableDownloader` is a pooch downloader that keeps the bytes received so far in
  ``<file>.part`` and asks the server for the rest (HTTP ``Range``) when a transfer is retried
  after an interruption. pooch checks the sha256 of the finished file and deletes it when it does
  not match, so a corrupt or tampered archive is never kept.
* :func:`safe_extract` refuses a whole archive (:class:`UnsafeArchiveError`) when any member has an
  absolute path, climbs out with ``..``, is a link pointing outside the target, or is a device
  file. It unpacks into a temporary directory beside the target and moves the result into place,
  so an interrupted extraction leaves nothing half-written in the dataset directory.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import pooch
import requests
from tqdm.auto import tqdm

from vadlib.data.manifests import FileEntry, Manifest

CHUNK = 1 << 13  # small reads: an interrupted transfer keeps all but its last chunk


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the extraction directory."""


class ResumableDownloader:
    """A pooch downloader that resumes interrupted transfers from ``<output>.part``.

    pooch hands the downloader a temporary file name, which differs between attempts; the partial
    data therefore lives under the final name (``part_path``), fixed per file.
    """

    def __init__(self, part_path: Path, progressbar: bool = True, timeout: float = 60.0):
        self.part_path = Path(part_path)
        self.progressbar = progressbar
        self.timeout = timeout

    def __call__(self, url: str, output_file, pooch_object=None, check_only: bool = False):
        if check_only:
            response = requests.head(url, timeout=self.timeout, allow_redirects=True)
            return response.status_code == 200
        have = self.part_path.stat().st_size if self.part_path.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as response:
            if have and response.status_code == 416:  # the part file already holds everything
                pass
            else:
                response.raise_for_status()
                if have and response.status_code != 206:  # server ignored Range: start over
                    have = 0
                total = int(response.headers.get("Content-Length", 0)) + have or None
                mode = "ab" if have else "wb"
                with open(self.part_path, mode) as part, tqdm(
                        total=total, initial=have, unit="B", unit_scale=True, leave=False,
                        desc=Path(self.part_path.name).stem, disable=not self.progressbar) as bar:
                    for block in response.iter_content(CHUNK):
                        part.write(block)
                        bar.update(len(block))
        shutil.move(str(self.part_path), str(output_file))


def download(entry: FileEntry, directory: Path, progressbar: bool = True, retries: int = 3) -> Path:
    """Download one manifest file into ``directory`` (resuming, sha256-checked); returns its path.

    A file already present with the right checksum is not downloaded again. A transfer that
    breaks off is resumed up to ``retries`` times from the bytes already received. Without a
    published sha256 the download is accepted as is and pooch logs the hash it computed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    known_hash = f"sha256:{entry.sha256}" if entry.sha256 else None
    part = directory / f"{entry.name}.part"
    for attempt in range(retries + 1):
        try:
            path = pooch.retrieve(entry.url, known_hash=known_hash, fname=entry.name, path=directory,
                                  downloader=ResumableDownloader(part, progressbar=progressbar))
            return Path(path)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.Timeout):
            if attempt == retries:
                raise
    raise AssertionError("unreachable")


def _check_member(name: str, target: Path) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchiveError(f"absolute path in archive: {name!r}")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"path climbs out of the target: {name!r}")
    resolved = (target / path).resolve()
    if resolved != target.resolve() and target.resolve() not in resolved.parents:
        raise UnsafeArchiveError(f"path escapes the target: {name!r}")
    return path


def check_archive(archive: Path, target: Path) -> None:
    """Raise :class:`UnsafeArchiveError` if any member of ``archive`` is unsafe to extract."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                _check_member(info.filename, target)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(f"symbolic link in zip archive: {info.filename!r}")
        return
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            path = _check_member(member.name, target)
            if member.issym() or member.islnk():
                base = PurePosixPath() if member.islnk() else path.parent
                link = PurePosixPath(member.linkname)
                normalized = posixpath.normpath((base / link).as_posix())
                if link.is_absolute() or normalized == ".." or normalized.startswith("../"):
                    raise UnsafeArchiveError(
                        f"link {member.name!r} points outside the target: {member.linkname!r}")
            elif not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(f"special file in archive: {member.name!r}")


def safe_extract(archive: Path, target: Path, strip: int = 0) -> list[Path]:
    """Unpack ``archive`` (zip or tar, any compression) into ``target``; returns the entries moved.

    Every member is checked first; one unsafe member rejects the archive and nothing is written.
    ``strip`` drops that many leading path components (like ``tar --strip-components``).
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    check_archive(archive, target)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(scratch)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(scratch, filter="data")
        root = scratch
        for _ in range(strip):
            children = [child for child in root.iterdir()]
            if len(children) != 1 or not children[0].is_dir():
                raise UnsafeArchiveError(
                    f"cannot strip a path component from {archive.name}: "
                    f"{len(children)} entries at that level")
            root = children[0]
        moved = []
        for child in sorted(root.iterdir()):
            destination = target / child.name
            if destination.is_dir() and child.is_dir():
                _merge(child, destination)
            else:
                os.replace(child, destination)
            moved.append(destination)
        return moved
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _merge(source: Path, destination: Path) -> None:
    for child in source.iterdir():
        target = destination / child.name
        if child.is_dir() and target.is_dir():
            _merge(child, target)
        else:
            os.replace(child, target)


def fetch(manifest: Manifest, data_root: Path, keep_archives: bool = False,
          progressbar: bool = True) -> Path:
    """Download and unpack every file of a direct-access dataset; returns the dataset directory.

    Archives go to ``<data_root>/downloads/`` and are removed after a successful extraction unless
    ``keep_archives``; files with ``extract: false`` are placed in the dataset directory as they
    are. The dataset directory gets an integrity record afterwards.
    """
    from vadlib.data.integrity import write_record
    if manifest.access != "direct":
        raise ValueError(f"{manifest.name} needs {manifest.access}; it cannot be downloaded automatically")
    downloads = Path(data_root) / "downloads"
    target = manifest.path(data_root)
    fetched = []
    for entry in manifest.files:
        archive = download(entry, downloads, progressbar=progressbar)
        if entry.extract:
            safe_extract(archive, target, strip=entry.strip)
            if not keep_archives:
                archive.unlink()
        else:
            target.mkdir(parents=True, exist_ok=True)
            if keep_archives:
                shutil.copy2(archive, target / entry.name)
            else:
                os.replace(archive, target / entry.name)
        fetched.append({"name": entry.name, "url": entry.url, "sha256": entry.sha256})
    write_record(target, "download", dataset=manifest.name, archives=fetched)
    return target
