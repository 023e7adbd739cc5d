"""Paper D (notebook 04): which runs fill SSMCTB's Tables D.2–D.12 (and their chapter-5 copies
5.1–5.4), and how.

* D.2, D.8–D.12: ablations of the block inside MNAD on Avenue, one run per printed row
  (:data:`ABLATIONS`; :func:`ablation_table`);
* D.3 (= 5.3): DRAEM and NSA without a block, + SSPCAB and + SSMCTB per MVTec AD class
  (:data:`TABLE_D3`; :func:`table_d3`);
* D.4 (= 5.1): the 2D and 3D hosts on BraTS (:data:`BRATS_ROWS`; :func:`brats_table`);
* D.5 (= 5.4), D.6 (= 5.2): FFP and MNAD without a block, + SSPCAB and + SSMCTB on Avenue and
  ShanghaiTech, MNAD on Thermal Rare Event (:func:`comparison_spec`; :func:`comparison_table`);
* D.7: FFP's test time per frame and 3D DRAEM's per chunk (:func:`table_d7_image`);
* an extra check, not a thesis table: the UCSD Ped2 numbers of seed 003 (Georgescu et al., CVPR
  2021, "SSMTL", the framework SSMTL++ extends) beside SSMTL on Ped2, under quick and full only
  (:data:`PED2_CHECK`; :func:`ped2_table`).
"""

from __future__ import annotations

import pandas as pd

from vadlib import artifacts, reported
from vadlib.models.registry import host_class, host_names
from vadlib.papers.video_tables import ATTENTION, LOSSES, blank, dataset_columns, integer, side, timing_row
from vadlib.runs import image_ad, video_ad
from vadlib.runs.experiment import run_experiments
from vadlib.runs.image_ad import (TableSpec, class_display, measured_inference_times, model_label,
                                  mvtec_classes, percent, run_config, run_examples)
from vadlib.runs.video_ad import (BASELINE, AblationSpec, ComparisonSpec, Variant, frame_scores,
                                  measured_speed)

__all__ = ["ABLATIONS", "BASELINE", "BRATS_ROWS", "PED2_CHECK", "PED2_HOST_OPTIONS", "ped2_reported",
           "ped2_runs", "ped2_table", "CHAPTER5_LABELS", "COMPARISON_DATASETS", "HOST_LABELS",
           "TABLE_D3", "Variant", "ablation_table", "brats_runs", "brats_table", "chapter5_labels",
           "class_display", "comparison_spec", "comparison_table", "frame_scores", "macro_policies", "measured_inference_times",
           "measured_speed", "model_label", "mvtec_classes", "plan", "run_examples", "table_d3",
           "table_d7_image", "timing_row", "SPEED_VARIANTS", "measurements"]

#: image host -> its printed name (the host class's ``label``), for the notebook's figure titles
HOST_LABELS = {name: host_class(name).label for name in host_names("image")}

# ------------------------------------------------------------------ image tables
TABLE_D3 = TableSpec("D.3", tuple(
    [(h, b, "det_auroc") for h in ("draem", "nsa") for b in (None, "sspcab", "ssmctb")]
    + [("draem", b, m) for m in ("loc_auroc", "loc_ap") for b in (None, "sspcab", "ssmctb")]
    + [("nsa", b, "loc_auroc") for b in (None, "sspcab", "ssmctb")]))

BRATS_ROWS = (  # Table D.4 (= 5.1): label, host, block
    ("DRAEM [56]", "draem", None), ("DRAEM + SSPCAB [54]", "draem", "sspcab"),
    ("DRAEM + SSMCTB (Ours)", "draem", "ssmctb"), ("NSA [57]", "nsa", None),
    ("NSA + SSPCAB [54]", "nsa", "sspcab"), ("NSA + SSMCTB (Ours)", "nsa", "ssmctb"),
    ("3D DRAEM [56]", "draem3d", None), ("3D DRAEM + 3D SSMCTB (Ours)", "draem3d", "ssmctb"))


def table_d3(settings) -> pd.DataFrame:
    """Reproduced cells of Table D.3 (in %), one row per MVTec AD class that was run."""
    return image_ad.mvtec_table(settings, TABLE_D3)


def brats_runs(settings) -> list[image_ad.ImageAnomalyRun]:
    """The runs of Table D.4's rows, in printed order."""
    return [run_config(settings, host, block, "brats", "brats") for _, host, block in BRATS_ROWS]


