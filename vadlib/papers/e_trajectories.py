"""Paper E's tables (notebook 05): the temporal branch (Social GAN on tracked trajectories,
:mod:`vadlib.runs.trajectories`), the spatial branches (the frame-level hosts of Papers C/D,
:mod:`vadlib.runs.video_ad`) and their fusion (:mod:`vadlib.models.late_fusion`).

* Table E.1 (and its copy 5.5): frame AUC (micro, "we concatenate all the sequence", L3173) of
  the temporal branch alone, each spatial branch alone, and each fused pair, on Avenue and
  ShanghaiTech. The literature rows are other papers' numbers: not run.
* Table E.2: the fusion weights of the Liu et al. pair learned on one dataset and applied to the
  other.
* :func:`fusion_protocols`: what the printed protocol leaves out -- the weights fitted on the
  very test labels they are scored on (as printed) beside weights fitted on the other test videos
  only (cross-validation over videos), the best mixing weight any fit could find, macro AUCs, and
  the fitted α, β.

Scores (Eqs. E.2, E.3, E.5): the spatial normalcy of a frame is ``1 −`` the host's frame score
(each host's own rule: PSNR min–max normalised per test video, the rule of its official
evaluation and of Table 5.4's baseline numbers). The temporal normalcy is ``1 −`` the frame's
trajectory error min–max normalised over all test frames of the dataset; frames that no
prediction spans (nobody tracked long enough) count as normal (normalcy 1). The branches are
joined on the frames the spatial host scored.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from vadlib import metrics
from vadlib.data import DatasetError, vad_tracks
from vadlib.models import late_fusion
from vadlib.runs import trajectories, video_ad
from vadlib.runs.experiment import execute

DATASETS = ("avenue", "shanghaitech")
COLUMN = {"avenue": "Avenue AUC (%)", "shanghaitech": "SH-Tech AUC (%)"}
DATASET_NAME = {"avenue": "CUHK Avenue", "shanghaitech": "Shanghai-Tech"}
#: printed name -> (host, host options): Liu et al. 2018 = FFP; Park et al. 2020 = MNAD's two versions
SPATIAL = {
    "Liu et. al.": ("ffp", ()),
    "Park et. al Pred": ("mnad", (("variant", "prediction"),)),
    "Park et. al Reconst": ("mnad", ()),
}
FUSED_LABEL = {"Liu et. al.": "Liu et. al.", "Park et. al Pred": "Park et. al Pred.",
               "Park et. al Reconst": "Park et. al Reconst."}
REFERENCE = {"Liu et. al.": "[2]", "Park et. al Pred": "[3]", "Park et. al Reconst": "[3]"}
TEMPORAL_ROW = "Ours (Temporal Only: SGAN)"


def spatial_run(settings, name: str, dataset: str):
    host, options = SPATIAL[name]
    run = video_ad.run_config(settings, host, dataset)
    return replace(run, host_options=tuple(sorted(dict(run.host_options + options).items())))


def temporal_run(settings, dataset: str):
    """The trajectory run of ``dataset``; on real data it tracks with the explicit model of Table A.1."""
    tracker = None
    if settings.data_source != "synthetic":
        from vadlib.papers.a_tracker import proposed_runs
        tracker = proposed_runs(settings)[1]
    return trajectories.run_config(settings, dataset, tracker)


def plan(settings) -> list:
    """Every run notebook 05 makes: the temporal branch per dataset, then the spatial hosts."""
    return [temporal_run(settings, d) for d in DATASETS] + \
        [spatial_run(settings, name, d) for d in DATASETS for name in SPATIAL]


# ------------------------------------------------------------------ scores
def temporal_scores(settings, dataset: str) -> pd.DataFrame:
    """video, frame, label, temporal (normalcy in [0, 1]) for every test frame of ``dataset``."""
    scored = execute(temporal_run(settings, dataset))["frame_errors"]
    frame = pd.concat([pd.DataFrame({"video": video, "frame": s["frames"], "label": s["labels"],
                                     "error": [np.nan if e is None else e for e in s["errors"]]})
                       for video, s in scored.items()], ignore_index=True)
    frame["temporal"] = 1.0 - np.nan_to_num(late_fusion.minmax(frame["error"].to_numpy(float)), nan=0.0)
    return frame.drop(columns="error")


def branch_scores(settings, name: str, dataset: str) -> pd.DataFrame:
    """video, frame, label, spatial, temporal (normalcy scores) on the frames spatial host ``name``
    scored."""
    scored = execute(spatial_run(settings, name, dataset))["frame_scores"]
    spatial = pd.concat([pd.DataFrame({"video": video, "frame": s["frames"], "spatial": 1.0 - np.asarray(s["scores"])})
                         for video, s in scored.items()], ignore_index=True)
    joined = spatial.merge(temporal_scores(settings, dataset), on=["video", "frame"], how="inner", validate="1:1")
    if len(joined) != len(spatial):
        raise ValueError(f"{dataset}: {len(spatial) - len(joined)} frames scored by {name} are missing "
                         f"from the trajectory run")
    return joined


def temporal_regions(settings, dataset: str) -> tuple[float, float] | None:
    """RBDC and TBDC (%) of the temporal branch, where the dataset has track annotations
    (``vad_tracks``): every tracked box of a test frame is a region, scored by the largest error of
    its person's windows whose predicted steps span that frame (boxes no prediction spans are
    left out). None without annotations."""
    run = temporal_run(settings, dataset)
    try:
        gt = vad_tracks.tracks(run.data.locate("vad_tracks"), dataset)
    except DatasetError:
        return None
    boxes = trajectories.load_tracks(run)[["video", "frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]]
    spans = trajectories.load_windows(run)
    scored = boxes.merge(spans, on=["video", "id"])
    scored = scored[(scored.frame >= scored.first_frame) & (scored.frame <= scored.last_frame)]
    regions = scored.groupby(["video", "frame", "id"], as_index=False).agg(
        x1=("bb_left", "first"), y1=("bb_top", "first"), width=("bb_width", "first"),
        height=("bb_height", "first"), score=("error", "max"))
    pred = pd.DataFrame({"video": regions.video, "frame": regions.frame,
                         "x1": regions.x1.clip(lower=0).round(), "y1": regions.y1.clip(lower=0).round(),
                         "x2": (regions.x1 + regions.width - 1).round(), "y2": (regions.y1 + regions.height - 1).round(),
                         "score": regions.score})
    pred = pred[(pred.x2 >= pred.x1) & (pred.y2 >= pred.y1)]
    num_frames = {video: len(s["frames"]) for video, s in execute(run)["frame_errors"].items()}
    gt = gt[gt.video.astype(str).isin(num_frames)].astype({"video": str})
    rbdc, tbdc = metrics.rbdc_tbdc(pred, gt, num_frames)
    return 100 * rbdc, 100 * tbdc


def auc(normalcy, frames: pd.DataFrame, average: str = "micro") -> float:
    """Frame AUC (%) of a normalcy score (high = normal) against ``frames``' labels."""
    scores = {v: -np.asarray(normalcy)[g.index] for v, g in frames.groupby("video")}
    labels = {v: g["label"].to_numpy() for v, g in frames.groupby("video")}
    return 100 * metrics.frame_auc(scores, labels, average)


