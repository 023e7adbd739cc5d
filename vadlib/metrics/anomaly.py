"""Anomaly-detection metrics used in the thesis (Papers C, D, E, F).

Video (Avenue, ShanghaiTech, Thermal Rare Event):

* :func:`frame_auc` -- frame-level ROC-AUC, micro (pooled) or macro (mean over videos), with an
  explicit policy for videos whose labels are all one class (:data:`SINGLE_CLASS_POLICIES`).
* :func:`per_video_auc` -- the per-video AUCs behind the macro average.
* Score post-processing used by the host models, as separate steps: :func:`minmax_normalize`,
  :func:`gaussian_smooth`, :func:`drop_first_frames`.
* :func:`rbdc_tbdc` / :func:`rbdc_tbdc_curves` -- region- and track-based detection criteria of
  Ramachandra & Jones (WACV 2020), vectorised with NumPy.
* :func:`regions_from_maps` -- pixel-level anomaly maps to scored regions (connected components per
  frame), so frame/pixel-level hosts can be scored by RBDC/TBDC.

Images and volumes (MVTec AD, BraTS):

* :func:`image_auroc` -- detection AUROC (one score per image).
* :func:`pixel_auroc`, :func:`pixel_ap` -- localisation AUROC / average precision over all pixels,
  exact (scikit-learn) for small inputs and streaming (:class:`StreamingBinaryMetrics`, fixed-bin
  histograms) for large ones.

Scores are "higher = more anomalous" everywhere; negate a regularity score (e.g. PSNR) first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from ._validate import as_1d_float, as_binary, check_finite, check_same_keys

__all__ = [
    "SINGLE_CLASS_POLICIES",
    "frame_auc",
    "per_video_auc",
    "minmax_normalize",
    "gaussian_smooth",
    "drop_first_frames",
    "rbdc_tbdc",
    "rbdc_tbdc_curves",
    "regions_from_maps",
    "image_auroc",
    "pixel_auroc",
    "pixel_ap",
    "StreamingBinaryMetrics",
]

#: Policies for a video whose frame labels are all one class (its ROC-AUC is undefined).
#:
#: ``"pad"`` (default)
#:     The thesis authors' convention: *every* video gets one extra normal frame (label 0, score
#:     ``pad_scores[0]``) prepended and one extra abnormal frame (label 1, score ``pad_scores[1]``)
#:     appended before its AUC is computed. Sources: lilygeorgescu/UBnormal
#:     ``scripts/compute_auc_score.py`` (pads with ``[0]``/``[1]`` on labels *and* scores);
#:     ristea/sspcab#8 ("we pad the videos with one '0' value at the beginning and one '1' value
#:     at the end"). Assumes scores in [0, 1], e.g. after :func:`minmax_normalize`.
#: ``"pad_single"``
#:     The same padding, applied only to the single-class videos (lilygeorgescu/AED-SSMTL#11:
#:     "we added a 'normal' label at the beginning ... for the videos without normal labels").
#: ``"skip"``
#:     Single-class videos are left out of the macro mean (and of :func:`per_video_auc`).
#: ``"error"``
#:     A single-class video raises :class:`ValueError` naming it.
SINGLE_CLASS_POLICIES = ("pad", "pad_single", "skip", "error")


# --------------------------------------------------------------------------------------------------
# Frame-level AUC
# --------------------------------------------------------------------------------------------------


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


def _map_videos(scores, fn, name="scores"):
    """Apply ``fn`` per video to a mapping (returns a dict) or to one array (returns an array)."""
    if isinstance(scores, Mapping):
        return {vid: fn(as_1d_float(v, f"{name}[{vid!r}]"), vid) for vid, v in scores.items()}
    return fn(as_1d_float(scores, name), 0)


def minmax_normalize(scores):
    """Per-video min-max normalisation: ``(s - min_v s) / (max_v s - min_v s)``.

    Source: StevenLiuWen/ano_pred_cvpr2018 ``Codes/evaluate.py`` (``NORMALIZE=True``, applied to the
    PSNR of each video) and MNAD (cvlab-yonsei/MNAD), whose per-video normalisation the thesis's host
    models inherit (paper_C notes §5.2). Note that it makes the "micro" AUC partly per-video.

    A constant video (max = min), where the reference formula divides by zero, maps to all zeros.

    Args:
        scores: mapping video id -> 1-D scores, or one 1-D array.

    Returns:
        Same kind as the input (dict or array) with values in [0, 1].
    """

    def fn(a, _vid):
        lo, hi = a.min(), a.max()
        if hi == lo:
            return np.zeros_like(a)
        return (a - lo) / (hi - lo)

    return _map_videos(scores, fn)


def gaussian_smooth(scores, sigma: float, *, mode: str = "constant", truncate: float = 4.0):
    """Temporal Gaussian smoothing of each video's score sequence.

    Definition: ``s'_t = sum_k G_sigma(k) s_{t-k}`` with a normalised Gaussian kernel of standard
    deviation ``sigma`` frames, truncated at ``truncate * sigma``
    (:func:`scipy.ndimage.gaussian_filter1d`).

    Source: Georgescu et al. (CVPR 2021; thesis seed ``003`` L143) smooth frame scores with a temporal
    Gaussian filter; the authors' public evaluation snippet (lilygeorgescu/UBnormal
    ``scripts/compute_auc_score.py``) calls ``gaussian_filter1d(video_scores, sigma,
    mode='constant')``, hence the default ``mode="constant"`` (zero padding at both ends, which
    lowers scores in the first/last ~``2*sigma`` frames). Use ``mode="nearest"`` or ``"reflect"`` to
    avoid that edge effect.

    Args:
        scores: mapping video id -> 1-D scores, or one array.
        sigma: standard deviation in frames (> 0).
        mode: boundary mode passed to SciPy.
        truncate: kernel radius in units of sigma.
    """
    if not (sigma > 0):
        raise ValueError(f"sigma must be > 0 frames, got {sigma}")
    return _map_videos(
        scores, lambda a, _v: ndimage.gaussian_filter1d(a, float(sigma), mode=mode, truncate=truncate)
    )


def drop_first_frames(scores, labels=None, k: int = 4):
    """Drop the first ``k`` frames of every video (scores and, if given, labels).

    Source: StevenLiuWen/ano_pred_cvpr2018 ``Codes/evaluate.py`` (``DECIDABLE_IDX=4``: a frame
    predictor needs 4 past frames, so the first 4 frames of each video have no prediction); also
    HF2-VAD's evaluation (paper_C notes §5.2).

    Args:
        scores: mapping video id -> 1-D scores, or one array.
        labels: optional mapping/array of the same structure.
        k: number of leading frames to drop (>= 0).

    Returns:
        The trimmed scores, or ``(scores, labels)`` when labels are given.

    Raises:
        ValueError: a video with ``<= k`` frames (nothing would be left), negative ``k``, or
            labels whose ids/lengths differ from the scores.
    """
    k = int(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")

    def fn(a, vid):
        if a.size <= k:
            raise ValueError(f"video {vid!r} has {a.size} frames; cannot drop the first {k}")
        return a[k:]

    if labels is None:
        return _map_videos(scores, fn)
    s, y = _paired(scores, labels)
    s2 = {v: fn(s[v], v) for v in s}
    y2 = {v: y[v][k:].astype(np.int8) for v in s}
    if not isinstance(scores, Mapping):
        return s2[0], y2[0]
    return s2, y2


# --------------------------------------------------------------------------------------------------
# RBDC / TBDC
# --------------------------------------------------------------------------------------------------

_PRED_COLS = ("frame", "x1", "y1", "x2", "y2", "score")
_GT_COLS = ("track_id", "frame", "x1", "y1", "x2", "y2")


def _numeric_block(df: pd.DataFrame, name: str, cols: Sequence[str]) -> np.ndarray:
    """float64 array (n, len(cols)) of the columns, with NaN/non-numeric/inf reported by column."""
    try:
        block = df[list(cols)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        block = np.stack(
            [pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in cols], axis=1
        ) if len(df) else np.zeros((0, len(cols)))
    bad = ~np.isfinite(block)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        n_bad = int(bad[:, c].sum())
        raise ValueError(
            f"{name}['{cols[c]}'] has {n_bad} NaN/non-numeric/infinite value(s), first at row {r}"
        )
    return block


def _check_frame(df: pd.DataFrame, name: str, cols: Sequence[str]) -> np.ndarray:
    """Validate a region/track DataFrame; return its numeric columns (all but 'video')."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame with columns {list(cols)}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; expected {list(cols)}")
    if "video" in cols and df["video"].isna().any():
        raise ValueError(f"{name}['video'] contains missing values")
    num = [c for c in cols if c != "video" and c != "track_id"]
    block = _numeric_block(df, name, num)
    if "track_id" in cols and df["track_id"].isna().any():
        raise ValueError(f"{name}['track_id'] contains missing values")
    pos = {c: i for i, c in enumerate(num)}
    for a, b in (("x1", "x2"), ("y1", "y2")):
        bad = block[:, pos[b]] < block[:, pos[a]]
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{name}: {int(bad.sum())} box(es) with {b} < {a}, first at row {i} "
                f"({a}={block[i, pos[a]]:g}, {b}={block[i, pos[b]]:g}); boxes are "
                "(x1, y1, x2, y2) with inclusive pixel corners"
            )
    fr = block[:, pos["frame"]]
    if (fr < 0).any() or (fr != np.floor(fr)).any():
        raise ValueError(f"{name}['frame'] must hold non-negative integers")
    return block


