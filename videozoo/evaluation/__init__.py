"""Evaluation: MMAction2's metrics, the batched/distributed/resumable ``evaluate`` loop, and the
append-only per-video score store it writes.

Modules: ``views`` (view averaging, the only place it is written), ``scorer`` (views through the
model), ``loader`` (decoding under a deadline), ``options`` (``EvalOptions``, config checks),
``result`` (``EvalResult``, its report), ``evaluate`` (the loop), ``scores`` (the score log),
``distributed``, ``metrics``."""
from . import metrics  # noqa: F401
from .evaluate import EvalOptions, EvalResult, VideoScorer, evaluate
from .metrics import (
    compute_metrics,
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    top_k_accuracy,
)
from .scores import ScoreStore, ScoreTable, fuse_tables, load_scores, save_scores
from .views import average_views, video_probabilities

__all__ = [
    "EvalOptions",
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
    "video_probabilities",
]
