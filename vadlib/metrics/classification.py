"""Classification metrics as reported for thesis Paper B (falls into water, thermal imagery).

Paper B (thesis L1824) reports accuracy, sensitivity and
specificity of a binary fall / no-fall classifier, plus confusion matrices (Fig. B.6 / 3.1).
Precision and F1 are not printed in the thesis but follow from the same counts; per-class and
support-weighted precision/recall/F1 are provided for multi-class use. Everything is computed with
scikit-learn (:mod:`sklearn.metrics`); this module fixes the conventions (label order, positive
class, zero-division value) and validates the input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

__all__ = [
    "confusion_matrix",
    "binary_counts",
    "accuracy",
    "sensitivity",
    "specificity",
    "binary_report",
    "classification_report",
    "labels_from_counts",
    "counts_consistent_with",
]


def _check(y_true, y_pred):
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.ndim != 1 or yp.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D, got shapes {yt.shape} and {yp.shape}")
    if yt.size != yp.size:
        raise ValueError(f"length mismatch: {yt.size} true labels vs {yp.size} predictions")
    if yt.size == 0:
        raise ValueError("y_true and y_pred are empty")
    for name, a in (("y_true", yt), ("y_pred", yp)):
        if pd.isna(a).any():
            raise ValueError(f"{name} contains NaN/None")
    return yt, yp


def _labels(yt, yp, labels):
    if labels is None:
        return np.unique(np.concatenate([yt, yp]))
    labels = np.asarray(labels)
    unknown = set(np.unique(np.concatenate([yt, yp])).tolist()) - set(labels.tolist())
    if unknown:
        raise ValueError(f"labels {sorted(unknown, key=str)[:10]} occur in the data but not in "
                         f"`labels`={labels.tolist()}")
    return labels


def confusion_matrix(y_true, y_pred, labels=None) -> pd.DataFrame:
    """Confusion matrix ``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``.

    Source: :func:`sklearn.metrics.confusion_matrix`; the layout of thesis Fig. B.6 / 3.1 (rows
    true class, columns predicted class). Returned as a DataFrame with index ``true`` and columns
    ``pred`` named by the labels (sorted unless ``labels`` gives the order).
    """
    yt, yp = _check(y_true, y_pred)
    labels = _labels(yt, yp, labels)
    cm = skm.confusion_matrix(yt, yp, labels=labels)
    return pd.DataFrame(cm, index=pd.Index(labels, name="true"),
                        columns=pd.Index(labels, name="pred"))


def binary_counts(y_true, y_pred, positive=1) -> dict:
    """TP, FN, TN, FP of a binary problem with positive class ``positive`` (fall = positive).

    Source: the definitions of thesis Paper B, T L1824 (every non-positive label is negative).
    """
    yt, yp = _check(y_true, y_pred)
    t, p = yt == positive, yp == positive
    return {"TP": int((t & p).sum()), "FN": int((t & ~p).sum()),
            "TN": int((~t & ~p).sum()), "FP": int((~t & p).sum())}


def accuracy(y_true, y_pred) -> float:
    """Accuracy = correctly classified / all = (TP + TN) / (TP + TN + FP + FN) for two classes.

    Source: thesis Paper B, T L1824 (Table B.2); :func:`sklearn.metrics.accuracy_score`.
    """
    yt, yp = _check(y_true, y_pred)
    return float(skm.accuracy_score(yt, yp))


def _ratio(num, den, zero_division):
    return float(num / den) if den else float(zero_division)


def sensitivity(y_true, y_pred, positive=1, zero_division=0.0) -> float:
    """Sensitivity (recall of the positive class) = TP / (TP + FN).

    Source: thesis Paper B, T L1824 ("correctly detected falls over all fall cases", Table B.3).
    Returns ``zero_division`` when there are no positives.
    """
    c = binary_counts(y_true, y_pred, positive)
    return _ratio(c["TP"], c["TP"] + c["FN"], zero_division)


def specificity(y_true, y_pred, positive=1, zero_division=0.0) -> float:
    """Specificity = TN / (TN + FP) (recall of the negative class).

    Source: thesis Paper B, T L1824 ("correctly classified no-falls over all no-falls", Table B.3).
    Returns ``zero_division`` when there are no negatives.
    """
    c = binary_counts(y_true, y_pred, positive)
    return _ratio(c["TN"], c["TN"] + c["FP"], zero_division)


def binary_report(y_true, y_pred, positive=1, *, percent=False, zero_division=0.0) -> pd.Series:
    """All Paper B numbers for one binary test: counts, accuracy, sensitivity, specificity,
    precision and F1.

    Definitions (thesis Paper B, T L1824; precision/F1 derived, not printed in the thesis):
    accuracy = (TP + TN) / N, sensitivity = TP / (TP + FN), specificity = TN / (TN + FP),
    precision = TP / (TP + FP), F1 = 2 TP / (2 TP + FP + FN). Undefined ratios (zero denominator)
    give ``zero_division``. ``percent=True`` scales the ratios to % as in Tables B.2/B.3.
    """
    c = binary_counts(y_true, y_pred, positive)
    tp, fn, tn, fp = c["TP"], c["FN"], c["TN"], c["FP"]
    r = {
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn, zero_division),
        "sensitivity": _ratio(tp, tp + fn, zero_division),
        "specificity": _ratio(tn, tn + fp, zero_division),
        "precision": _ratio(tp, tp + fp, zero_division),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, zero_division),
    }
    if percent:
        r = {k: 100.0 * v for k, v in r.items()}
    return pd.Series({**c, **r}, dtype=object)


def classification_report(y_true, y_pred, labels=None, *, zero_division=0.0) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, with macro and support-weighted averages.

    Definitions: for class ``k``, precision = TP_k / (TP_k + FP_k), recall = TP_k / (TP_k + FN_k),
    F1 = harmonic mean; "macro avg" = unweighted mean over classes; "weighted avg" = mean weighted by
    support (number of true samples of the class); "accuracy" row = overall accuracy (in every
    column but support). Source: :func:`sklearn.metrics.precision_recall_fscore_support`
    (``average=None``/``"macro"``/``"weighted"``); thesis Paper B reports the binary special case.
    """
    yt, yp = _check(y_true, y_pred)
    labels = _labels(yt, yp, labels)
    p, r, f, s = skm.precision_recall_fscore_support(yt, yp, labels=labels, average=None,
                                                     zero_division=zero_division)
    df = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s},
                      index=pd.Index([str(x) for x in labels], name="class"))
    for avg in ("macro", "weighted"):
        pa, ra, fa, _ = skm.precision_recall_fscore_support(
            yt, yp, labels=labels, average=avg, zero_division=zero_division)
        df.loc[f"{avg} avg"] = [pa, ra, fa, int(s.sum())]
    acc = float(skm.accuracy_score(yt, yp))
    df.loc["accuracy"] = [acc, acc, acc, int(s.sum())]
    df["support"] = df["support"].astype(np.int64)
    return df