def brats_table(settings) -> pd.DataFrame:
    """Reproduced rows of Table D.4 (in %): slice-level detection AUROC, pixel AUROC and AP."""
    results = run_experiments(brats_runs(settings))
    return pd.DataFrame([{"Method": label, "Detection AUROC": 100 * r["det_auroc"],
                          "Localization AUROC": percent(r["loc_auroc"]),
                          "Localization AP": percent(r["loc_ap"])}
                         for (label, _, _), r in zip(BRATS_ROWS, results)])


def table_d7_image(times: pd.DataFrame) -> pd.DataFrame:
    """The image row of Table D.7 (Zavrtanik et al. = DRAEM, timed in 3D with 3D SSMCTB) from
    :func:`vadlib.runs.image_ad.inference_times`."""
    three_d = times[times.Host == host_class("draem3d").label].set_index("Block")["ms per example"]
    return pd.DataFrame([{"Method": "Zavrtanik et al. [56]", "Time baseline (ms)": three_d.get("—"),
                          "Time +3D SSMCTB (ms)": three_d.get("ssmctb")}])


# ------------------------------------------------------------------ video ablations
# One function per ablation table: a printed row → the Variant it describes (None: cannot be run).
def _d2(row) -> Variant | None:
    if blank(row["Loss"]):
        return BASELINE
    attention = "none" if "no attention" in row["Method"] else ATTENTION[str(row["Attention"]).strip()]
    options = {"loss": LOSSES[row["Loss"]], "dilation": integer(row["d"]), "kernel_size": integer(row["k'"]),
               "attention": attention}
    return Variant("ssmctb", "late", tuple(sorted(options.items())))


def _d8(row) -> Variant | None:
    place = str(row["Decoder Conv Block"]).strip()
    if blank(place):
        return BASELINE
    if place == "all":  # three blocks, d = 4, 3, 1 read as early, middle, late (the printed order)
        return Variant("ssmctb", "early+middle+late",
                       (("dilation", tuple(integer(d) for d in str(row["d"]).split(","))),))
    return Variant("ssmctb", place, (("dilation", integer(row["d"])),))  # MNAD's positions are decoder blocks


def _d9(row) -> Variant | None:
    if blank(row["Size of M"]):
        return BASELINE
    return Variant("ssmctb", "late", (("mask_size", side(row["Size of M"])),))


def _d10(row) -> Variant | None:
    if blank(row["d_t"]):
        return BASELINE
    return Variant("ssmctb", "late", (("blocks", integer(row["L"])), ("heads", integer(row["H"])),
                                      ("pooled_size", side(row["h'×w'"])), ("token_dim", integer(row["d_t"]))))


def _d11(row) -> Variant | None:
    if blank(row["δ"]):
        return BASELINE
    return Variant("ssmctb", "late", (("huber_delta", float(row["δ"])),))


def _d12(row) -> Variant | None:
    if str(row["Method"]).startswith("Park"):
        return BASELINE
    conv = "dilated" if "dilated" in row["Method"] else "masked"
    d = 3 if blank(row["d"]) else integer(row["d"])  # the thesis leaves the last d blank; the journal gives 3
    return Variant("ssmctb", "late", (("conv", conv), ("dilation", d)))


ABLATIONS = {
    "D.2": AblationSpec("D.2", "mnad", "avenue", _d2),
    "D.8": AblationSpec("D.8", "mnad", "avenue", _d8),
    "D.9": AblationSpec("D.9", "mnad", "avenue", _d9),
    "D.10": AblationSpec("D.10", "mnad", "avenue", _d10),
    "D.11": AblationSpec("D.11", "mnad", "avenue", _d11),
    "D.12": AblationSpec("D.12", "mnad", "avenue", _d12),
}


def ablation_table(settings, table_id: str) -> pd.DataFrame:
    """Reproduced rows of ablation table ``table_id`` (D.2, D.8–D.12), in %."""
    return video_ad.ablation_table(settings, ABLATIONS[table_id])


# ------------------------------------------------------------------ video method comparisons
COMPARISON_DATASETS = {"D.5": ("avenue", "shanghaitech"), "D.6": ("thermal_rare_event",)}
D6_ROWS = (("Park et al. [44]", "mnad", BASELINE), ("Park et al. [44] + SSPCAB", "mnad", Variant("sspcab")),
           ("Park et al. [44] + SSMCTB (Ours)", "mnad", Variant("ssmctb")))


#: where the block goes in a host whose papers' placement is not the penultimate conv ("late"):
#: MAE's "before the first transformer block" (T L2596)
POSITION = {"mae": "before_first_block"}
#: host options of D.5's rows *with a block*: Paper D's λ for HF2-VAD, 0.001 ("we decrease λ to
#: 0.001" for [57, 59], T L2599), where Paper C used 0.01 (T L2084; paper_C.md §8 item 2). λ only
#: weights the block's loss, so the baseline row keeps the default options and stays the same
#: cached run as Table C.3's
BLOCK_HOST_OPTIONS = {"hf2vad": (("paper", "D"),)}


