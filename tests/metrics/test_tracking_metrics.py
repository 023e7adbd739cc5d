"""Tests of vadlib.metrics.tracking (and the MOTChallenge files of vadlib.data.mot it reads) against
py-motmetrics' and TrackEval's published values on the vendored TUD-Campus / TUD-Stadtmitte files
(tests/fixtures/motmetrics, MIT)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vadlib.data.mot import read_mot, write_mot
from vadlib.metrics import evaluate_mot, tracking

FIX = Path(__file__).parents[1] / "fixtures" / "motmetrics"
SEQS = ["TUD-Campus", "TUD-Stadtmitte"]

# py-motmetrics tests/test_metrics.py::test_motchallenge_files (shared/specs/ecosystem.md §2.1);
# MOTP there is a distance 1 - IoU.
MOTMETRICS = pd.DataFrame(
    [[.557659, .729730, .451253, .582173, .941441, 8, 1, 6, 1, 13, 150, 7, 7, .526462, .277201],
     [.644619, .819760, .531142, .608997, .939920, 10, 5, 4, 1, 45, 452, 7, 6, .564014, .345904],
     [.624296, .799176, .512211, .602640, .940268, 18, 6, 10, 2, 58, 602, 14, 13, .555116, .330177]],
    index=SEQS + ["COMBINED"],
    columns=["IDF1", "IDP", "IDR", "Rcll", "Prcn", "GT", "MT", "PT", "ML", "FP", "FN", "IDs", "FM",
             "MOTA", "MOTP"])

# TrackEval 1.3.0, BENCHMARK='MOT15' (shared/specs/ecosystem.md §2.2), in %.
TRACKEVAL = pd.DataFrame(
    [[39.140, 41.805, 36.912, 52.646, 55.766, 7],
     [39.785, 39.227, 40.884, 56.401, 64.462, 7],
     [39.996, 39.768, 41.245, 55.512, 62.430, 14]],
    index=SEQS + ["COMBINED"], columns=["HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"])


@pytest.fixture(scope="module")
def tud():
    gt = {s: FIX / s / "gt.txt" for s in SEQS}
    pred = {s: FIX / s / "test.txt" for s in SEQS}
    return gt, pred, evaluate_mot(gt, pred, benchmark="MOT15")


def test_tud_matches_motmetrics(tud):
    res = tud[2]
    assert list(res.index) == SEQS + ["COMBINED"]
    mm = MOTMETRICS
    pairs = {"IDF1": "IDF1", "IDP": "IDP", "IDR": "IDR", "Recall": "Rcll", "Precision": "Prcn",
             "GT_IDs": "GT", "MT": "MT", "PT": "PT", "ML": "ML", "FP": "FP", "FN": "FN",
             "IDSW": "IDs", "Frag": "FM", "MOTA": "MOTA"}
    for ours, theirs in pairs.items():
        np.testing.assert_allclose(res[ours].to_numpy(float), mm[theirs].to_numpy(float),
                                   atol=1e-3, err_msg=ours)
    np.testing.assert_allclose(res["MOTP"], 1 - mm["MOTP"], atol=1e-3)  # IoU vs distance
    for c in ("IDSW", "FP", "FN", "MT", "ML"):
        assert res[c].dtype == np.int64


def test_tud_matches_trackeval_table(tud):
    res = evaluate_mot(tud[0], tud[1], benchmark="MOT15", percent=True)
    for c in TRACKEVAL.columns:
        np.testing.assert_allclose(res[c].to_numpy(float), TRACKEVAL[c].to_numpy(float),
                                   atol=1e-3, err_msg=c)
    np.testing.assert_allclose(res["HOTA"] / 100, tud[2]["HOTA"])


def test_dataframe_input_and_roundtrip(tud, tmp_path):
    gt = {s: read_mot(p) for s, p in tud[0].items()}
    pred = {s: read_mot(p) for s, p in tud[1].items()}
    assert list(gt["TUD-Campus"].columns[:7]) == ["frame", "id", "bb_left", "bb_top", "bb_width",
                                                  "bb_height", "conf"]
    assert len(gt["TUD-Campus"]) == 359 and len(pred["TUD-Stadtmitte"]) == 749
    res = evaluate_mot(gt, pred, benchmark="MOT15")
    pd.testing.assert_frame_equal(res, tud[2])
    p = write_mot(pred["TUD-Campus"], tmp_path / "x" / "TUD-Campus.txt")
    back = read_mot(p)
    np.testing.assert_allclose(back[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]],
                               pred["TUD-Campus"][["frame", "id", "bb_left", "bb_top", "bb_width",
                                                   "bb_height"]])


def _gt_df(rows):
    return pd.DataFrame(rows, columns=["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height",
                                       "conf", "class", "visibility"])


def _pred_df(rows):
    return pd.DataFrame(rows, columns=["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"])


def test_perfect_and_empty_tracker():
    gt = _gt_df([(t, i, 10 + 50 * i + t, 20, 30, 60, 1, 1, 1.0) for t in range(1, 11)
                 for i in range(3)])
    perfect = gt[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]]
    r = evaluate_mot(gt, perfect, benchmark="MOT17").loc["COMBINED"]
    for c in ("HOTA", "DetA", "AssA", "MOTA", "MOTP", "IDF1"):
        assert r[c] == pytest.approx(1.0), c
    assert (r.FP, r.FN, r.IDSW, r.MT, r.ML) == (0, 0, 0, 3, 0)
    empty = _pred_df([])
    r = evaluate_mot(gt, empty, benchmark="MOT17").loc["COMBINED"]
    assert (r.HOTA, r.MOTA, r.IDF1) == (0.0, 0.0, 0.0)
    assert (r.FP, r.FN, r.ML) == (0, 30, 3)


def test_mot17_preprocessing_distractors_and_zero_marked():
    # frame 1: a pedestrian, a distractor (class 8), a zero-marked pedestrian, a car (class 3)
    gt = _gt_df([(1, 1, 0, 0, 50, 100, 1, 1, 1.0), (1, 2, 200, 0, 50, 100, 1, 8, 1.0),
                 (1, 3, 400, 0, 50, 100, 0, 1, 1.0), (1, 4, 600, 0, 50, 100, 1, 3, 1.0)])
    pred = _pred_df([(1, 11, 0, 0, 50, 100), (1, 12, 200, 0, 50, 100), (1, 13, 400, 0, 50, 100),
                     (1, 14, 600, 0, 50, 100)])
    r17 = evaluate_mot(gt, pred, benchmark="MOT17").loc["COMBINED"]
    # only the pedestrian is GT; the box on the distractor is removed (not an FP); the boxes on the
    # zero-marked pedestrian and on the car remain and are false positives
    assert (r17.GT_Dets, r17.TP, r17.FN, r17.FP, r17.Dets) == (1, 1, 0, 2, 3)
    r15 = evaluate_mot(gt, pred, benchmark="MOT15").loc["COMBINED"]
    # MOT15: no class preprocessing; zero-marked rows are still ignored
    assert (r15.GT_Dets, r15.TP, r15.FP, r15.Dets) == (3, 3, 1, 4)


def test_numpy_alias_fallback_is_scoped(monkeypatch):
    gt = _gt_df([(1, 1, 0, 0, 50, 100, 1, 1, 1.0)])
    orig = tracking.run_trackeval
    calls = []

    def legacy(*args):  # behaves like an old TrackEval using the removed alias
        calls.append(1)
        np.float(1.0)  # noqa: NPY001
        return orig(*args)

    monkeypatch.setattr(tracking, "run_trackeval", legacy)
    r = evaluate_mot(gt, gt[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]])
    assert r.loc["COMBINED", "MOTA"] == 1.0 and len(calls) == 2
    assert "float" not in np.__dict__  # removed again after the call

    def other(*args):
        raise AttributeError("'NoneType' object has no attribute 'x'")

    monkeypatch.setattr(tracking, "run_trackeval", other)
    with pytest.raises(AttributeError, match="NoneType"):
        evaluate_mot(gt, gt)


def test_tracking_bad_input(tmp_path):
    gt = _gt_df([(1, 1, 0, 0, 50, 100, 1, 1, 1.0), (2, 1, 0, 0, 50, 100, 1, 1, 1.0)])
    pred = _pred_df([(1, 1, 0, 0, 50, 100)])
    with pytest.raises(ValueError, match="benchmark"):
        evaluate_mot(gt, pred, benchmark="MOT99")
    with pytest.raises(ValueError, match="unknown sequence"):
        evaluate_mot({"a": gt}, {"b": pred})
    with pytest.raises(ValueError, match="NaN"):
        evaluate_mot(gt, pred.assign(bb_left=np.nan))
    with pytest.raises(ValueError, match="negative width"):
        evaluate_mot(gt, pred.assign(bb_width=-5))
    with pytest.raises(ValueError, match="missing column"):
        evaluate_mot(gt, pred.drop(columns="bb_top"))
    with pytest.raises(ValueError, match="1-based"):
        evaluate_mot(gt, pred.assign(frame=0))
    with pytest.raises(ValueError, match="beyond seq_lengths"):
        evaluate_mot(gt, pred, seq_lengths={"seq": 1})
    with pytest.raises(ValueError, match="TrackEval rejected.*same ID more than once"):
        evaluate_mot(gt, pd.concat([pred, pred]))
    with pytest.raises(ValueError, match="file not found"):
        evaluate_mot(tmp_path / "nope.txt", pred)
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match=">= 6 columns"):
        read_mot(bad)
