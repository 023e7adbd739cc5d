"""Downloading and unpacking datasets: pooch with sha256 checks, resumable transfers, and
extraction that cannot write outside its target.

* :class:`ResumableDownloader` is a pooch downloader that keeps the bytes received so far in
  ``<file>.part`` and asks the server for the rest (HTTP ``Range``) when a transfer is retried
  after an interruption. pooch checks the sha256 of the finished file and deletes it when it does
  not match, so a corrupt or tampered archive is never kept.
* :func:`safe_extract` refuses a whole archive (:class:`UnsafeArchiveError`) when any member has an
  absolute path, climbs out with ``..``, is a link pointing outside the target, or is a device
  file; tar members also pass tarfile's ``data`` filter, which resolves links as they are written
  and so catches a chain of links that leads out only when followed. It unpacks into a temporary
  directory beside the target and moves the result into place, so an interrupted or refused
  extraction leaves nothing half-written in the dataset directory.
* Extraction is bounded (:class:`ExtractionLimits`, :class:`ArchiveTooLargeError`): an archive may
  unpack to at most the size its manifest declares (``unpacked_size``) or, without one, to at most
  :data:`DEFAULT_MAX_RATIO` times its own size and never more than :data:`DEFAULT_MAX_BYTES`. The
  sizes in the members' headers are checked before anything is written, and the bytes are counted
  again while they are written, so a header that understates its member does not get through.
* :func:`fetch` reports every failure (a server that keeps breaking off after the retries, a
  checksum mismatch, a refused archive) as one :class:`~vadlib.data.errors.DatasetError` naming
  the dataset and the URL or archive.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pooch
import requests
from tqdm.auto import tqdm

from vadlib.data.errors import DatasetError
from vadlib.data.manifests import FileEntry, Manifest

CHUNK = 1 << 13  # small reads: an interrupted transfer keeps all but its last chunk
COPY_CHUNK = 1 << 20
DEFAULT_MAX_RATIO = 100.0
"""Most bytes an archive may unpack to per byte of its own, when its manifest declares no unpacked
size. Archives of images and videos unpack to about their own size and those of text or sparse
masks to some tens of times it; a zip or gzip bomb of zeros reaches about a thousand."""
DEFAULT_MAX_BYTES = 1 << 40
"""Most bytes (1 TiB) any archive may unpack to when its manifest declares no unpacked size."""


class UnsafeArchiveError(ValueError):
    """An archive that must not be unpacked: a member would land outside the extraction
    directory, is a device file, or the archive unpacks to more than its limits allow."""


class ArchiveTooLargeError(UnsafeArchiveError):
    """An archive that unpacks to more bytes than :class:`ExtractionLimits` allow (a zip bomb)."""


class DownloadError(DatasetError):
    """A file of a dataset that could not be downloaded: the message names the URL."""

    def __init__(self, dataset: str, root: Path | None, url: str, problem: str):
        self.url = url
        super().__init__(dataset, root, f"cannot download {url}: {problem}", expected="",
                         hint=f"Run `vadlib data fetch {dataset}` again later: it resumes from the "
                              "bytes received so far.")


@dataclass(frozen=True)
class ExtractionLimits:
    """How much an archive may unpack to: ``max_bytes`` in all and, when ``max_ratio`` is set,
    at most ``max_ratio`` times the archive's own size (``archive_bytes``)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_ratio: float | None = DEFAULT_MAX_RATIO
    archive_bytes: int | None = None

    @classmethod
    def for_entry(cls, entry: FileEntry, archive: Path) -> "ExtractionLimits":
        """The limits of a manifest file: exactly its declared ``unpacked_size`` when there is one,
        else the default ratio applied to its declared ``size`` (or, undeclared, the file's)."""
        if entry.unpacked_size is not None:
            return cls(max_bytes=int(entry.unpacked_size), max_ratio=None)
        return cls(archive_bytes=entry.size or Path(archive).stat().st_size)

    def allowed(self, archive: Path) -> int:
        """The most bytes ``archive`` may unpack to."""
        if self.max_ratio is None:
            return self.max_bytes
        size = self.archive_bytes if self.archive_bytes is not None else Path(archive).stat().st_size
        return min(self.max_bytes, int(self.max_ratio * max(size, 1)))

    def describe(self, archive: Path) -> str:
        if self.max_ratio is None or self.allowed(archive) == self.max_bytes:
            return f"the limit of {_size(self.allowed(archive))}"
        size = self.archive_bytes if self.archive_bytes is not None else Path(archive).stat().st_size
        return (f"{self.max_ratio:g} times the archive's {_size(size)} "
                f"(the limit when the manifest declares no unpacked_size)")


def _size(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class _ByteBudget:
    """Counts the bytes an extraction writes; raises once they exceed the limit."""

    def __init__(self, archive: Path, limits: ExtractionLimits):
        self.archive, self.limits = archive, limits
        self.allowed, self.used = limits.allowed(archive), 0

    def spend(self, count: int, member: str) -> None:
        self.used += count
        if self.used > self.allowed:
            raise ArchiveTooLargeError(
                f"{self.archive.name} unpacks to more than {self.limits.describe(self.archive)} "
                f"(reached at member {member!r}); what it wrote is deleted")

    def copy(self, source: BinaryIO, sink: BinaryIO, member: str) -> None:
        while block := source.read(COPY_CHUNK):
            self.spend(len(block), member)
            sink.write(block)


RETRIED = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout)
"""Transfer failures :func:`download` retries, resuming from the bytes received so far."""


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
        except RETRIED:
            if attempt == retries:
                raise
    raise AssertionError("unreachable")