def _prepare_rbdc_inputs(pred, gt, num_frames, alpha=0.1, beta=0.1):
    """Validate and convert to plain arrays (shared by the curve function and rbdc_tbdc)."""
    for nm, val in (("alpha", alpha), ("beta", beta)):
        if not (0.0 <= float(val) <= 1.0):
            raise ValueError(f"{nm} must be in [0, 1], got {val}")
    has_v = ("video" in getattr(pred, "columns", ())), ("video" in getattr(gt, "columns", ()))
    if has_v[0] != has_v[1]:
        raise ValueError("either both pred and gt have a 'video' column or neither does")
    vcols = ("video",) if has_v[0] else ()
    pb = _check_frame(pred, "pred", vcols + _PRED_COLS)  # frame, x1, y1, x2, y2, score
    gb = _check_frame(gt, "gt", vcols + _GT_COLS)  # frame, x1, y1, x2, y2
    if len(gt) == 0:
        raise ValueError("gt has no regions: RBDC/TBDC are undefined without ground truth")
    n_p = len(pred)
    if vcols:
        codes, uniques = pd.factorize(np.concatenate([pred["video"].to_numpy(),
                                                      gt["video"].to_numpy()]))
    else:
        codes, uniques = np.zeros(n_p + len(gt), dtype=np.int64), np.array([0])
    codes = codes.astype(np.int64)
    pvc, gvc = codes[:n_p], codes[n_p:]
    pf, gf = pb[:, 0].astype(np.int64), gb[:, 0].astype(np.int64)

    if isinstance(num_frames, Mapping):
        known = set(num_frames)
        unknown = [u for u in uniques if u not in known]
        if unknown:
            where = "pred" if set(unknown) & set(pd.unique(pred["video"])) else "gt"
            raise ValueError(
                f"unknown video ids in {where} (absent from num_frames): "
                f"{sorted(map(str, unknown))[:10]}"
            )
        nf = {k: int(v) for k, v in num_frames.items()}
        bad = [k for k, v in nf.items() if v <= 0]
        if bad:
            raise ValueError(f"num_frames must be positive; videos {bad[:10]} have <= 0")
        lim = np.array([nf[u] for u in uniques], dtype=np.int64)
        for name, fr, vc, df in (("pred", pf, pvc, pred), ("gt", gf, gvc, gt)):
            over = fr > lim[vc]
            if over.any():
                i = int(np.argmax(over))
                raise ValueError(
                    f"{name} row {i}: frame {fr[i]} is beyond video "
                    f"{df['video'].iloc[i]!r}'s num_frames={lim[vc[i]]}"
                )
        total = int(sum(nf.values()))
    else:
        try:
            total = int(num_frames)
        except (TypeError, ValueError):
            raise ValueError("num_frames must be an int or a mapping video id -> int") from None
        if total <= 0:
            raise ValueError(f"num_frames must be positive, got {num_frames}")

    tid = pd.factorize(gt["track_id"].to_numpy())[0].astype(np.int64)
    track, _ = pd.factorize(gvc * (int(tid.max()) + 1) + tid)
    track = track.astype(np.int64)
    tf = track * (int(gf.max()) + 1) + gf
    tf_sorted = np.sort(tf)
    if (tf_sorted[1:] == tf_sorted[:-1]).any():
        dup = pd.Index(tf).duplicated()
        i = int(np.argmax(dup))
        raise ValueError(
            f"gt row {i}: track {gt['track_id'].iloc[i]!r} has more than one region in frame {gf[i]}"
        )
    P = dict(video=pvc, frame=pf, box=pb[:, 1:5], score=pb[:, 5])
    G = dict(video=gvc, frame=gf, box=gb[:, 1:5], track=track)
    return P, G, total


