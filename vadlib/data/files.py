"""Reading one file of a dataset so that a damaged file fails with a :class:`DatasetFileError`
naming the dataset and the file, never with a bare decoder error or, worse, with silently wrong
data.

* :func:`decode_image` reads an image with OpenCV and refuses a truncated JPEG, which OpenCV
  would otherwise decode without error, greying out the missing rows (it only prints a warning).
  The file is read once; the check looks at the last two bytes, so valid frames cost what
  :func:`cv2.imread` costs.
* :func:`open_image` opens an image with PIL; PIL itself raises on a truncated file when the
  pixels are loaded (unless someone set ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES``), and this turns
  that into a named error.
* :func:`read_text` and :func:`load_npy` read annotation files; :func:`reading` wraps any other
  reader (MATLAB files, NIfTI volumes, CSV tables).
"""

from __future__ import annotations

import struct
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from vadlib.data.errors import DatasetError, DatasetFileError

READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,        # missing or unreadable file, PIL's "image file is truncated", bad gzip header
    ValueError,     # UnicodeDecodeError, numpy's "pickled data" refusal, MATLAB's unknown file type
    EOFError,       # a gzip stream cut short (truncated .nii.gz)
    SyntaxError,    # PIL reports some malformed headers so
    zlib.error,     # a corrupt deflate stream (PNG, .npz, .nii.gz, MATLAB v7)
    struct.error,   # a header shorter than its format
)
"""What reading a damaged file raises, across the readers the loaders use."""

_JPEG_START, _JPEG_END, _JPEG_SCAN = b"\xff\xd8", b"\xff\xd9", b"\xff\xda"


def _reason(error: BaseException, path: str | Path) -> str:
    """The reader's own words, without the file name that the message already starts with."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    text = " ".join(text.split()).removeprefix(f"{path}: ").removeprefix(f"{path} ")
    return text or type(error).__name__


@contextmanager
def reading(dataset: str, root: str | Path | None, path: str | Path, what: str = "file",
            errors: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn the errors of reading ``path`` into a :class:`DatasetFileError` naming it.

    ``errors`` adds exception types of a particular reader (nibabel's ``ImageFileError``,
    scipy's ``MatReadError``). A :class:`DatasetError` raised inside passes unchanged.
    """
    try:
        yield
    except DatasetError:
        raise
    except (*READ_ERRORS, *errors) as error:
        raise DatasetFileError(dataset, root, path, f"cannot read this {what}: {_reason(error, path)}") from None


def read_text(path: str | Path, dataset: str, root: str | Path | None = None,
              what: str = "annotation file") -> str:
    """The UTF-8 text of ``path``; :class:`DatasetFileError` for a missing or binary file."""
    with reading(dataset, root, path, what):
        return Path(path).read_text()


def load_npy(path: str | Path, dataset: str, root: str | Path | None = None,
             what: str = "label file") -> np.ndarray:
    """The array in a ``.npy`` file (pickles refused); :class:`DatasetFileError` when the file is
    not one (garbage, truncated, or a pickled object array)."""
    with reading(dataset, root, path, what):
        return np.load(path, allow_pickle=False)


def jpeg_is_complete(data: np.ndarray | bytes) -> bool:
    """Whether JPEG bytes hold their end-of-image marker after the last scan.

    The fast path is the marker as the last two bytes. Otherwise (trailing padding or data
    after the image, or a truncated file) the marker must follow the last start-of-scan: inside
    entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so neither
    marker can occur there, and the end marker of an embedded EXIF thumbnail lies before it.
    """
    view = memoryview(data).cast("B")
    if bytes(view[-2:]) == _JPEG_END:
        return True
    raw = bytes(view)
    return raw.rfind(_JPEG_END) > raw.rfind(_JPEG_SCAN) >= 0


def decode_image(path: str | Path, flag: int, dataset: str,
                 root: str | Path | None = None) -> np.ndarray:
    """``cv2.imread(path, flag)``, refusing missing, undecodable and truncated files by name.

    Decodes exactly as :func:`cv2.imread` does (the same decoder, fed the same bytes).
    """
    import cv2

    with reading(dataset, root, path, "image"):
        data = np.fromfile(path, dtype=np.uint8)
    if data[:2].tobytes() == _JPEG_START and not jpeg_is_complete(data):
        raise DatasetFileError(dataset, root, path, "truncated JPEG image (no end-of-image marker "
                               "after its last scan)")
    image = cv2.imdecode(data, flag) if data.size else None
    if image is None:
        raise DatasetFileError(dataset, root, path, "cannot decode this image (empty, truncated, "
                               "corrupt or not an image)")
    return image


@contextmanager
def open_image(path: str | Path, dataset: str, root: str | Path | None = None):
    """``PIL.Image.open(path)`` as a context manager whose body's decoding errors (PIL decodes
    lazily, on ``convert`` or ``load``) become a :class:`DatasetFileError` naming the file."""
    from PIL import Image

    with reading(dataset, root, path, "image"), Image.open(path) as image:
        yield image
