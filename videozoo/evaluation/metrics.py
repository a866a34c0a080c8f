"""Classification metrics with MMAction2's exact definitions (``mmaction.evaluation.functional``).

The zoo tables were measured with these, so edge cases follow MMAction2 rather than textbook
conventions: ties in ``top_k_accuracy`` are broken by numpy's default ``argsort``; mean class
accuracy averages over the classes seen in *either* the labels or the predictions (a class that
is only predicted counts 0); average precision is the step-wise area without interpolation.

Two mAPs exist and both are exported under MMAction2's names:

- ``mean_average_precision``: AP per **class** (classes without a positive are skipped);
- ``mmit_mean_average_precision``: AP per **sample**, averaged over samples. This is the number
  the Multi-Moments in Time (MMiT) table reports.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "top_k_accuracy",
    "mean_class_accuracy",
    "mean_average_precision",
    "mmit_mean_average_precision",
    "average_precision",
    "confusion_matrix",
    "compute_metrics",
]


def _as_scores(scores: Any) -> np.ndarray:
    arr = np.asarray(_to_numpy(scores))
    if arr.ndim != 2:
        raise ValueError(
            f"scores must be a (num_samples, num_classes) matrix, got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError("scores is empty: metrics need at least one sample")
    return arr


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):  # torch.Tensor without importing torch
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "detach"):
        return [v.detach().cpu().numpy() for v in x]
    return x


def _as_labels(labels: Any, num_samples: int) -> np.ndarray:
    arr = np.asarray(_to_numpy(labels))
    if arr.ndim != 1 or arr.shape[0] != num_samples:
        raise ValueError(
            f"labels must be a vector of {num_samples} class indices (one per score row), "
            f"got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"labels must be integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def top_k_accuracy(scores: Any, labels: Any, topk: Sequence[int] = (1,)) -> list[float]:
    """Fraction of samples whose label is among the ``k`` highest scores, one float per ``k``.

    Args:
        scores: ``(N, K)`` scores (logits or probabilities; only the order matters).
        labels: ``(N,)`` integer ground-truth classes.
        topk: the ``k`` values, e.g. ``(1, 5)``.
    """
    scores = _as_scores(scores)
    labels = _as_labels(labels, scores.shape[0])
    if isinstance(topk, int):
        topk = (topk,)
    order = np.argsort(scores, axis=1)  # numpy's default sort: MMAction2's tie order
    out = []
    for k in topk:
        if int(k) < 1:
            raise ValueError(f"top-k needs k >= 1, got {k}")
        best = order[:, -int(k):]
        hits = (best == labels[:, None]).any(axis=1)
        out.append(float(hits.sum() / hits.shape[0]))
    return out


def confusion_matrix(pred: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``[true, pred]`` over the union of the classes in ``labels`` and ``pred``.

    Returns the matrix and the class ids its rows/columns stand for.
    """
    pred = np.asarray(pred, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    classes = np.unique(np.concatenate([pred, labels]))
    index = np.searchsorted(classes, labels) * len(classes) + np.searchsorted(classes, pred)
    mat = np.bincount(index, minlength=len(classes) ** 2).reshape(len(classes), len(classes))
    return mat, classes


def mean_class_accuracy(scores: Any, labels: Any) -> float:
    """Mean over classes of the top-1 accuracy within each class.

    The classes averaged are those present in the labels *or* the argmax predictions; a class
    that is predicted but never the label contributes 0, as in MMAction2.
    """
    scores = _as_scores(scores)
    labels = _as_labels(labels, scores.shape[0])
    mat, _ = confusion_matrix(np.argmax(scores, axis=1), labels)
    counts = mat.sum(axis=1).astype(np.float64)
    hits = np.diag(mat).astype(np.float64)
    per_class = np.divide(hits, counts, out=np.zeros_like(hits), where=counts > 0)
    return float(np.mean(per_class))


def _precision_recall(score: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step-wise precision/recall over the distinct thresholds of one score vector.

    Scores are ranked by a stable sort reversed, so tied entries count in reverse index order
    (only where a tie straddles the full-recall point does this matter). Recall is NaN when
    ``truth`` has no positive.
    """
    positive = truth == 1
    order = np.argsort(score, kind="mergesort")[::-1]
    ranked = score[order]
    positive = positive[order]
    last_of_each_value = np.flatnonzero(np.diff(ranked))
    cut = np.concatenate([last_of_each_value, [ranked.size - 1]])
    tp = np.cumsum(positive)[cut]
    fp = cut + 1 - tp
    precision = tp / (tp + fp)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / tp[-1]
    stop = int(np.searchsorted(tp, tp[-1]))  # first threshold reaching full recall
    precision = np.concatenate([precision[stop::-1], [1.0]])
    recall = np.concatenate([recall[stop::-1], [0.0]])
    return precision, recall


def average_precision(score: Any, truth: Any) -> float:
    """Area under the step-wise precision-recall curve (no interpolation); NaN without positives."""
    score = np.asarray(_to_numpy(score), dtype=np.float64).ravel()
    truth = np.asarray(_to_numpy(truth)).ravel()
    if score.shape != truth.shape:
        raise ValueError(f"score {score.shape} and truth {truth.shape} must have the same length")
    precision, recall = _precision_recall(score, truth)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def _multi_hot(scores: np.ndarray, labels: Any) -> np.ndarray:
    labels = np.asarray(_to_numpy(labels))
    if labels.shape != scores.shape:
        raise ValueError(
            f"multi-label metrics need a (num_samples, num_classes) many-hot label matrix shaped "
            f"like the scores {scores.shape}, got {labels.shape}"
        )
    return labels


def mean_average_precision(scores: Any, multi_hot_labels: Any) -> float:
    """MMAction2's ``mean_average_precision``: AP per **class**, averaged over the classes that
    have at least one positive (the others give NaN and are dropped); NaN if none has one."""
    scores = _as_scores(scores)
    labels = _multi_hot(scores, multi_hot_labels)
    aps = [average_precision(s, t) for s, t in zip(scores.T, labels.T)]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")


def mmit_mean_average_precision(scores: Any, multi_hot_labels: Any) -> float:
    """MMAction2's ``mmit_mean_average_precision``: AP per **sample** over its classes,
    averaged over samples (the MMiT table's mAP). A sample without positives makes it NaN, as in
    MMAction2."""
    scores = _as_scores(scores)
    labels = _multi_hot(scores, multi_hot_labels)
    return float(np.mean([average_precision(s, t) for s, t in zip(scores, labels)]))


def compute_metrics(scores: Any, labels: Any, topk: Sequence[int] = (1, 5)) -> dict[str, float]:
    """The numbers a zoo table reports, in percent.

    ``labels`` ``(N,)`` (single-label) gives ``top{k}`` and ``mean_class_accuracy``; a many-hot
    ``(N, K)`` matrix gives ``mAP`` (per sample, the MMiT table's) and ``class_mAP`` (per class).
    """
    scores = _as_scores(scores)
    labels = np.asarray(_to_numpy(labels))
    if labels.ndim == 2:
        return {
            "mAP": 100.0 * mmit_mean_average_precision(scores, labels),
            "class_mAP": 100.0 * mean_average_precision(scores, labels),
        }
    ks = [k for k in topk if k <= scores.shape[1]] or [1]
    out = {f"top{k}": 100.0 * v for k, v in zip(ks, top_k_accuracy(scores, labels, ks))}
    out["mean_class_accuracy"] = 100.0 * mean_class_accuracy(scores, labels)
    return out
