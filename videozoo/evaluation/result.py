"""What ``evaluate`` returns and writes: the metrics with the zoo table's numbers beside them,
the counts, the failures, the protocol, and ``results.json``."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from .scores import RESULTS, ScoreTable

__all__ = ["EvalResult", "TABLE_VIDEO_COUNTS", "comparable_entry", "describe_protocol",
           "expected_videos", "reported_metrics", "write_results"]

# Test-set sizes the zoo tables state (dataset -> number of videos). Only Kinetics-400 is given
# in the tables ("the validation set ... consists of 19796 videos"); entries may carry their own
# ``num_test_videos``.
TABLE_VIDEO_COUNTS: dict[str, int] = {"kinetics400": 19796}


def _videozoo_version() -> str:
    import videozoo

    return str(getattr(videozoo, "__version__", "unknown"))


@dataclass
class EvalResult:
    """What ``evaluate`` measured. Metrics are percentages, as the zoo tables print them."""

    model: str
    weights: str
    protocol: dict[str, Any]  # the DataConfig used (sampling, resize, crops, views)
    average: Optional[str]
    metrics: dict[str, float]
    num_videos: int  # in the evaluated list (after ``limit``)
    num_scored: int
    num_failed: int
    failures: list[dict[str, Any]]  # {'index', 'video', 'error'}
    num_resumed: int = 0  # scored by an earlier, interrupted run and read back
    elapsed_s: float = 0.0
    videos_per_s: float = 0.0  # videos scored per second in this run (all processes)
    num_processes: int = 1
    views_per_video: Optional[int] = None
    frames_per_view: Optional[int] = None
    expected_videos: Optional[int] = None  # the test-set size the table used, when known
    reported: dict[str, float] = field(default_factory=dict)
    out_dir: Optional[str] = None
    videozoo_version: str = field(default_factory=_videozoo_version)
    table: Optional[ScoreTable] = field(default=None, repr=False)
    video_ids: Optional[list[str]] = field(default=None, repr=False)

    @property
    def scores(self) -> Optional[np.ndarray]:
        return None if self.table is None else self.table.scores

    @property
    def failed_fraction(self) -> float:
        """Failed videos over the videos of the list (0 for an empty list)."""
        return self.num_failed / self.num_videos if self.num_videos else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("table")
        d.pop("video_ids")
        return d

    def comparison(self) -> list[tuple[str, Optional[float], Optional[float]]]:
        """(metric, reported, measured) for every metric either side has."""
        keys = list(self.metrics) + [k for k in self.reported if k not in self.metrics]
        return [(k, self.reported.get(k), self.metrics.get(k)) for k in keys]

    def summary(self) -> str:
        """The report ``videozoo eval`` prints: reported vs measured, counts, protocol."""
        lines = [f"model     {self.model}  (weights: {self.weights})",
                 f"protocol  {describe_protocol(self.protocol, self.average)}"]
        if self.views_per_video:
            v = self.views_per_video
            lines[-1] += f"; {v} view{'s' if v > 1 else ''} of {self.frames_per_view} frames"
        lines.append("")
        lines.append(f"{'metric':<22}{'reported':>10}{'measured':>10}{'diff':>9}")
        for k, rep, got in self.comparison():
            r = f"{rep:10.2f}" if rep is not None else f"{'-':>10}"
            g = f"{got:10.2f}" if got is not None else f"{'-':>10}"
            dlt = f"{got - rep:+9.2f}" if rep is not None and got is not None else f"{'':>9}"
            lines.append(f"{k:<22}{r}{g}{dlt}")
        lines.append("")
        expected = f"{self.expected_videos:,}" if self.expected_videos else "unknown"
        lines.append(f"videos    {self.num_scored:,} scored, {self.num_failed:,} failed, of "
                     f"{self.num_videos:,} in the list; the table's test set: {expected}")
        if self.expected_videos and self.num_scored != self.expected_videos:
            lines.append(f"          ({self.expected_videos - self.num_scored:+,} videos "
                         "relative to the table: numbers are not strictly comparable)")
        if self.num_resumed:
            lines.append(f"resumed   {self.num_resumed:,} videos read back from {self.out_dir}")
        lines.append(f"speed     {self.videos_per_s:.2f} videos/s over {self.elapsed_s:.1f} s "
                     f"({self.num_processes} process{'es' if self.num_processes > 1 else ''})")
        for f in self.failures[:20]:
            lines.append(f"failed    [{f['index']}] {f['video']}: {f['error']}")
        if len(self.failures) > 20:
            lines.append(f"failed    ... and {len(self.failures) - 20} more (see results.json)")
        return "\n".join(lines)


def describe_protocol(cfg: dict[str, Any], average: Optional[str] = None) -> str:
    """One line: e.g. ``'default: 8 clips x 1 frame, short side 256, ten crop 224, prob'``."""
    c = cfg
    clip = f"{c['num_clips']} clips x {c['clip_len']} frame{'s' if c['clip_len'] > 1 else ''}"
    if c.get("frame_interval", 1) > 1:
        clip += f" (interval {c['frame_interval']})"
    extras = [x for x, on in (("twice-sampled", c.get("twice_sample")),
                              ("dense", c.get("dense")),
                              ("0.x sampling", c.get("legacy_sampling"))) if on]
    resize = c.get("resize")
    if resize is None:
        rs = "no resize"
    elif tuple(resize)[0] == -1:
        rs = f"short side {tuple(resize)[1]}"
    else:
        rs = f"resize {tuple(resize)}"
    avg = c.get("average", average)
    parts = [clip + (f" ({', '.join(extras)})" if extras else ""), rs,
             f"{c.get('crop', 'center')} crop {c.get('crop_size')}", f"average {avg}"]
    return f"{c.get('protocol', 'default')}: " + ", ".join(parts)


# --------------------------------------------------------------------------------------------
# the table's side
# --------------------------------------------------------------------------------------------
def _entry(entry_or_name: Any) -> Any:
    if entry_or_name is None or not isinstance(entry_or_name, str):
        return entry_or_name
    from .. import _registry

    return _registry.get_entry(entry_or_name)


def comparable_entry(entry: Any, model: Any) -> Any:
    """``entry`` when its table numbers describe ``model``, else None: a model whose head was
    reset for another data set (a fine-tuned model) has another dataset or class count in its
    ``pretrained_cfg`` and is not compared with the table of the weights it started from."""
    entry = _entry(entry)
    if entry is None:
        return None
    cfg = getattr(model, "pretrained_cfg", None) or {}
    if cfg and cfg.get("dataset") != entry.dataset:
        return None
    classes = getattr(model, "num_classes", None)
    if classes is not None and int(classes) != int(entry.num_classes):
        return None
    if cfg.get("num_classes") is not None and int(cfg["num_classes"]) != int(entry.num_classes):
        return None
    return entry


def expected_videos(entry_or_name: Any) -> Optional[int]:
    """The test-set size behind the entry's table numbers, when the zoo says it."""
    entry = _entry(entry_or_name)
    if entry is None:
        return None
    for attr in ("num_test_videos", "test_videos"):
        if getattr(entry, attr, None):
            return int(getattr(entry, attr))
    return TABLE_VIDEO_COUNTS.get(entry.dataset)


