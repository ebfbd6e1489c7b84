"""Classification metrics of docs/method.md §8, with percentile-bootstrap confidence intervals."""

from __future__ import annotations

import math

import numpy as np


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC from softmax probabilities (one-vs-rest beyond two classes); NaN with one class present
    or a probability that is not a number."""
    from sklearn import metrics as skm  # imported when used: 1.3 s a job would otherwise pay at start

    if len(np.unique(y)) < 2 or not np.isfinite(p).all():
        return float("nan")
    if p.shape[1] == 2:
        return float(skm.roc_auc_score(y, p[:, 1]))
    return float(skm.roc_auc_score(y, p, multi_class="ovr", labels=list(range(p.shape[1]))))


def discriminant_power(sens: float, spec: float) -> float:
    """DP = (√3/π)·(log10(sens/(1−sens)) + log10(spec/(1−spec))); inf at a perfect rate."""
    def logit10(r: float) -> float:
        if r <= 0:
            return -math.inf
        if r >= 1:
            return math.inf
        return math.log10(r / (1 - r))

    return math.sqrt(3) / math.pi * (logit10(sens) + logit10(spec))


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def point_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every metric of one split from labels and softmax probabilities."""
    from sklearn import metrics as skm
    pred = proba.argmax(1)
    labels = list(range(proba.shape[1]))
    out = {"accuracy": float(skm.accuracy_score(y, pred)), "auc": auc(y, proba)}
    for avg in ("weighted", "macro"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, labels=labels, average=avg, zero_division=0)
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    if proba.shape[1] == 2:
        tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
        sens, spec = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
        out.update(sensitivity=sens, specificity=spec, ppv=_ratio(tp, tp + fp), fdr=_ratio(fp, fp + tp),
                   **{"for": _ratio(fn, fn + tn)}, youden=sens + spec - 1, dp=discriminant_power(sens, spec))
        if len(np.unique(y)) == 2:
            fpr, tpr, thr = skm.roc_curve(y, proba[:, 1])
            out["youden_threshold"] = float(thr[np.argmax(tpr - fpr)])
    else:
        out["sensitivity"] = out["recall_weighted"]
    return out


BOOTSTRAPPED = ("accuracy", "auc", "f1_weighted", "f1_macro", "precision_weighted", "sensitivity", "specificity")


def bootstrap_ci(y: np.ndarray, proba: np.ndarray, n_resamples: int = 200, seed: int = 0,
                 confidence: float = 0.95) -> dict[str, list[float]]:
    """Percentile intervals of the main metrics, resampling images with replacement.

    Every metric is computed once per resample (scipy.stats.bootstrap would recompute all
    of them once per metric), so the intervals of one split share their resamples.
    """
    rng = np.random.default_rng(seed)
    draws = [point_metrics(y[idx], proba[idx]) for idx in rng.integers(0, len(y), (n_resamples, len(y)))]
    alpha = (1 - confidence) / 2
    out = {}
    for key in BOOTSTRAPPED:
        values = np.array([d.get(key, np.nan) for d in draws], dtype=float)
        if np.isfinite(values).any():
            out[key] = [float(np.nanquantile(values, alpha)), float(np.nanquantile(values, 1 - alpha))]
    return out