def _iou_plus1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of boxes (x1, y1, x2, y2) with inclusive corners: width = x2 - x1 + 1."""
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + 1.0
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + 1.0
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_a = (a[:, 2] - a[:, 0] + 1.0) * (a[:, 3] - a[:, 1] + 1.0)
    area_b = (b[:, 2] - b[:, 0] + 1.0) * (b[:, 3] - b[:, 1] + 1.0)
    return inter / (area_a + area_b - inter)


def _track_threshold_counts(track_len: np.ndarray, alpha: float) -> np.ndarray:
    """Smallest k in [0, len] with ``k / len >= alpha`` (float arithmetic); len + 1 if none."""
    L = track_len.astype(np.float64)
    k = np.clip(np.ceil(alpha * L), 0, None).astype(np.int64)
    # ceil(alpha * L) is within one of the answer; fix float edge cases exactly as "k / L >= alpha".
    down = (k > 0) & ((k - 1) / L >= alpha)
    k[down] -= 1
    up = k / L < alpha
    k[up] += 1
    return np.minimum(k, track_len + 1)


def rbdc_tbdc_curves(pred: pd.DataFrame, gt: pd.DataFrame, num_frames, alpha=0.1, beta=0.1):
    """Detection-rate vs false-positives-per-frame curves behind RBDC and TBDC.

    Algorithm (Ramachandra & Jones, WACV 2020, as implemented by the evaluation script of
    lilygeorgescu/AED that the thesis authors used -- reimplemented from its description in
    ``shared/specs/ecosystem.md`` §1.7 and ``paper_C.md`` §5.2, not copied):

    1. sort all predicted regions of all videos by score, descending (stable: ties keep input
       order); each prediction is one step of the threshold sweep;
    2. IoU uses the +1-pixel convention (a box spans ``x2 - x1 + 1`` pixels); a prediction matches
       every *not yet matched* GT region in the same video and frame with IoU >= ``beta``
       (inclusive). It is a true positive if it newly matches >= 1 GT region (each newly matched
       region counts once; one prediction may match several); a false positive if it overlaps
       no GT region of its frame with IoU >= ``beta``; neither when it overlaps only GT regions
       matched before (as the AED script: ``tp`` and ``fp`` both stay 0 for it);
    3. RBDR = cumulative matched GT regions / total GT regions; FPR = cumulative false positives /
       total number of frames (false positives *per frame*);
    4. TBDR = fraction of GT tracks with ``matched regions / track length >= alpha``;
    5. points with FPR > 1 are dropped; if the sweep never reaches FPR = 1 a point
       ``(1, last value)`` is appended. A ``(0, 0)`` start point is prepended (it adds no area).

    The per-GT "first matching prediction" is found for all candidate (prediction, GT) pairs at
    once, so the sweep is pure NumPy (see ``benchmarks/bench_rbdc_tbdc.py``).

    Args:
        pred: DataFrame with columns ``video, frame, x1, y1, x2, y2, score`` (``video`` optional if
            absent from both frames).
        gt: DataFrame with columns ``video, track_id, frame, x1, y1, x2, y2``; ``track_id`` is unique
            within a video, at most one region per track and frame.
        num_frames: total number of test frames (int), or mapping video id -> frames (then video
            ids of ``pred``/``gt`` must be keys and frames must not exceed the count).
        alpha: track criterion -- minimum fraction of a track's regions to detect (paper's beta;
            the script's ``alpha``).
        beta: region criterion -- minimum IoU (paper's alpha; the script's ``beta``).

    Returns:
        DataFrame with columns ``threshold, fpr, rbdr, tbdr`` (one row per curve point).
    """
    P, G, total = _prepare_rbdc_inputs(pred, gt, num_frames, alpha, beta)
    th, x, yr, yt = _truncate(*_curves_from_arrays(P, G, total, float(alpha), float(beta)))
    return pd.DataFrame({"threshold": th, "fpr": x, "rbdr": yr, "tbdr": yt})


def _descending_order(score: np.ndarray) -> np.ndarray:
    """Indices sorting ``score`` descending, ties in input order (= a stable sort of -score)."""
    order = np.argsort(-score)  # fast unstable sort; exact ties are rare for real scores
    s = score[order]
    if s.size > 1 and (s[1:] == s[:-1]).any():
        order = np.argsort(-score, kind="stable")
    return order


def _frame_groups(P, G):
    """For each prediction: start index and count of the GT rows of its (video, frame)."""
    n_v = int(max(P["video"].max(initial=-1), G["video"].max(initial=-1))) + 1
    vmax = np.zeros(n_v, dtype=np.int64)
    np.maximum.at(vmax, G["video"], G["frame"])
    span = vmax + 1  # frame keys of a video: 0..max GT frame (predictions beyond have no GT)
    offset = np.cumsum(span) - span
    gkey = offset[G["video"]] + G["frame"]
    K = int(span.sum())
    gorder = np.argsort(gkey, kind="stable")
    if K <= 8 * (gkey.size + P["frame"].size) + 1_000_000:  # dense lookup table over frames
        cnt_k = np.bincount(gkey, minlength=K)
        start_k = np.cumsum(cnt_k) - cnt_k
        inside = P["frame"] <= vmax[P["video"]]
        pkey = np.where(inside, offset[P["video"]] + np.minimum(P["frame"], vmax[P["video"]]), 0)
        cnt = np.where(inside, cnt_k[pkey], 0)
        start = start_k[pkey]
    else:  # sparse frame ids: binary search
        inside = P["frame"] <= vmax[P["video"]]
        pkey = np.where(inside, offset[P["video"]] + P["frame"], -1)
        gkey_s = gkey[gorder]
        start = np.searchsorted(gkey_s, pkey, side="left")
        cnt = np.searchsorted(gkey_s, pkey, side="right") - start
    return gorder, start, cnt


def _curves_from_arrays(P, G, total, alpha, beta):
    """Sweep arrays: (threshold, fpr, rbdr, tbdr) before truncation at FPR = 1, plus n_start."""
    n_gt = G["frame"].size
    n_tracks = int(G["track"].max()) + 1
    track_len = np.bincount(G["track"], minlength=n_tracks)
    need = _track_threshold_counts(track_len, alpha)
    n_start = int((need == 0).sum())  # tracks "detected" before any prediction (alpha <= 0)
    n_pred = P["score"].size

    order = _descending_order(P["score"])
    gorder, start, cnt = _frame_groups(P, G)
    # candidate (prediction, GT) pairs in the same video and frame, in rank order
    cnt_r, start_r = cnt[order], start[order]
    n_pairs = int(cnt_r.sum())
    pair_rank = np.repeat(np.arange(n_pred), cnt_r)
    pair_gt = gorder[np.repeat(start_r - (np.cumsum(cnt_r) - cnt_r), cnt_r) + np.arange(n_pairs)]
    iou = _iou_plus1(P["box"][order[pair_rank]], G["box"][pair_gt])
    ok = iou >= beta
    pair_rank, pair_gt = pair_rank[ok], pair_gt[ok]
    # earliest-ranked matching prediction of each GT region (n_pred = never matched)
    first_all = np.full(n_gt, n_pred, dtype=np.int64)
    np.minimum.at(first_all, pair_gt, pair_rank)
    matched_gt = np.flatnonzero(first_all < n_pred)
    first_rank = first_all[matched_gt]

    new_tp = np.bincount(first_rank, minlength=n_pred)
    cum_tp = np.cumsum(new_tp)
    overlaps_gt = np.zeros(n_pred, dtype=bool)  # a prediction on already-matched GT is no FP
    overlaps_gt[pair_rank] = True
    cum_fp = np.cumsum(~overlaps_gt)
    rbdr = cum_tp / n_gt
    fpr = cum_fp / total

    # TBDR: a track is detected at the rank of its need-th matched region
    t_of = G["track"][matched_gt]
    o = np.argsort(t_of * (n_pred + 1) + first_rank)  # by track, then rank (keys are unique)
    r_sorted = first_rank[o]
    n_matched = np.bincount(t_of, minlength=n_tracks)
    grp_start = np.cumsum(n_matched) - n_matched
    can = (need >= 1) & (n_matched >= need)
    det_rank = r_sorted[grp_start[can] + need[can] - 1]
    tbdr = (np.cumsum(np.bincount(det_rank, minlength=n_pred)) + n_start) / n_tracks
    return P["score"][order], fpr, rbdr, tbdr, n_start / n_tracks


def _truncate(thr, fpr, rbdr, tbdr, tbdr0):
    """Drop FPR > 1, prepend (0, 0), append (1, last) if FPR = 1 is never reached."""
    keep = fpr <= 1.0
    x = np.concatenate(([0.0], fpr[keep]))
    yr = np.concatenate(([0.0], rbdr[keep]))
    yt = np.concatenate(([tbdr0], tbdr[keep]))
    th = np.concatenate(([np.inf], thr[keep]))
    if x[-1] < 1.0:
        x, yr, yt = np.append(x, 1.0), np.append(yr, yr[-1]), np.append(yt, yt[-1])
        th = np.append(th, -np.inf)
    return th, x, yr, yt


def rbdc_tbdc(pred: pd.DataFrame, gt: pd.DataFrame, num_frames, alpha=0.1, beta=0.1):
    """Region-based (RBDC) and track-based (TBDC) detection criteria.

    Definition: RBDC = area under RBDR(FPR) and TBDC = area under TBDR(FPR) for FPR (false
    positives per frame) in [0, 1], by the trapezoidal rule; the curves are built by
    :func:`rbdc_tbdc_curves` (algorithm step by step there). Both lie in [0, 1]; a perfect detector
    scores 1, empty predictions score 0.

    Source: B. Ramachandra and M. Jones, "Street Scene: A new dataset and evaluation protocol for
    video anomaly detection", WACV 2020; defaults ``alpha = beta = 0.1`` and the conventions (+1
    pixel IoU, FPR per frame, truncation at FPR 1) of the evaluation script in lilygeorgescu/AED
    (``evaluation/compute_tbdc_rbdc.py``, a no-derivatives licence, used by thesis Papers C/D, T L2078,
    L2186). Reimplemented from the algorithm description; no code was copied.

    Args:
        pred, gt, num_frames, alpha, beta: see :func:`rbdc_tbdc_curves`.

    Returns:
        ``(rbdc, tbdc)`` as floats in [0, 1].

    Raises:
        ValueError: missing columns, NaN, boxes with ``x2 < x1``/``y2 < y1``, negative frames,
            unknown video ids, empty gt, non-positive num_frames, alpha/beta outside [0, 1].
    """
    P, G, total = _prepare_rbdc_inputs(pred, gt, num_frames, alpha, beta)
    if P["score"].size == 0:
        return 0.0, 0.0
    _, x, yr, yt = _truncate(*_curves_from_arrays(P, G, total, float(alpha), float(beta)))
    return float(np.trapezoid(yr, x)), float(np.trapezoid(yt, x))


def regions_from_maps(
    maps,
    threshold: float,
    *,
    connectivity: int = 2,
    score: str = "max",
    min_area: int = 1,
    frame_offset: int = 0,
    chunk_frames: int = 32,
) -> pd.DataFrame:
    """Turn pixel-level anomaly maps into scored regions (connected components per frame).

    Definition: each frame's map is binarised at ``map >= threshold``; every connected component
    (8-connected for ``connectivity=2``, 4-connected for 1; components never span frames) with at
    least ``min_area`` pixels becomes one region with its tight bounding box (inclusive pixel
    corners, matching the +1 IoU convention of :func:`rbdc_tbdc`) and a score = max (or mean) of the
    map inside the component. The regions can be passed to :func:`rbdc_tbdc` as ``pred``; RBDC/TBDC
    then sweep over the region scores.

    Source: Ramachandra & Jones (WACV 2020) evaluate pixel-map methods by their connected regions;
    py-ssvad-metrics (GPL, not used) does the same. Implemented with
    :func:`scipy.ndimage.label` and :func:`scipy.ndimage.find_objects`.

    Args:
        maps: mapping video id -> array (T, H, W) or iterable of (H, W) frames; or one such array
            (video id 0).
        threshold: binarisation threshold on the map values.
        connectivity: 1 (4-neighbour) or 2 (8-neighbour).
        score: ``"max"`` or ``"mean"`` of the map inside the component.
        min_area: drop components with fewer pixels.
        frame_offset: frame index of the first map (e.g. 1 for 1-based frame ids).
        chunk_frames: frames labelled per call when a 3-D array is given (bounds memory).

    Returns:
        DataFrame ``video, frame, x1, y1, x2, y2, score, area``.
    """
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity}")
    if score not in ("max", "mean"):
        raise ValueError(f"score must be 'max' or 'mean', got {score!r}")
    if not isinstance(maps, Mapping):
        maps = {0: maps}
    st2 = ndimage.generate_binary_structure(2, connectivity)
    st3 = np.zeros((3, 3, 3), dtype=bool)
    st3[1] = st2  # no links across frames
    rows = []

    def chunks(v):
        if isinstance(v, np.ndarray):
            if v.ndim != 3:
                raise ValueError(f"maps[{vid!r}] must be 3-D (T, H, W), got shape {v.shape}")
            for s in range(0, v.shape[0], chunk_frames):
                yield s, v[s: s + chunk_frames]
        else:
            for t, fr in enumerate(v):
                fr = np.asarray(fr)
                if fr.ndim != 2:
                    raise ValueError(f"maps[{vid!r}] frame {t} must be 2-D, got {fr.shape}")
                yield t, fr[None]

    for vid, v in maps.items():
        for t0, block in chunks(v):
            block = np.asarray(block, dtype=np.float64)
            check_finite(block, f"maps[{vid!r}]")
            lab, n = ndimage.label(block >= threshold, structure=st3)
            if n == 0:
                continue
            idx = np.arange(1, n + 1)
            area = np.bincount(lab.ravel(), minlength=n + 1)[1:]
            val = (ndimage.maximum if score == "max" else ndimage.mean)(block, lab, idx)
            sl = ndimage.find_objects(lab)
            t = np.array([s[0].start for s in sl])
            y1 = np.array([s[1].start for s in sl])
            y2 = np.array([s[1].stop - 1 for s in sl])
            x1 = np.array([s[2].start for s in sl])
            x2 = np.array([s[2].stop - 1 for s in sl])
            keep = area >= min_area
            rows.append(pd.DataFrame({
                "video": [vid] * int(keep.sum()),
                "frame": (t + t0 + frame_offset)[keep],
                "x1": x1[keep], "y1": y1[keep], "x2": x2[keep], "y2": y2[keep],
                "score": np.asarray(val, dtype=np.float64)[keep],
                "area": area[keep],
            }))
    cols = ["video", "frame", "x1", "y1", "x2", "y2", "score", "area"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "score" else np.int64) for c in cols})
    return pd.concat(rows, ignore_index=True)[cols]


# --------------------------------------------------------------------------------------------------
# Image / pixel metrics (MVTec AD, BraTS)
# --------------------------------------------------------------------------------------------------


def image_auroc(labels, scores) -> float:
    """Image-level detection AUROC.

    Definition: ROC-AUC of one anomaly score per image against its label (1 = anomalous image);
    TPR = fraction of anomalous images flagged, FPR = fraction of normal images flagged
    (Bergmann et al., CVPR 2019; thesis Paper C T L2044, Paper D T L2584). Exact, via
    :func:`sklearn.metrics.roc_auc_score`; one score per image is small, so no streaming is
    needed (reduce a map to an image score first, e.g. ``maps.max(axis=(1, 2))`` as DRAEM does).

    Raises:
        ValueError: mismatched lengths, NaN scores, non-binary labels, a single class.
    """
    s = as_1d_float(scores, "scores")
    y = as_binary(labels, "labels").ravel()
    if y.size != s.size:
        raise ValueError(f"length mismatch: {y.size} labels vs {s.size} scores")
    if y.all() or not y.any():
        raise ValueError("image AUROC is undefined: labels contain a single class")
    return float(roc_auc_score(y, s))


class StreamingBinaryMetrics:
    """Streaming AUROC / AP from fixed-bin score histograms (constant memory).

    Each :meth:`update` adds the scores of positive and negative elements (pixels, voxels) to two
    histograms of ``n_bins`` equal-width bins over ``score_range`` (values outside the range go to
    the edge bins and are counted in :attr:`n_clipped`). Memory is ``2 * n_bins`` integers
    regardless of how many maps are seen.

    Approximation (documented and tested): the histogram metrics are *exactly* the scikit-learn
    metrics of the scores quantised to their bin index (:meth:`bin_index`). Relative to the raw
    scores, only pairs of a positive and a negative element that fall in the same bin can be
    misordered, so ``|AUROC_hist - AUROC_exact| <= 0.5 * sum_b pos_b * neg_b / (P * N)``, returned
    by :meth:`auroc_error_bound`. AP has no such closed bound; with the default 65,536 bins over
    the true score range the tests find both within 1e-3 of scikit-learn. Maps already quantised to
    ``n_bins`` levels over ``score_range`` (e.g. uint8 maps with ``n_bins=256, score_range=(0,
    256)``) are evaluated exactly.
    """

    def __init__(self, score_range=(0.0, 1.0), n_bins: int = 65536):
        lo, hi = (float(v) for v in score_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"score_range must be finite with high > low, got {score_range}")
        if int(n_bins) < 2:
            raise ValueError(f"n_bins must be >= 2, got {n_bins}")
        self.lo, self.hi, self.n_bins = lo, hi, int(n_bins)
        self.pos = np.zeros(self.n_bins, dtype=np.int64)
        self.neg = np.zeros(self.n_bins, dtype=np.int64)
        self.n_clipped = 0

    def bin_index(self, scores) -> np.ndarray:
        """Bin of each score: ``floor((s - low) / (high - low) * n_bins)`` clipped to the range."""
        s = np.asarray(scores, dtype=np.float64)
        idx = np.floor((s - self.lo) * (self.n_bins / (self.hi - self.lo)))
        return np.clip(idx, 0, self.n_bins - 1).astype(np.int64)

    def update(self, targets, scores) -> StreamingBinaryMetrics:
        """Add a batch: ``targets`` 0/1 (or bool) and ``scores`` of the same shape (any shape)."""
        t = as_binary(targets, "targets").ravel()
        s = np.asarray(scores, dtype=np.float64).ravel()
        if t.shape != s.shape:
            raise ValueError(
                f"shape mismatch: targets {np.shape(targets)} vs scores {np.shape(scores)}"
            )
        check_finite(s, "scores")
        self.n_clipped += int(((s < self.lo) | (s > self.hi)).sum())
        idx = self.bin_index(s)
        self.pos += np.bincount(idx[t], minlength=self.n_bins)
        self.neg += np.bincount(idx[~t], minlength=self.n_bins)
        return self

    @property
    def n_pos(self) -> int:
        return int(self.pos.sum())

    @property
    def n_neg(self) -> int:
        return int(self.neg.sum())

    def _check(self):
        if self.n_pos == 0 or self.n_neg == 0:
            raise ValueError(
                f"undefined: need both classes, got {self.n_pos} positive and {self.n_neg} "
                "negative elements"
            )

    def auroc(self) -> float:
        """ROC-AUC of the quantised scores (trapezoid over bin thresholds, ties count one half)."""
        self._check()
        tp = np.concatenate(([0], np.cumsum(self.pos[::-1])))
        fp = np.concatenate(([0], np.cumsum(self.neg[::-1])))
        return float(np.trapezoid(tp / tp[-1], fp / fp[-1]))

    def auroc_error_bound(self) -> float:
        """Upper bound on ``|auroc() - exact AUROC of the raw scores|``."""
        self._check()
        same = float(np.dot(self.pos.astype(np.float64), self.neg.astype(np.float64)))
        return 0.5 * same / (float(self.n_pos) * float(self.n_neg))

    def average_precision(self) -> float:
        """AP = sum_k (R_k - R_{k-1}) P_k over bin thresholds, high to low (sklearn's definition)."""
        self._check()
        nz = (self.pos + self.neg)[::-1] > 0
        tp = np.cumsum(self.pos[::-1])[nz].astype(np.float64)
        fp = np.cumsum(self.neg[::-1])[nz].astype(np.float64)
        precision = tp / (tp + fp)
        recall = tp / tp[-1]
        return float(np.sum(np.diff(np.concatenate(([0.0], recall))) * precision))


def _is_materialised(x) -> bool:
    return isinstance(x, (np.ndarray, list, tuple))


def _pixel_pairs(masks, maps):
    """Yield (mask, map) pairs from arrays or (lazy) sequences of per-image arrays."""
    if isinstance(masks, np.ndarray) and isinstance(maps, np.ndarray):
        if masks.shape != maps.shape:
            raise ValueError(f"shape mismatch: masks {masks.shape} vs maps {maps.shape}")
        yield masks, maps
        return
    it_m, it_s = iter(masks), iter(maps)
    i = 0
    sentinel = object()
    while True:
        m, s = next(it_m, sentinel), next(it_s, sentinel)
        if m is sentinel and s is sentinel:
            return
        if m is sentinel or s is sentinel:
            raise ValueError(f"masks and maps have different lengths (one ended after {i} items)")
        m, s = np.asarray(m), np.asarray(s)
        if m.shape != s.shape:
            raise ValueError(f"item {i}: mask shape {m.shape} differs from map shape {s.shape}")
        yield m, s
        i += 1


def _pixel_metric(masks, maps, which, method, n_bins, score_range, exact_max):
    if method not in ("auto", "exact", "hist"):
        raise ValueError(f"method must be 'auto', 'exact' or 'hist', got {method!r}")
    materialised = _is_materialised(masks) and _is_materialised(maps)
    if materialised:
        pairs = list(_pixel_pairs(masks, maps))
        total = sum(p[1].size for p in pairs)
        if total == 0:
            raise ValueError("no pixels given")
        if method == "exact" or (method == "auto" and total <= exact_max):
            y = np.concatenate([as_binary(m, "masks").ravel() for m, _ in pairs])
            s = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for _, v in pairs])
            check_finite(s, "maps")
            if y.all() or not y.any():
                raise ValueError("undefined: masks contain a single class")
            fn = roc_auc_score if which == "auroc" else average_precision_score
            return float(fn(y, s))
        if score_range is None:
            lo = min(float(np.min(v)) for _, v in pairs)
            hi = max(float(np.max(v)) for _, v in pairs)
            score_range = (lo, hi if hi > lo else lo + 1.0)
        it = pairs
    else:
        if method == "exact":
            raise ValueError("method='exact' needs arrays or lists, not a lazy iterable")
        if score_range is None:
            raise ValueError("score_range=(low, high) is required to stream maps from an iterator")
        it = _pixel_pairs(masks, maps)
    acc = StreamingBinaryMetrics(score_range=score_range, n_bins=n_bins)
    for m, s in it:
        acc.update(m, s)
    return acc.auroc() if which == "auroc" else acc.average_precision()