def _d5_rows() -> tuple[tuple[str, str, Variant], ...]:
    """D.5 prints Liu et al. [42] (FFP), He et al. [60] (MAE), Park et al. [44] (MNAD), Liu et al.
    [59] (HF2-VAD) and Georgescu et al. [58] with + SSPCAB and + SSMCTB rows, and Bărbălău et al.
    [55] (SSMTL++) with + 3D SSMCTB; their exact labels are read from the transcription."""
    labels = list(reported.load_table("D.5").Method)
    rows = []
    for host, stem in (("ffp", "Liu et al. [42]"), ("mae", "He et al. [60]"), ("mnad", "Park et al. [44]"),
                       ("hf2vad", "Liu et al. [59]"), ("georgescu", "Georgescu et al. [58]"),
                       ("ssmtl", "Bărbălău et al. [55]")):
        def with_block(block: str, host: str = host) -> Variant:
            return Variant(block, position=POSITION.get(host, "late"), host_options=BLOCK_HOST_OPTIONS.get(host, ()))
        for label in labels:
            if label == stem:
                rows.append((label, host, BASELINE))
            elif label.startswith(stem + " + SSPCAB"):
                rows.append((label, host, with_block("sspcab")))
            elif label.startswith((stem + " + SSMCTB", stem + " + 3D SSMCTB")):
                # "3D SSMCTB": the run takes a block's 3D form at a 3D convolution
                rows.append((label, host, with_block("ssmctb")))
    return tuple(rows)


def comparison_spec(table_id: str) -> ComparisonSpec:
    """The rows vadlib runs of comparison table D.5 or D.6, and its dataset columns."""
    if table_id not in COMPARISON_DATASETS:
        raise KeyError(f"Paper D's comparison tables are {', '.join(COMPARISON_DATASETS)}; got {table_id!r}")
    rows = _d5_rows() if table_id == "D.5" else D6_ROWS
    return ComparisonSpec(table_id, rows, dataset_columns(*COMPARISON_DATASETS[table_id]),
                          limited_hosts=("mae", "hf2vad", "georgescu", "ssmtl"))


def comparison_table(settings, table_id: str) -> pd.DataFrame:
    """Reproduced rows of Table D.5 or D.6 (in %)."""
    return video_ad.comparison_table(settings, comparison_spec(table_id))


def macro_policies(settings, table_id: str) -> pd.DataFrame:
    """Each reproduced macro-AUC cell of Table D.5 or D.6 with its single-class policy and the
    number of test videos averaged (:data:`vadlib.runs.video_ad.MACRO_POLICY`)."""
    return video_ad.macro_policies(settings, comparison_spec(table_id))


CHAPTER5_LABELS = {"Liu et al. [42]": "Liu et al. [16]", "Park et al. [44]": "Park et al. [19]",
                   "He et al. [60]": "He et al. [103]", "Liu et al. [59]": "Liu et al. [64]",
                   "Georgescu et al. [58]": "Georgescu et al. [65]", "Bărbălău et al. [55]": "Bărbălău et al. [79]",
                   " + SSPCAB [54]": " + SSPCAB [24]", " + SSMCTB (Ours)": " + SSMCTB [69]",
                   " + 3D SSMCTB (Ours)": " + 3D SSMCTB [69]"}