def _cause(error: BaseException) -> str:
    """The innermost message of a chained library error, in one line: requests wraps urllib3's
    ``ProtocolError('Connection broken: IncompleteRead(...)', ...)`` in tuples of exceptions."""
    first = error.args[0] if error.args else None
    while isinstance(first, BaseException):
        error, first = first, (first.args[0] if first.args else None)
    text = first if isinstance(first, str) else str(error)
    return " ".join(text.split()) or type(error).__name__


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


def check_archive(archive: Path, target: Path, limits: ExtractionLimits | None = None) -> None:
    """Raise :class:`UnsafeArchiveError` if any member of ``archive`` is unsafe to extract, or
    :class:`ArchiveTooLargeError` if the sizes its headers declare exceed ``limits``."""
    archive = Path(archive)
    limits = limits or ExtractionLimits()
    declared = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                _check_member(info.filename, target)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(f"symbolic link in zip archive: {info.filename!r}")
                declared += info.file_size
        _check_declared(archive, declared, limits)
        return
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            declared += member.size if member.isfile() else 0
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
    _check_declared(archive, declared, limits)


def _check_declared(archive: Path, declared: int, limits: ExtractionLimits) -> None:
    if declared > limits.allowed(archive):
        raise ArchiveTooLargeError(
            f"{archive.name} declares {_size(declared)} of content, more than "
            f"{limits.describe(archive)}; nothing was unpacked")


def safe_extract(archive: Path, target: Path, strip: int = 0,
                 limits: ExtractionLimits | None = None) -> list[Path]:
    """Unpack ``archive`` (zip or tar, any compression) into ``target``; returns the entries moved.

    Every member is checked first; one unsafe member rejects the archive and nothing is written.
    ``strip`` drops that many leading path components (like ``tar --strip-components``).
    ``limits`` bound the bytes unpacked (default: :class:`ExtractionLimits` for this file),
    checked against the headers first and counted again while writing.
    """
    archive, target = Path(archive), Path(target)
    limits = limits or ExtractionLimits()
    target.mkdir(parents=True, exist_ok=True)
    check_archive(archive, target, limits)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        budget = _ByteBudget(archive, limits)
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, scratch, budget)
        else:
            _extract_tar(archive, scratch, budget)
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


def _extract_zip(archive: Path, scratch: Path, budget: _ByteBudget) -> None:
    """What ``ZipFile.extractall`` does for the members :func:`check_archive` admits, counting the
    bytes as they are decompressed rather than trusting the sizes in the directory."""
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            destination = scratch / _check_member(info.filename, scratch)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, open(destination, "wb") as sink:
                budget.copy(source, sink, info.filename)


def _extract_tar(archive: Path, scratch: Path, budget: _ByteBudget) -> None:
    """``extractall`` under tarfile's ``data`` filter (which resolves each link against what is
    already written, so a chain of links that leads out is refused), counting each file's bytes
    before it is written: tarfile writes exactly the size in the member's header, no more."""
    def data_filter_with_budget(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo:
        member = tarfile.data_filter(member, destination)
        if member.isfile():
            budget.spend(member.size, member.name)
        return member

    with tarfile.open(archive) as bundle:
        try:
            bundle.extractall(scratch, filter=data_filter_with_budget)
        except tarfile.FilterError as error:
            raise UnsafeArchiveError(f"{archive.name}: {' '.join(str(error).split())}") from None


def _merge(source: Path, destination: Path) -> None:
    for child in source.iterdir():
        target = destination / child.name
        if child.is_dir() and target.is_dir():
            _merge(child, target)
        else:
            os.replace(child, target)


def fetch(manifest: Manifest, data_root: Path, keep_archives: bool = False,
          progressbar: bool = True, retries: int = 3) -> Path:
    """Download and unpack every file of a direct-access dataset; returns the dataset directory.

    Archives go to ``<data_root>/downloads/`` and are removed after a successful extraction unless
    ``keep_archives``; files with ``extract: false`` are placed in the dataset directory as they
    are. The dataset directory gets an integrity record afterwards. A download that still fails
    after ``retries`` resumed attempts raises :class:`DownloadError` naming the URL; an archive
    that is unsafe, too large for its limits or unreadable raises
    :class:`~vadlib.data.errors.DatasetFileError` naming it (it stays in ``downloads/``).
    """
    from vadlib.data.errors import DatasetFileError
    from vadlib.data.integrity import write_record
    if manifest.access != "direct":
        raise ValueError(f"{manifest.name} needs {manifest.access}; it cannot be downloaded automatically")
    downloads = Path(data_root) / "downloads"
    target = manifest.path(data_root)
    if Path(data_root).exists() and not Path(data_root).is_dir():
        raise DatasetError(manifest.name, target, f"the data root {data_root} is a file, not a directory",
                           expected="")
    fetched = []
    for entry in manifest.files:
        try:
            archive = download(entry, downloads, progressbar=progressbar, retries=retries)
        except RETRIED as error:
            raise DownloadError(manifest.name, target, entry.url,
                                f"{_cause(error)} (gave up after {retries + 1} attempts)") from None
        except (requests.RequestException, ValueError) as error:  # HTTP status; pooch: sha256 mismatch
            raise DownloadError(manifest.name, target, entry.url, _cause(error)) from None
        if entry.extract:
            try:
                safe_extract(archive, target, strip=entry.strip,
                             limits=ExtractionLimits.for_entry(entry, archive))
            except UnsafeArchiveError as error:
                raise DatasetFileError(manifest.name, target, archive, f"refused to unpack: {error}") from None
            except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as error:
                raise DatasetFileError(manifest.name, target, archive,
                                       f"cannot unpack: {_cause(error)}") from None
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
