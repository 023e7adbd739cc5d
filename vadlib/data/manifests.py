"""Dataset manifests: one YAML file per dataset in ``data_manifests/<name>.yaml``.

Schema (keys in this order; ``null`` where a value is not public or not known)::

    name: avenue                      # the file's stem; what `vadlib data ... NAME` takes
    title: CUHK Avenue
    papers: [C, D, E]                 # thesis papers that use it
    homepage: http://...
    licence: "..."                    # as stated by the provider; 'not stated' when it is not
    access: direct                    # direct | manual | registration | request
                                      #   direct: a plain URL serves the archive (`vadlib data fetch`)
                                      #   manual: only a cloud-drive link a browser must follow
                                      #   registration: a form, account or licence agreement first
                                      #   request: only by asking the authors
    directory: avenue                 # folder under the data root
    files:                            # what `vadlib data fetch` downloads (direct access only)
      - name: Avenue_Dataset.zip
        url: http://...
        sha256: fc9c...               # or null
        size: 1234567                 # bytes, or null
        unpacked_size: 2345678        # optional: bytes after extraction, the most `fetch` unpacks
                                      #   (without it: 100 times `size`, see download.ExtractionLimits)
        extract: true                 # unpack into the dataset directory
        strip: 1                      # leading path components dropped on extraction (default 0)
        hash_source: "..."            # where the checksum was published
    steps: |                          # registration / request: exactly what a person does
      1. ...
    layouts:                          # expected layout after extraction; any one variant suffices
      frames:                         # variant name
        - {pattern: "training/frames/*/*.jpg", count: 15328, what: "training frames"}
    layout_tree: |                    # the same, drawn as a tree for error messages and docs
      avenue/
        training/frames/01/0000.jpg ...
    splits: |                         # the split definitions the thesis uses
      ...
    thesis_protocol: |                # what the thesis states, what it leaves open, our choice
      ...
    synthetic: true                   # whether `vadlib data synth` can write a twin
    citation: |
      @inproceedings{...}

``pattern`` is a glob relative to the dataset directory; ``count`` is the number of matches in the
complete official release (``null`` when not known), used by ``vadlib data status`` to tell a
complete set from a partial copy.
"""

from __future__ import annotations

import functools
import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vadlib import paths

MANIFEST_DIR = paths.REPO_ROOT / "data_manifests"
ACCESS_KINDS = ("direct", "manual", "registration", "request")
REQUIRED_KEYS = ("name", "title", "papers", "homepage", "licence", "access", "directory", "files",
                 "layouts", "layout_tree", "splits", "citation")


@dataclass(frozen=True)
class FileEntry:
    name: str
    url: str
    sha256: str | None = None
    size: int | None = None
    unpacked_size: int | None = None
    extract: bool = True
    strip: int = 0
    hash_source: str | None = None


@dataclass(frozen=True)
class LayoutEntry:
    pattern: str
    count: int | None
    what: str

    def matches(self, directory: Path) -> list[str]:
        return glob.glob(self.pattern, root_dir=directory, recursive=True)


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    papers: tuple[str, ...]
    homepage: str
    licence: str
    access: str
    directory: str
    files: tuple[FileEntry, ...]
    layouts: dict[str, tuple[LayoutEntry, ...]]
    layout_tree: str
    splits: str
    citation: str
    steps: str = ""
    thesis_protocol: str = ""
    synthetic: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self, data_root: Path | None = None) -> Path:
        return Path(data_root or paths.data_root()) / self.directory


def manifest_names() -> list[str]:
    return sorted(path.stem for path in MANIFEST_DIR.glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def _load(path: Path, mtime: float) -> Manifest:
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a manifest must be a mapping")
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{path}: missing keys {', '.join(missing)}")
    if raw["name"] != path.stem:
        raise ValueError(f"{path}: name {raw['name']!r} differs from the file name")
    if raw["access"] not in ACCESS_KINDS:
        raise ValueError(f"{path}: access must be one of {', '.join(ACCESS_KINDS)}")
    known = set(REQUIRED_KEYS) | {"steps", "thesis_protocol", "synthetic"}
    layouts = {variant: tuple(LayoutEntry(e["pattern"], e.get("count"), e.get("what", ""))
                              for e in entries)
               for variant, entries in (raw["layouts"] or {}).items()}
    return Manifest(
        name=raw["name"], title=raw["title"], papers=tuple(raw["papers"] or ()),
        homepage=raw["homepage"], licence=raw["licence"], access=raw["access"],
        directory=raw["directory"], files=tuple(FileEntry(**entry) for entry in raw["files"] or ()),
        layouts=layouts, layout_tree=raw["layout_tree"] or "", splits=raw["splits"] or "",
        citation=raw["citation"] or "", steps=raw.get("steps") or "",
        thesis_protocol=raw.get("thesis_protocol") or "", synthetic=bool(raw.get("synthetic")),
        extra={key: value for key, value in raw.items() if key not in known})


def load_manifest(name: str) -> Manifest:
    """The manifest of ``name``; ``KeyError`` listing the known names when there is none."""
    path = MANIFEST_DIR / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"no dataset named {name!r}; datasets: {', '.join(manifest_names())}")
    return _load(path, path.stat().st_mtime)


def all_manifests() -> list[Manifest]:
    return [load_manifest(name) for name in manifest_names()]