# ------------------------------------------------------------------ tables
def table_e1(settings) -> pd.DataFrame:
    """The reproduced rows of Table E.1: temporal only, each spatial branch alone and fused (weights
    fitted on the evaluated test labels, as printed)."""
    rows = {TEMPORAL_ROW: {"Ref": ""}}
    for dataset in DATASETS:
        temporal = temporal_scores(settings, dataset)
        rows[TEMPORAL_ROW][COLUMN[dataset]] = auc(temporal["temporal"], temporal)
        for name in SPATIAL:
            frames = branch_scores(settings, name, dataset)
            alpha, beta = late_fusion.fit_fusion(frames.spatial, frames.temporal, frames.label)
            fused = late_fusion.fuse(frames.spatial, frames.temporal, alpha, beta)
            rows.setdefault(f"Spatial Only: {name}", {"Ref": REFERENCE[name]})[COLUMN[dataset]] = \
                auc(frames.spatial, frames)
            rows.setdefault(f"Ours (Spatial: {FUSED_LABEL[name]}, Temporal: SGAN)", {"Ref": ""})[COLUMN[dataset]] = \
                auc(fused, frames)
    return pd.DataFrame([{"Method": method, **values} for method, values in rows.items()])


def table_5_5(settings) -> pd.DataFrame:
    """Table 5.5 repeats E.1's rows of this paper's branches."""
    return table_e1(settings)


