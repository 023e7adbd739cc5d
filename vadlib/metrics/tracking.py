"""Multi-object tracking metrics (thesis Paper A) on TrackEval.

:func:`evaluate_mot` runs the official MOTChallenge evaluation of TrackEval (PyPI ``trackeval``,
MIT; the HOTA authors' code) -- HOTA/DetA/AssA (Luiten et al., IJCV 2021), CLEAR MOT (MOTA, MOTP,
IDSW, MT, ML, FP, FN; Bernardin & Stiefelhagen 2008) and Identity (IDF1; Ristani et al. 2016) --
on MOTChallenge-format files or DataFrames, by laying them out in a temporary TrackEval folder and
running ``trackeval.Evaluator`` with ``trackeval.datasets.MotChallenge2DBox``. Using the dataset
class (not the metrics alone) keeps the official MOT16/17/20 preprocessing: tracker boxes matched
(IoU >= 0.5) to distractor GT classes are removed, and GT rows with a zero "consider" flag or a
non-pedestrian class are ignored. MOT15 has no preprocessing, as in TrackEval.

NumPy aliases: the PyPI build (``trackeval`` 1.3.0, kovalp/TrackEval fork) no longer uses the
aliases ``np.float``/``np.int``/``np.bool`` removed in NumPy 1.24, but upstream
JonathonLuiten/TrackEval still does (JonathonLuiten/TrackEval#114). If an evaluation fails with an
``AttributeError`` about exactly those aliases, it is retried once with the aliases defined as the
Python builtins they always meant, only for the duration of that call (:func:`_legacy_numpy_aliases`);
nothing is patched otherwise.

The MOTChallenge text files are read and written by :mod:`vadlib.data.mot` (:func:`read_mot`,
:func:`write_mot`); both stay importable from here for existing callers.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.mot import MOT_COLUMNS, canonical_mot, read_mot, write_mot

# MOT_COLUMNS, read_mot, write_mot: re-exported from vadlib.data.mot for existing callers.
__all__ = ["evaluate_mot", "SUMMARY_COLUMNS", "MOT_COLUMNS", "read_mot", "write_mot"]

#: Columns of the DataFrame returned by :func:`evaluate_mot`, in order.
SUMMARY_COLUMNS = ["HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA",
                   "MOTA", "MOTP", "IDF1", "IDP", "IDR", "Recall", "Precision",
                   "IDSW", "MT", "PT", "ML", "FP", "FN", "TP", "Frag", "GT_IDs", "GT_Dets",
                   "IDs", "Dets", "Frames"]
_FRACTION_COLUMNS = SUMMARY_COLUMNS[:15]

_BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")


def _as_frame(src, name: str) -> pd.DataFrame:
    if isinstance(src, pd.DataFrame):
        return src
    if isinstance(src, (str, os.PathLike)):
        if not Path(src).is_file():
            raise ValueError(f"{name}: file not found: {src}")
        return read_mot(src)
    raise ValueError(f"{name} must be a DataFrame or a path to a MOTChallenge file")


def _as_seq_dict(x, name: str) -> dict:
    if isinstance(x, Mapping):
        if not x:
            raise ValueError(f"{name} has no sequences")
        return {str(k): v for k, v in x.items()}
    return {"seq": x}


_ALIAS_RE = re.compile(r"numpy' has no attribute '(float|int|bool|object|str|long|complex)'|"
                       r"np\.(float|int|bool|object|str|long|complex)` was a deprecated alias")


@contextlib.contextmanager
def _legacy_numpy_aliases():
    """Temporarily define the NumPy aliases removed in 1.24 (np.float -> float, ...)."""
    added = []
    for alias, typ in (("float", float), ("int", int), ("bool", bool), ("object", object),
                       ("str", str), ("long", int), ("complex", complex)):
        if alias not in np.__dict__:
            setattr(np, alias, typ)
            added.append(alias)
    try:
        yield
    finally:
        for alias in added:
            delattr(np, alias)


def run_trackeval(gt_fol, tr_fol, seq_info, benchmark, tracker):
    import trackeval  # imported lazily: it pulls in matplotlib

    eval_cfg = dict(USE_PARALLEL=False, BREAK_ON_ERROR=True, RETURN_ON_ERROR=False,
                    LOG_ON_ERROR=None, PRINT_RESULTS=False, PRINT_ONLY_COMBINED=False,
                    PRINT_CONFIG=False, TIME_PROGRESS=False, DISPLAY_LESS_PROGRESS=True,
                    OUTPUT_SUMMARY=False, OUTPUT_EMPTY_CLASSES=False, OUTPUT_DETAILED=False,
                    PLOT_CURVES=False)
    ds_cfg = dict(GT_FOLDER=gt_fol, TRACKERS_FOLDER=tr_fol, OUTPUT_FOLDER=tr_fol,
                  TRACKERS_TO_EVAL=[tracker], CLASSES_TO_EVAL=["pedestrian"],
                  BENCHMARK=benchmark, SPLIT_TO_EVAL="train", INPUT_AS_ZIP=False,
                  PRINT_CONFIG=False, DO_PREPROC=True, TRACKER_SUB_FOLDER="data",
                  OUTPUT_SUB_FOLDER="", SEQ_INFO=dict(seq_info), SKIP_SPLIT_FOL=True,
                  GT_LOC_FORMAT="{gt_folder}/{seq}/gt/gt.txt")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        evaluator = trackeval.Evaluator(eval_cfg)
        dataset = trackeval.datasets.MotChallenge2DBox(ds_cfg)
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(),
                   trackeval.metrics.Identity()]
        res, msg = evaluator.evaluate([dataset], metrics)
    return res["MotChallenge2DBox"][tracker]


def evaluate_mot(gt, pred, benchmark: str = "MOT17", *, seq_lengths=None,
                 percent: bool = False) -> pd.DataFrame:
    """Evaluate MOT tracker output against ground truth with TrackEval.

    Metrics (TrackEval ``HOTA``, ``CLEAR``, ``Identity``):

    * HOTA, DetA, AssA (+ DetRe/DetPr/AssRe/AssPr/LocA): Luiten et al., IJCV 2021; averaged over
      IoU thresholds 0.05..0.95.
    * MOTA = 1 - (FN + FP + IDSW) / #GT boxes; MOTP = mean IoU of matched pairs (the MOTChallenge
      convention, i.e. ``1 - motp`` of py-motmetrics); IDSW, MT (>= 80 % tracked), PT, ML
      (<= 20 %), FP, FN, Frag; Recall/Precision of CLEAR matching at IoU >= 0.5 (Bernardin &
      Stiefelhagen 2008).
    * IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN), IDP, IDR (Ristani et al. 2016).

    These are the metrics of thesis Paper A (T L1477-1482; MOTA, MOTP, IDF1, IDs) and the HOTA it
    names in ch. 2. ``COMBINED`` is TrackEval's combination over sequences (sums of counts, HOTA
    recomputed from the summed per-threshold statistics), as on the MOTChallenge leaderboard.

    Args:
        gt: mapping sequence name -> GT (path to a MOTChallenge ``gt.txt`` or a DataFrame as from
            :func:`read_mot`), or one GT (sequence name ``"seq"``).
        pred: the tracker output, same structure and sequence names.
        benchmark: ``"MOT15"`` (no preprocessing; e.g. the TUD sequences), ``"MOT16"``,
            ``"MOT17"`` or ``"MOT20"`` (official preprocessing: distractor classes and zero-marked
            GT rows; GT DataFrames without ``class``/``conf`` count as pedestrian/considered).
        seq_lengths: optional mapping sequence -> number of frames (default: the largest frame in
            GT or output).
        percent: report the ratio metrics in % (as the thesis tables) instead of fractions.

    Returns:
        DataFrame indexed by sequence name plus ``"COMBINED"`` with :data:`SUMMARY_COLUMNS`.

    Raises:
        ValueError: unknown benchmark, sequences present in only one of gt/pred, missing columns,
            NaN values, negative box sizes, frames beyond ``seq_lengths``, and TrackEval's own
            checks (e.g. an id repeated within a frame, a non-pedestrian tracker class).
    """
    if benchmark not in _BENCHMARKS:
        raise ValueError(f"benchmark must be one of {_BENCHMARKS}, got {benchmark!r}")
    gts, preds = _as_seq_dict(gt, "gt"), _as_seq_dict(pred, "pred")
    if set(gts) != set(preds):
        raise ValueError(
            f"unknown sequence ids: only in gt {sorted(set(gts) - set(preds))}, "
            f"only in pred {sorted(set(preds) - set(gts))}")
    seq_lengths = dict(seq_lengths or {})
    tracker = "vadlib"
    with tempfile.TemporaryDirectory(prefix="vadlib_mot_") as tmp:
        gt_fol, tr_fol = os.path.join(tmp, "gt"), os.path.join(tmp, "trackers")
        seq_info = {}
        for seq in gts:
            g = canonical_mot(_as_frame(gts[seq], f"gt[{seq!r}]"), "gt", f"gt[{seq!r}]")
            p = canonical_mot(_as_frame(preds[seq], f"pred[{seq!r}]"), "pred", f"pred[{seq!r}]")
            last = int(max(g["frame"].max() if len(g) else 1, p["frame"].max() if len(p) else 1))
            n = int(seq_lengths.get(seq, last))
            if last > n:
                raise ValueError(f"sequence {seq!r}: frame {last} is beyond seq_lengths={n}")
            seq_info[seq] = n
            write_mot(g, os.path.join(gt_fol, seq, "gt", "gt.txt"), kind="gt")
            write_mot(p, os.path.join(tr_fol, tracker, "data", f"{seq}.txt"), kind="pred")
        from trackeval.utils import TrackEvalException

        try:
            try:
                res = run_trackeval(gt_fol, tr_fol, seq_info, benchmark, tracker)
            except AttributeError as err:
                if not _ALIAS_RE.search(str(err)):
                    raise
                with _legacy_numpy_aliases():
                    res = run_trackeval(gt_fol, tr_fol, seq_info, benchmark, tracker)
        except TrackEvalException as err:  # TrackEval's own input checks -> ValueError
            raise ValueError(f"TrackEval rejected the input: {err}") from None
    rows = {}
    for seq in list(gts) + ["COMBINED_SEQ"]:
        r = res[seq]["pedestrian"]
        h, c, i, n = r["HOTA"], r["CLEAR"], r["Identity"], r["Count"]
        rows["COMBINED" if seq == "COMBINED_SEQ" else seq] = {
            "HOTA": np.mean(h["HOTA"]), "DetA": np.mean(h["DetA"]), "AssA": np.mean(h["AssA"]),
            "DetRe": np.mean(h["DetRe"]), "DetPr": np.mean(h["DetPr"]),
            "AssRe": np.mean(h["AssRe"]), "AssPr": np.mean(h["AssPr"]),
            "LocA": np.mean(h["LocA"]),
            "MOTA": c["MOTA"], "MOTP": c["MOTP"], "IDF1": i["IDF1"], "IDP": i["IDP"],
            "IDR": i["IDR"], "Recall": c["CLR_Re"], "Precision": c["CLR_Pr"],
            "IDSW": c["IDSW"], "MT": c["MT"], "PT": c["PT"], "ML": c["ML"], "FP": c["CLR_FP"],
            "FN": c["CLR_FN"], "TP": c["CLR_TP"], "Frag": c["Frag"], "GT_IDs": n["GT_IDs"],
            "GT_Dets": n["GT_Dets"], "IDs": n["IDs"], "Dets": n["Dets"],
            "Frames": c.get("CLR_Frames", np.nan),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")[SUMMARY_COLUMNS]
    out.index.name = "sequence"
    ints = SUMMARY_COLUMNS[15:]
    out[ints] = out[ints].astype(np.int64)
    out[_FRACTION_COLUMNS] = out[_FRACTION_COLUMNS].astype(np.float64)
    if percent:
        out[_FRACTION_COLUMNS] *= 100.0
    return out
