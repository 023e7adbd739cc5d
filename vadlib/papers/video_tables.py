"""What the video tables of Papers C and D share: reading a printed ablation row, naming a
comparison table's dataset columns, a timing row, and the video figures of a set of runs.

Papers C (:mod:`vadlib.papers.c_sspcab`) and D (:mod:`vadlib.papers.d_ssmctb`) print their tables
in the same conventions (the same words for a loss or an attention, "3×3" for a region, "Avenue
Micro AUC"-style column groups), so their row parsers share these pieces.
"""

from __future__ import annotations

import math

import pandas as pd

from vadlib.models.registry import host_class
from vadlib.plots import video as video_plots
from vadlib.runs import video_ad
from vadlib.runs.video_ad import Variant

#: printed attention / loss names -> the block's constructor values
ATTENTION = {"-": "none", "CA": "ca", "SA": "sa", "CA+SA": "ca+sa", "CA + SA": "ca+sa"}
LOSSES = {"MAE": "mae", "MSE": "mse", "SSIM": "ssim", "Huber": "huber"}

#: dataset -> the prefix of its columns in a method-comparison table ("Avenue AUC Micro")
DATASET_PREFIX = {"avenue": "Avenue ", "shanghaitech": "ShanghaiTech ", "thermal_rare_event": ""}


def blank(value) -> bool:
    """A cell the thesis leaves empty ('', '-', NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() in ("", "-")


def integer(value) -> int:
    """'4' or 4.0 → 4."""
    return int(float(str(value).strip()))


def side(value) -> int:
    """'3×3' → 3."""
    return integer(str(value).split("×")[0])


def dataset_columns(*datasets: str) -> tuple[tuple[str, str], ...]:
    """(dataset, column prefix) pairs of a comparison table's column groups, in printed order."""
    return tuple((dataset, DATASET_PREFIX[dataset]) for dataset in datasets)


def timing_row(speeds: pd.DataFrame, method: str, columns: dict[str, str],
               expansion: tuple[str, str] | None = None) -> pd.DataFrame:
    """One row of Table C.6 / D.7 from :func:`vadlib.runs.video_ad.speed`: printed column ->
    variant label (test ms per example: a frame, or an object for an object-centric host), plus optionally (printed column, variant) for the
    relative expansion."""
    by_variant = speeds.set_index("Variant")
    row = {"Method": method, **{column: by_variant.loc[label, "test ms per example"] for column, label in columns.items()}}
    if expansion:
        row[expansion[0]] = by_variant.loc[expansion[1], "test relative expansion (%)"]
    return pd.DataFrame([row])


def explorer(settings, host: str, dataset: str, variants: dict[str, Variant]):
    """:func:`vadlib.plots.video.explorer` of the runs of ``host`` with each variant on ``dataset``:
    the first test video whose maps they kept."""
    return video_plots.explorer(video_ad.frame_scores(settings, host, dataset, variants),
                                video_ad.example_maps(settings, host, dataset, variants),
                                video_ad.frame_reader(settings, dataset),
                                title=f"{host_class(host).label} on {dataset}")