def labels_from_counts(tp: int, fn: int, tn: int, fp: int):
    """``(y_true, y_pred)`` 0/1 arrays realising the given binary confusion counts.

    Lets published (or reconstructed) confusion matrices be fed to the functions above.
    """
    counts = dict(tp=tp, fn=fn, tn=tn, fp=fp)
    bad = {k: v for k, v in counts.items() if int(v) != v or v < 0}
    if bad:
        raise ValueError(f"counts must be non-negative integers, got {bad}")
    y_true = np.repeat([1, 1, 0, 0], [tp, fn, tn, fp])
    y_pred = np.repeat([1, 0, 0, 1], [tp, fn, tn, fp])
    return y_true, y_pred


def counts_consistent_with(n_positive: int, n_negative: int, printed: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Every binary confusion matrix of a test set with ``n_positive`` + ``n_negative`` samples whose
    rates match printed percentages.

    ``printed`` maps ``accuracy`` / ``sensitivity`` / ``specificity`` to ``(value in %, tolerance)``;
    the tolerance states how the value was rounded (0.005 for two printed decimals, 0.5 for a value
    rounded to a whole percent). Rates are computed by :func:`binary_report` on the labels each
    candidate (TP, TN) realises. Used to recover the confusion matrices behind Paper B's tables.
    """
    unknown = set(printed) - {"accuracy", "sensitivity", "specificity"}
    if unknown:
        raise ValueError(f"unknown rates {sorted(unknown)}; use accuracy, sensitivity, specificity")
    rows = []
    for tp in range(n_positive + 1):
        for tn in range(n_negative + 1):
            y_true, y_pred = labels_from_counts(tp, n_positive - tp, tn, n_negative - tn)
            report = binary_report(y_true, y_pred, percent=True)
            if all(abs(report[name] - value) <= tolerance + 1e-9 for name, (value, tolerance) in printed.items()):
                rows.append(report)
    columns = ["TP", "FN", "TN", "FP", "accuracy", "sensitivity", "specificity", "precision", "f1"]
    return pd.DataFrame(rows, columns=columns).reset_index(drop=True)