def reported_metrics(entry_or_name: Any, protocol_name: str) -> dict[str, float]:
    """The entry's reported numbers for a test protocol (rows with a note, e.g. fusions, left
    out)."""
    entry = _entry(entry_or_name)
    if entry is None:
        return {}
    out: dict[str, float] = {}
    for r in entry.reported:
        if r.protocol == protocol_name and not r.note:
            for k, v in r.metrics.items():
                out.setdefault(k, float(v))
    return out


# --------------------------------------------------------------------------------------------
# results.json
# --------------------------------------------------------------------------------------------
def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if math.isnan(float(o)) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def write_results(out_dir: Union[str, os.PathLike], result: EvalResult, multi_label: bool,
                  device: torch.device, amp: bool) -> Path:
    """``results.json``: the result, plus what ran it (versions, device, command line)."""
    out = Path(out_dir)
    report = {**result.to_dict(), "multi_label": multi_label,
              "environment": {"python": platform.python_version(),
                              "torch": torch.__version__,
                              "videozoo": result.videozoo_version,
                              "device": str(device), "amp": amp,
                              "argv": sys.argv}}
    tmp = out / f".{RESULTS}.tmp"
    tmp.write_text(json.dumps(report, indent=2, default=_json_default))
    os.replace(tmp, out / RESULTS)
    return out / RESULTS