def pixel_auroc(masks, maps, *, method="auto", n_bins=65536, score_range=None, exact_max=2**23):
    """Pixel-level (localisation) AUROC, pooling all pixels of all images.

    Definition: ROC-AUC over pixels, positive = GT mask pixel (Bergmann et al., CVPR 2019; thesis
    Paper C T L2044-2048, Paper D T L2584-2590; DRAEM's evaluation pools all pixels of a category
    into one AUROC). Voxels of 3-D volumes (BraTS) work the same way.

    ``method``: ``"exact"`` = :func:`sklearn.metrics.roc_auc_score` on all pixels; ``"hist"`` =
    :class:`StreamingBinaryMetrics` (constant memory, error bound documented there); ``"auto"``
    (default) = exact up to ``exact_max`` pixels (~8.4 M, e.g. 128 maps of 256x256), histogram
    above. Lazy iterables (generators) are always streamed and then need ``score_range``; for
    materialised inputs the range defaults to the data's min/max.

    Args:
        masks: array (N, ...) of 0/1 masks, or a sequence/iterable of per-image masks.
        maps: anomaly maps of the same shapes (higher = more anomalous).
    """
    return _pixel_metric(masks, maps, "auroc", method, n_bins, score_range, exact_max)


def pixel_ap(masks, maps, *, method="auto", n_bins=65536, score_range=None, exact_max=2**23):
    """Pixel-level average precision (AP), pooling all pixels of all images.

    Definition: ``AP = sum_k (R_k - R_{k-1}) P_k`` over decreasing thresholds
    (:func:`sklearn.metrics.average_precision_score`, as in DRAEM's evaluation); "the more
    challenging AP metric" of thesis Paper C (T L2142) and Paper D Tables D.3/D.4.

    Arguments and ``method`` as in :func:`pixel_auroc`.
    """
    return _pixel_metric(masks, maps, "ap", method, n_bins, score_range, exact_max)
