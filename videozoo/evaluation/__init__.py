"""Evaluation: MMAction2's metrics, the batched/distributed/resumable ``evaluate`` loop, and the
append-only per-video score store it writes."""
from . import metrics  # noqa: F401
from .evaluate import EvalResult, VideoScorer, average_views, evaluate
from .metrics import (
    compute_metrics,
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    top_k_accuracy,
)
from .scores import ScoreStore, ScoreTable, fuse_tables, load_scores, save_scores

__all__ = [
    "EvalResult",
    "ScoreStore",
    "ScoreTable",
    "VideoScorer",
    "average_views",
    "compute_metrics",
    "evaluate",
    "fuse_tables",
    "load_scores",
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "save_scores",
    "top_k_accuracy",
]