def chapter5_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Table D.5's method labels in Table 5.4's reference numbers (see the 5.4 transcription notes)."""
    def relabel(label: str) -> str:
        for old, new in CHAPTER5_LABELS.items():
            label = label.replace(old, new)
        return label
    return frame.assign(Method=frame.Method.map(relabel))


# ------------------------------------------------------------------ extra check: seed 003 on UCSD Ped2
#: id of the extra-check table (not a thesis table): seed 003's UCSD Ped2 numbers, reported vs reproduced
PED2_CHECK = "003.Ped2"
PED2_CAPTION = ("Extra check (not a thesis table): UCSD Ped2, Georgescu et al., CVPR 2021 (seed 003 = SSMTL, "
                "the framework of thesis [50]/[11], extended by SSMTL++ [55]): frame-level AUC of its Table 2 "
                "(object level, frame level, late fusion; L210-212) and AUC, RBDC, TBDC of its Table 3 "
                "(L235), in %. Reproduced: the ssmtl host as SSMTL -- its three self-supervised tasks, no "
                "transformer, no distillation -- on Faster R-CNN objects kept above 0.5 (L165); the "
                "reproduced AUC is macro (per-video, with the (0, 0) / (1, 1) padding), the micro AUC is "
                "shown beside it. Run under the quick and full profiles only.")
PED2_FILE = reported.HERE / "peer_003_ped2.csv"
#: SSMTL (seed 003) in the ssmtl host: arrow of time, motion irregularity, middle box (L101-121),
#: the pure 3D CNN (no SSMTL++ transformer). The distillation task (L123-127, weighted by λ = 0.5 on
#: Ped2, L167) needs teacher outputs (ResNet-50 logits, YOLOv3 class probabilities) that the object
#: pipeline does not produce, so it is left out and λ has nothing to weigh
PED2_HOST_OPTIONS = (("tasks", ("arrow", "irregularity", "middle")), ("transformer_blocks", 0))


def ped2_reported() -> pd.DataFrame:
    """The transcribed Ped2 numbers of seed 003 (``vadlib/reported/peer_003_ped2.csv``; "-" = not
    reported), numbers as floats, label columns ``Method``, ``Level``."""
    frame = pd.read_csv(PED2_FILE, dtype=str, keep_default_na=False)
    keys = ["Method", "Level"]
    for column in frame.columns.difference(keys):
        frame[column] = pd.to_numeric(frame[column].replace({"-": None, "": None}))
    frame.attrs["key_columns"] = keys
    return frame


def ped2_runs(settings) -> list:
    """The run of the extra check: SSMTL (:data:`PED2_HOST_OPTIONS`) on UCSD Ped2, detection
    threshold 0.5 (seed 003 L165, the pipeline's Ped2 value); none under the smoke profile."""
    if getattr(settings, "profile", "smoke") == "smoke":
        return []
    from vadlib.runs import object_vad
    return [object_vad.run_config(settings, "ssmtl", "ucsd_ped2", Variant(host_options=PED2_HOST_OPTIONS))]


def ped2_table(settings) -> pd.DataFrame:
    """The extra-check table: seed 003's printed Ped2 numbers, the reproduced object-level row
    (AUC = macro, as the SSMTL authors report it; RBDC/TBDC need Ped2 track annotations, which
    ``vad_tracks`` does not have) and Δ (:func:`vadlib.artifacts.compare`), plus the reproduced
    micro AUC. Under smoke every row is "not run"."""
    printed = ped2_reported()
    keys = printed.attrs["key_columns"]
    rows = []
    runs = ped2_runs(settings)
    for run, result in zip(runs, run_experiments(runs)):
        rows.append({"Method": printed.Method.iloc[0], "Level": "object level", "AUC": 100 * result["auc_macro"],
                     "RBDC": percent(result.get("rbdc")), "TBDC": percent(result.get("tbdc")),
                     "AUC Micro": 100 * result["auc_micro"]})
    reproduced = pd.DataFrame(rows, columns=keys + ["AUC", "RBDC", "TBDC", "AUC Micro"])
    measured = [c for c in ("AUC", "RBDC", "TBDC") if reproduced[c].notna().any()]
    table = artifacts.compare(printed, reproduced[keys + measured])
    micro = dict(zip(zip(reproduced.Method, reproduced.Level), reproduced["AUC Micro"]))
    table.insert(table.columns.get_loc("AUC | Δ") + 1, "AUC Micro | reproduced",
                 [micro.get(key) for key in zip(table.Method, table.Level)])
    return table


#: the variants Table D.7 times, per host: FFP per frame, Georgescu et al. per object
SPEED_VARIANTS = {host: {"baseline": BASELINE, "+SSPCAB": Variant("sspcab"), "+SSMCTB": Variant("ssmctb")}
                  for host in ("ffp", "georgescu")}


def measurements(settings) -> list:
    """The speed measurements notebook 04 makes (Table D.7: video hosts and image hosts), as
    cached runs: an executor makes them where the runs go (the GPU nodes)."""
    return ([video_ad.speed_measurement(settings, host, variants) for host, variants in SPEED_VARIANTS.items()]
            + [image_ad.inference_times_measurement(settings)])


def plan(settings) -> list:
    """Every run notebook 04 makes: the image runs of D.3 and D.4, then the video runs of D.2,
    D.8–D.12, D.5 and D.6 (each once, in that order), then the Ped2 extra check (quick, full)."""
    video = [run for table in ABLATIONS for run in video_ad.ablation_runs(settings, ABLATIONS[table])]
    video += video_ad.comparison_runs(settings, comparison_spec("D.5"))
    video += video_ad.comparison_runs(settings, comparison_spec("D.6"))
    return (image_ad.mvtec_runs(settings, TABLE_D3) + brats_runs(settings) + list(dict.fromkeys(video))
            + ped2_runs(settings))