def table_e2(settings) -> pd.DataFrame:
    """Table E.2: the Liu et al. pair's weights fitted on one dataset's test frames, applied to the
    other's; the baseline is Liu et al. alone on the target."""
    frames = {d: branch_scores(settings, "Liu et. al.", d) for d in DATASETS}
    weights = {d: late_fusion.fit_fusion(f.spatial, f.temporal, f.label) for d, f in frames.items()}
    rows = []
    for target, source in (("avenue", "shanghaitech"), ("shanghaitech", "avenue")):
        target_frames = frames[target]
        fused = late_fusion.fuse(target_frames.spatial, target_frames.temporal, *weights[source])
        printed = f"{DATASET_NAME[source]} → {'CUHK Avenue' if target == 'avenue' else 'ShanghaiTech'}"
        rows.append({"Baseline Dataset": DATASET_NAME[target], "Proposed Train to Test": printed,
                     "Baseline AUC (%)": auc(target_frames.spatial, target_frames),
                     "Proposed AUC (%)": auc(fused, target_frames)})
    return pd.DataFrame(rows)


def fusion_protocols(settings) -> pd.DataFrame:
    """Per dataset and spatial branch: micro/macro AUC (%) of the spatial branch, of the fusion
    fitted on the test labels (the paper's protocol) and of the fusion fitted on the other videos
    (leave one video out: each video's frames scored by weights fitted without them), the
    temporal branch's RBDC/TBDC with tracked people as regions (:func:`temporal_regions`), the AUC of the best mixing weight (an upper bound for any
    fit), and the fitted α, β."""
    rows = []
    for dataset in DATASETS:
        regions = temporal_regions(settings, dataset) or (np.nan, np.nan)
        for name in SPATIAL:
            frames = branch_scores(settings, name, dataset)
            alpha, beta = late_fusion.fit_fusion(frames.spatial, frames.temporal, frames.label)
            on_test = late_fusion.fuse(frames.spatial, frames.temporal, alpha, beta)
            groups = frames.video.to_numpy()
            held_out = late_fusion.held_out_fusion(frames.spatial, frames.temporal, frames.label, groups) \
                if len(set(groups)) > 1 else np.full(len(frames), np.nan)
            weight, _ = late_fusion.best_mixing_weight(frames.spatial, frames.temporal, frames.label)
            best = weight * frames.spatial + (1 - weight) * frames.temporal
            rows.append({"dataset": dataset, "spatial": name,
                         "spatial micro": auc(frames.spatial, frames), "spatial macro": auc(frames.spatial, frames, "macro"),
                         "temporal micro": auc(frames.temporal, frames),
                         "temporal RBDC": regions[0], "temporal TBDC": regions[1],
                         "fused, fit on test micro": auc(on_test, frames),
                         "fused, fit on test macro": auc(on_test, frames, "macro"),
                         "fused, held out micro": auc(held_out, frames),
                         "fused, held out macro": auc(held_out, frames, "macro"),
                         "best mixing weight": weight, "best mixing micro": auc(best, frames),
                         "alpha": alpha, "beta": beta, "frames": len(frames)})
    return pd.DataFrame(rows)
