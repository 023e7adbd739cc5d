"""Multi-object tracking metrics (thesis Paper A) on TrackEval, plus MOTChallenge file helpers.

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

__all__ = ["MOT_COLUMNS", "read_mot", "write_mot", "evaluate_mot", "SUMMARY_COLUMNS"]

#: Column names used for MOTChallenge rows (MOT16/17/20 layout; MOT15 files have ``x, y, z`` world
#: coordinates (-1) in place of ``class, visibility`` plus one more column).
MOT_COLUMNS = ["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "class",
               "visibility"]
_MOT15_TAIL = ["x", "y", "z"]

#: Columns of the DataFrame returned by :func:`evaluate_mot`, in order.
SUMMARY_COLUMNS = ["HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA",
                   "MOTA", "MOTP", "IDF1", "IDP", "IDR", "Recall", "Precision",
                   "IDSW", "MT", "PT", "ML", "FP", "FN", "TP", "Frag", "GT_IDs", "GT_Dets",
                   "IDs", "Dets", "Frames"]
_FRACTION_COLUMNS = SUMMARY_COLUMNS[:15]

_BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")
_REQUIRED = ["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]


def read_mot(path) -> pd.DataFrame:
    """Read a MOTChallenge text file (``gt.txt`` or a tracker's ``<seq>.txt``).

    Format (MOTChallenge devkit; Milan et al., "MOT16: A benchmark for multi-object tracking",
    2016): one comma-separated row per box, ``frame, id, bb_left, bb_top, bb_width, bb_height,
    conf, ...`` with 1-based frames. GT files of MOT16/17/20 continue with ``class, visibility``;
    MOT15 files and tracker outputs with ``x, y, z`` (world coordinates, -1). Columns are named
    accordingly (:data:`MOT_COLUMNS`, or ``conf, x, y, z`` for 10-column files); frame and id are
    integers, the rest floats.

    Raises:
        ValueError: fewer than 6 columns or non-numeric values.
    """
    path = Path(path)
    text = path.read_text()
    if not text.strip():
        return pd.DataFrame({c: pd.Series(dtype=float) for c in MOT_COLUMNS[:7]}).astype(
            {"frame": np.int64, "id": np.int64})
    try:
        df = pd.read_csv(io.StringIO(text), header=None, sep=r"\s*,\s*|\s+", engine="python")
    except Exception as err:  # pragma: no cover - pandas message is informative enough
        raise ValueError(f"cannot parse MOTChallenge file {path}: {err}") from None
    df = df.dropna(axis=1, how="all")
    n = df.shape[1]
    if n < 6:
        raise ValueError(f"{path}: MOTChallenge rows need >= 6 columns, found {n}")
    if n == 10:
        names = MOT_COLUMNS[:7] + _MOT15_TAIL
    elif n <= len(MOT_COLUMNS):
        names = MOT_COLUMNS[:n]
    else:
        names = MOT_COLUMNS + [f"extra{i}" for i in range(n - len(MOT_COLUMNS))]
    df.columns = names
    try:
        df = df.apply(pd.to_numeric)
    except ValueError:
        raise ValueError(f"{path}: non-numeric values in a MOTChallenge file") from None
    return df.astype({"frame": np.int64, "id": np.int64})


def write_mot(df: pd.DataFrame, path, *, kind: str = "pred") -> Path:
    """Write boxes as a MOTChallenge text file.

    Rows are sorted by (frame, id) and written as ``frame, id, bb_left, bb_top, bb_width,
    bb_height, conf, ...``. ``kind="pred"`` writes the 10-column tracker layout (``conf`` default
    -1, then ``x, y, z`` = -1, or the DataFrame's ``x, y, z``); ``kind="gt"`` writes the MOT16/17
    GT layout ``conf, class, visibility`` (defaults 1, 1, 1: considered, pedestrian, visible).
    Format source: MOTChallenge devkit (Milan et al. 2016); TrackEval reads column 7 as the GT
    "consider" flag / tracker confidence and column 8 as the class.

    Raises:
        ValueError: missing required columns, NaN values, negative widths/heights.
    """
    if kind not in ("pred", "gt"):
        raise ValueError(f"kind must be 'pred' or 'gt', got {kind!r}")
    out = _canonical(df, kind, name="df")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for row in out.itertuples(index=False):
            vals = list(row)
            fh.write(",".join([str(int(vals[0])), str(int(vals[1]))]
                              + [_fmt(v) for v in vals[2:]]) + "\n")
    return path


def _fmt(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _canonical(df: pd.DataFrame, kind: str, name: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a DataFrame or a MOTChallenge file path")
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; expected {_REQUIRED} (+ optional"
                         " conf, class, visibility / x, y, z)")
    out = pd.DataFrame({c: df[c] for c in _REQUIRED})
    if kind == "gt":
        out["conf"] = df["conf"] if "conf" in df else 1
        out["class"] = df["class"] if "class" in df else 1
        out["visibility"] = df["visibility"] if "visibility" in df else 1
    else:
        out["conf"] = df["conf"] if "conf" in df else -1
        for c in _MOT15_TAIL:
            out[c] = df[c] if c in df else -1
        if "class" in df:  # TrackEval reads column 8 as the tracker class
            out["x"] = df["class"]
    try:
        out = out.apply(pd.to_numeric)
    except ValueError:
        raise ValueError(f"{name} has non-numeric values") from None
    vals = out.to_numpy(dtype=np.float64)
    if np.isnan(vals).any():
        r, c = np.argwhere(np.isnan(vals))[0]
        raise ValueError(f"{name} has NaN values (first in column {out.columns[c]!r}, row {r})")
    if (out["bb_width"] < 0).any() or (out["bb_height"] < 0).any():
        raise ValueError(f"{name} has boxes with negative width/height (x2 < x1 or y2 < y1)")
    if (out["frame"] < 1).any():
        raise ValueError(f"{name}: MOTChallenge frames are 1-based; found frame < 1")
    if (out["frame"] != np.round(out["frame"])).any() or (out["id"] != np.round(out["id"])).any():
        raise ValueError(f"{name}: frame and id must be integers")
    return out.sort_values(["frame", "id"], kind="stable").reset_index(drop=True)


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


def _run_trackeval(gt_fol, tr_fol, seq_info, benchmark, tracker):
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
            g = _canonical(_as_frame(gts[seq], f"gt[{seq!r}]"), "gt", f"gt[{seq!r}]")
            p = _canonical(_as_frame(preds[seq], f"pred[{seq!r}]"), "pred", f"pred[{seq!r}]")
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
                res = _run_trackeval(gt_fol, tr_fol, seq_info, benchmark, tracker)
            except AttributeError as err:
                if not _ALIAS_RE.search(str(err)):
                    raise
                with _legacy_numpy_aliases():
                    res = _run_trackeval(gt_fol, tr_fol, seq_info, benchmark, tracker)
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
