"""Frame-level ROC-AUC for video anomaly detection (thesis Papers C, D; Avenue, ShanghaiTech).

Definitions:

* ROC-AUC of scores ``s`` against 0/1 labels: ``AUC = P(s_i > s_j) + 0.5 P(s_i = s_j)`` over
  abnormal frames ``i`` and normal frames ``j`` (:func:`sklearn.metrics.roc_auc_score`).
* :func:`frame_auc` ``average="micro"``: one AUC over the frames of all videos pooled (the classic
  protocol; StevenLiuWen/ano_pred_cvpr2018 ``Codes/evaluate.py``).
* :func:`frame_auc` ``average="macro"``: the mean of the per-video AUCs of :func:`per_video_auc`
  (Georgescu et al., CVPR 2021; thesis T L2044-2048, L2584-2590).
* A video whose labels are all one class has no AUC; :data:`SINGLE_CLASS_POLICIES` says what the
  macro average does with it (default ``"pad"``, the authors' convention: lilygeorgescu/UBnormal
  ``scripts/compute_auc_score.py``, ristea/sspcab#8).

Scores are "higher = more anomalous"; negate a regularity score (e.g. PSNR) first. Score
post-processing (per-video min-max, temporal smoothing) belongs to the models, not here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ._validate import as_1d_float, as_binary, check_same_keys

__all__ = ["SINGLE_CLASS_POLICIES", "frame_auc", "per_video_auc"]

#: Policies for a video whose frame labels are all one class (its ROC-AUC is undefined).
#:
#: ``"pad"`` (default)
#:     The thesis authors' convention: *every* video gets one extra normal frame (label 0, score
#:     ``pad_scores[0]``) prepended and one extra abnormal frame (label 1, score ``pad_scores[1]``)
#:     appended before its AUC is computed. Sources: lilygeorgescu/UBnormal
#:     ``scripts/compute_auc_score.py`` (pads with ``[0]``/``[1]`` on labels *and* scores);
#:     ristea/sspcab#8 ("we pad the videos with one '0' value at the beginning and one '1' value
#:     at the end"). Assumes scores in [0, 1], e.g. after the video hosts' per-video
#:     min-max normalisation.
#: ``"pad_single"``
#:     The same padding, applied only to the single-class videos (lilygeorgescu/AED-SSMTL#11:
#:     "we added a 'normal' label at the beginning ... for the videos without normal labels").
#: ``"skip"``
#:     Single-class videos are left out of the macro mean (and of :func:`per_video_auc`).
#: ``"error"``
#:     A single-class video raises :class:`ValueError` naming it.
SINGLE_CLASS_POLICIES = ("pad", "pad_single", "skip", "error")


def _as_video_dict(x, name: str, kind: str) -> dict:
    """Mapping video id -> 1-D array (a bare 1-D array is one video with id 0)."""
    if isinstance(x, Mapping):
        items = list(x.items())
    elif isinstance(x, (np.ndarray, list, tuple, pd.Series)):
        items = [(0, x)]
    else:
        raise ValueError(f"{name} must be a mapping video id -> 1-D array (or one 1-D array)")
    if not items:
        raise ValueError(f"{name} is empty (no videos)")
    out = {}
    for vid, arr in items:
        label = f"{name}[{vid!r}]"
        if kind == "score":
            a = as_1d_float(arr, label)
        else:
            a = as_binary(arr, label)
            if a.ndim != 1:
                raise ValueError(f"{label} must be 1-D, got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"{label} is empty")
        out[vid] = a
    return out


def _paired(scores, labels) -> tuple[dict, dict]:
    s = _as_video_dict(scores, "scores", "score")
    y = _as_video_dict(labels, "labels", "label")
    check_same_keys(s, y, "scores", "labels")
    for vid in s:
        if s[vid].shape != y[vid].shape:
            raise ValueError(
                f"length mismatch for video {vid!r}: {s[vid].size} scores vs {y[vid].size} labels"
            )
    return s, y


def per_video_auc(scores, labels, *, single_class: str = "pad", pad_scores=(0.0, 1.0)) -> dict:
    """ROC-AUC of each video separately.

    Definition: for video ``v``, ``AUC_v = P(s_i > s_j) + 0.5 P(s_i = s_j)`` over abnormal frames
    ``i`` and normal frames ``j`` (area under the ROC curve; computed with
    :func:`sklearn.metrics.roc_auc_score`). Videos whose labels are all one class are handled by
    ``single_class`` (see :data:`SINGLE_CLASS_POLICIES`; never a silent ``nan``).

    Source: the per-video AUC of the macro protocol of Georgescu et al. (CVPR 2021) used in
    Papers C and D (thesis T L2044-2048); padding convention from lilygeorgescu/UBnormal
    ``scripts/compute_auc_score.py`` and ristea/sspcab#8.

    Args:
        scores: mapping video id -> 1-D anomaly scores (higher = more anomalous), or one array.
        labels: mapping video id -> 1-D 0/1 labels (1 = abnormal frame), same ids and lengths.
        single_class: one of :data:`SINGLE_CLASS_POLICIES`.
        pad_scores: scores of the padded (normal, abnormal) frames for ``"pad"``/``"pad_single"``.

    Returns:
        dict video id -> AUC (videos skipped by ``"skip"`` are absent).
    """
    if single_class not in SINGLE_CLASS_POLICIES:
        raise ValueError(
            f"unknown single_class policy {single_class!r}; choose one of {SINGLE_CLASS_POLICIES}"
        )
    lo, hi = (float(v) for v in pad_scores)
    s, y = _paired(scores, labels)
    out = {}
    single = [vid for vid in s if y[vid].all() or not y[vid].any()]
    if single_class == "error" and single:
        raise ValueError(
            f"{len(single)} video(s) have labels of a single class, so their AUC is undefined: "
            f"{single[:10]}; choose single_class='pad', 'pad_single' or 'skip'"
        )
    for vid in s:
        sv, yv = s[vid], y[vid]
        is_single = vid in single
        if single_class == "pad" or (single_class == "pad_single" and is_single):
            sv = np.concatenate(([lo], sv, [hi]))
            yv = np.concatenate(([False], yv, [True]))
        elif is_single:  # "skip"
            continue
        out[vid] = float(roc_auc_score(yv, sv))
    return out


def frame_auc(
    scores,
    labels,
    average: str = "micro",
    *,
    single_class: str = "pad",
    pad_scores=(0.0, 1.0),
) -> float:
    """Frame-level ROC-AUC for video anomaly detection, micro or macro averaged.

    Definitions (thesis Paper C, T L2044-2048; Paper D, T L2584-2590):

    * ``average="micro"``: concatenate all frames of all videos and compute one ROC-AUC
      (the classic protocol, StevenLiuWen/ano_pred_cvpr2018 ``Codes/evaluate.py``). No padding.
    * ``average="macro"``: the mean over videos of each video's ROC-AUC (Georgescu et al.,
      CVPR 2021), see :func:`per_video_auc`. Videos whose labels are one class only (Avenue test
      videos 8 and 18 are entirely abnormal; many ShanghaiTech test videos entirely normal) are
      handled by ``single_class`` (:data:`SINGLE_CLASS_POLICIES`); the default ``"pad"`` is the
      thesis authors' convention of padding every video with a normal frame scored 0 and an
      abnormal frame scored 1.

    ROC-AUC via :func:`sklearn.metrics.roc_auc_score` (ties count one half).

    Args:
        scores: mapping video id -> 1-D scores (higher = more anomalous), or one 1-D array.
        labels: mapping video id -> 1-D 0/1 frame labels (1 = abnormal), same ids and lengths.
        average: ``"micro"`` or ``"macro"``.
        single_class, pad_scores: see :func:`per_video_auc` (macro only).

    Returns:
        AUC in [0, 1] (a fraction, not %).

    Raises:
        ValueError: unknown ``average``/policy, video ids that differ between ``scores`` and
            ``labels``, mismatched lengths, NaN/inf scores, non-binary labels, pooled labels of a
            single class (micro), or no video left after ``"skip"``.
    """
    if average == "micro":
        s, y = _paired(scores, labels)
        ss = np.concatenate([s[v] for v in s])
        yy = np.concatenate([y[v] for v in s])
        if yy.all() or not yy.any():
            raise ValueError(
                "micro AUC is undefined: the pooled labels contain a single class "
                f"({'all abnormal' if yy.all() else 'all normal'})"
            )
        return float(roc_auc_score(yy, ss))
    if average == "macro":
        aucs = per_video_auc(scores, labels, single_class=single_class, pad_scores=pad_scores)
        if not aucs:
            raise ValueError("macro AUC is undefined: every video was single-class and skipped")
        return float(np.mean(list(aucs.values())))
    raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
