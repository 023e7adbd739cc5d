"""Paper C (notebook 03): which runs fill SSPCAB's Tables C.1–C.6, and how.

* C.1, C.4, C.5: ablations of the block inside the plain auto-encoder on Avenue, one run per
  printed row (:data:`ABLATIONS`; :func:`ablation_table`);
* C.2: DRAEM and CutPaste 3-way ± SSPCAB per MVTec AD class, plus CutPaste's five-seed ensemble
  (:data:`TABLE_C2`; :func:`table_c2`);
* C.3: FFP and MNAD ± SSPCAB on Avenue and ShanghaiTech (:data:`C3`; :func:`comparison_table`);
* C.6: FFP's test time per frame ± SSPCAB (:func:`vadlib.runs.video_ad.measured_speed`, then
  :func:`~vadlib.papers.video_tables.timing_row`).

The runs themselves are :class:`vadlib.runs.image_ad.ImageAnomalyRun` and
:class:`vadlib.runs.video_ad.VideoAnomalyRun`; the names the notebook uses beside the tables
(examples, labels, variants, figures' data) are imported here from those modules.
"""

from __future__ import annotations

import pandas as pd

from vadlib.papers.video_tables import ATTENTION, LOSSES, blank, dataset_columns, explorer, integer, side, timing_row
from vadlib.runs import image_ad, video_ad
from vadlib.runs.image_ad import TableSpec, class_display, model_label, mvtec_classes, run_examples
from vadlib.runs.video_ad import (BASELINE, AblationSpec, ComparisonSpec, Variant, frame_scores,
                                  measured_speed)

__all__ = ["ABLATIONS", "BASELINE", "C3", "TABLE_C2", "Variant", "ablation_table", "class_display",
           "SPEED_VARIANTS", "comparison_table", "explorer", "measurements", "frame_scores", "measured_speed", "model_label", "mvtec_classes",
           "plan", "run_examples", "table_c2", "timing_row"]

TABLE_C2 = TableSpec("C.2", tuple(
    [(h, b, m) for m in ("loc_auroc", "loc_ap", "det_auroc") for h, b in (("draem", None), ("draem", "sspcab"))]
    + [("cutpaste", b, "det_auroc") for b in (None, "sspcab")]), ensemble=True)


# One function per ablation table: a printed row → the Variant it describes (None: cannot be run).
def _c1(row) -> Variant | None:
    if blank(row["Loss type"]):
        return BASELINE
    options = {"loss": LOSSES[row["Loss type"]], "dilation": integer(row["d"]), "kernel_size": integer(row["k'"]),
               "attention": ATTENTION[row["Attention type"].strip()]}
    if not blank(row["r"]):
        options["reduction"] = integer(row["r"])
    return Variant("sspcab", "late", tuple(sorted(options.items())))


def _c4(row) -> Variant | None:
    chosen = [name.lower() for name in ("Early", "Middle", "Late") if not blank(row[name])]
    return Variant("sspcab", "+".join(chosen)) if chosen else BASELINE


def _c5(row) -> Variant | None:
    if blank(row["Size of M"]):
        return BASELINE
    return Variant("sspcab", "late", (("mask_size", side(row["Size of M"])),))


ABLATIONS = {
    "C.1": AblationSpec("C.1", "plain_ae", "avenue", _c1),
    "C.4": AblationSpec("C.4", "plain_ae", "avenue", _c4),
    "C.5": AblationSpec("C.5", "plain_ae", "avenue", _c5),
}

# Method comparison: the printed rows vadlib runs (label, host, Variant), on both datasets.
C3 = ComparisonSpec("C.3", (
    ("Liu et al. [35]", "ffp", BASELINE), ("Liu et al. [35] + SSPCAB", "ffp", Variant("sspcab")),
    ("Park et al. [21]", "mnad", BASELINE), ("Park et al. [21] + SSPCAB", "mnad", Variant("sspcab")),
    ("Liu et al. [17]", "hf2vad", BASELINE), ("Liu et al. [17] + SSPCAB", "hf2vad", Variant("sspcab")),
    ("Georgescu et al. [12]", "georgescu", BASELINE), ("Georgescu et al. [12] + SSPCAB", "georgescu", Variant("sspcab"))),
    dataset_columns("avenue", "shanghaitech"), limited_hosts=("hf2vad", "georgescu"))


def ablation_table(settings, table_id: str) -> pd.DataFrame:
    """Reproduced rows of ablation table ``table_id`` (C.1, C.4 or C.5), in %."""
    return video_ad.ablation_table(settings, ABLATIONS[table_id])


def table_c2(settings) -> pd.DataFrame:
    """Reproduced cells of Table C.2 (in %), one row per MVTec AD class that was run."""
    return image_ad.mvtec_table(settings, TABLE_C2)


def comparison_table(settings, table_id: str = "C.3") -> pd.DataFrame:
    """Reproduced rows of Table C.3 (in %): FFP, MNAD, HF2-VAD and Georgescu et al. ± SSPCAB."""
    if table_id != C3.table_id:
        raise KeyError(f"Paper C has one comparison table, C.3; got {table_id!r}")
    return video_ad.comparison_table(settings, C3)


#: the variants Table C.6 times, per host: FFP per frame, Georgescu et al. per object
SPEED_VARIANTS = {host: {"baseline": BASELINE, "+SSPCAB": Variant("sspcab")} for host in ("ffp", "georgescu")}


def measurements(settings) -> list:
    """The speed measurements notebook 03 makes (Table C.6), as cached runs: an executor makes
    them where the runs go (the GPU nodes), not where the notebook runs."""
    return [video_ad.speed_measurement(settings, host, variants) for host, variants in SPEED_VARIANTS.items()]


def plan(settings) -> list:
    """Every run notebook 03 makes: the image runs of C.2, then the video runs of C.1, C.4, C.5
    and C.3 (each once, in that order)."""
    video = [run for table in ("C.1", "C.4", "C.5") for run in video_ad.ablation_runs(settings, ABLATIONS[table])]
    return image_ad.mvtec_runs(settings, TABLE_C2) + list(dict.fromkeys(video + video_ad.comparison_runs(settings, C3)))
