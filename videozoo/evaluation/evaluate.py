"""``evaluate``: score a model on an annotated video list the way a zoo table row was measured.

Data flow: DataLoader workers decode the sampled frames (uint8) and resize them on the CPU
(OpenCV bilinear, bit-exact MMAction2); the main process moves them to the device, normalises,
crops and folds every view of every video of the batch into one model batch
(:func:`videozoo.data.make_views`), runs the model (inference mode; autocast and channels_last on
GPU), and averages the views of each video as the protocol says:

* ``'prob'``: softmax per view, then the mean over views (TSM, TPN, MMAction2 1.x TSN);
* ``'score'``: mean of the views' logits;
* ``None``: raw logits; only for one view per video (0.x TSN: its single "view" holds every frame
  of every crop, and its head already averaged their features).

Each batch's per-video scores are appended to the output directory before the next batch (see
:mod:`videozoo.evaluation.scores`), so an interrupted run resumes where it stopped. Videos that
fail to decode (or whose decoder hangs past ``decode_timeout``) are counted and listed, and left
out of the metrics (``strict=True`` stops instead). Under ``torch.distributed`` every process
scores its share of the videos and the scores are gathered before the metrics, each video once.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import platform
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .distributed import (
    all_gather_objects,
    barrier,
    dist_info,
    gather_tables,
    local_device,
    shard,
)
from .metrics import compute_metrics
from .scores import (
    RESULTS,
    ScoreRecord,
    ScoreStore,
    ScoreTable,
    labels_to_array,
    list_fingerprint,
    save_scores,
)

__all__ = ["EvalResult", "VideoScorer", "evaluate", "average_views", "TABLE_VIDEO_COUNTS"]

# Test-set sizes the zoo tables state (dataset -> number of videos). Only Kinetics-400 is given
# in the tables ("the validation set ... consists of 19796 videos"); entries may carry their own
# ``num_test_videos``.
TABLE_VIDEO_COUNTS: dict[str, int] = {"kinetics400": 19796}

_PROTOCOL_AVERAGE = "protocol"  # sentinel: use the protocol's view averaging
AVERAGES = ("prob", "score", None)


# --------------------------------------------------------------------------------------------
# scores of one batch of videos
# --------------------------------------------------------------------------------------------
def average_views(logits: torch.Tensor, num_videos: int, average: Optional[str]) -> torch.Tensor:
    """MMAction2's ``average_clip``: ``(num_videos * V, K)`` view logits -> ``(num_videos, K)``."""
    if logits.shape[0] % num_videos:
        raise ValueError(f"{logits.shape[0]} view scores do not split over {num_videos} videos")
    x = logits.float().reshape(num_videos, -1, logits.shape[-1])
    if average == "prob":
        return x.softmax(dim=-1).mean(dim=1)
    if average == "score":
        return x.mean(dim=1)
    if average is None:
        if x.shape[1] != 1:
            raise ValueError(
                f"average=None keeps raw logits and needs one view per video, got {x.shape[1]} "
                "(TSN's single view holds all frames); use average='score' or 'prob'"
            )
        return x[:, 0]
    raise ValueError(f"average must be 'prob', 'score' or None, got {average!r}")


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def _channels_last_(model: nn.Module, enable: bool = True) -> None:
    """channels_last for 2D conv weights, channels_last_3d for 3D ones (TPN mixes both);
    ``enable=False`` puts them back in the default layout."""
    for p in model.parameters():
        if p.dim() == 4:
            fmt = torch.channels_last if enable else torch.contiguous_format
        elif p.dim() == 5:
            fmt = torch.channels_last_3d if enable else torch.contiguous_format
        else:
            continue
        p.data = p.data.contiguous(memory_format=fmt)


class VideoScorer:
    """Sampled uint8 frames (or ready views) of a batch of videos -> per-video scores.

    Keeps the largest number of views per forward pass that fitted in memory: after a CUDA
    out-of-memory error it halves it and retries, for the rest of the run.
    """

    def __init__(self, model: nn.Module, data_config: Any, device: Union[str, torch.device],
                 amp: bool = False, amp_dtype: Optional[torch.dtype] = None,
                 channels_last: bool = True, average: Any = _PROTOCOL_AVERAGE) -> None:
        self.device = torch.device(device)
        self.cfg = data_config
        self.average = data_config.average if average == _PROTOCOL_AVERAGE else average
        if self.average not in AVERAGES:
            raise ValueError(f"average must be 'prob', 'score' or None, got {self.average!r}")
        self.model = model.eval().to(self.device)
        self.channels_last = channels_last and self.device.type == "cuda"
        if self.channels_last:
            _channels_last_(self.model)
        self.amp = bool(amp) and self.device.type in ("cuda", "cpu")
        if amp_dtype is None:  # float16 on GPU; the CPU autocasts to bfloat16
            amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.amp_dtype = amp_dtype
        self.max_views: Optional[int] = None  # None: all views of the batch at once
        self.view_shape: Optional[tuple[int, ...]] = None  # (V, C, T, h, w) of the last batch

    def views(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """(n, V, C, T, h, w) float views on the device from uint8 frames (stacked or a list of
        differently sized videos) or from float views already made."""
        from ..data.transforms import make_views

        if isinstance(inputs, torch.Tensor):
            inputs = inputs.to(self.device, non_blocking=True)
            if inputs.dtype == torch.uint8:
                return make_views(inputs, self.cfg)
            return inputs.float()
        per_video = [self.views(x.unsqueeze(0)) for x in inputs]
        shapes = {tuple(v.shape[1:]) for v in per_video}
        if len(shapes) != 1:
            raise ValueError(f"videos of one batch give different view shapes: {sorted(shapes)}")
        return torch.cat(per_video)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, i = [], 0
        while i < x.shape[0]:
            step = self.max_views or x.shape[0]
            try:
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
                    outs.append(self.model(x[i:i + step]).float())
                i += step
            except (torch.cuda.OutOfMemoryError, RuntimeError) as e:
                if not _is_oom(e) or step == 1:
                    raise
                self.max_views = max(1, step // 2)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                warnings.warn(f"out of memory with {step} views per forward; retrying with "
                              f"{self.max_views}", stacklevel=2)
        return torch.cat(outs)

    def _score(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        views = self.views(inputs)
        self.view_shape = tuple(views.shape[1:])
        logits = self._forward(views.flatten(0, 1))
        return average_views(logits, views.shape[0], self.average).cpu()

    def release(self) -> None:
        """Give the model its default weight layout back (it may be trained afterwards)."""
        if self.channels_last:
            _channels_last_(self.model, enable=False)
            self.channels_last = False

    @torch.inference_mode()
    def __call__(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """(n, K) float32 scores on the CPU, views averaged per video."""
        try:
            return self._score(inputs)
        except RuntimeError as e:  # out of memory while making the views: one video at a time
            if not _is_oom(e) or len(inputs) == 1:
                raise
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        warnings.warn("out of memory while preparing a batch; scoring its videos one at a time",
                      stacklevel=2)
        return torch.cat([self._score(x.unsqueeze(0) if isinstance(inputs, torch.Tensor)
                                      else [x]) for x in inputs])


# --------------------------------------------------------------------------------------------
# data: per-video decode with a timeout, resize on the CPU
# --------------------------------------------------------------------------------------------
def _error_item(index: int, video_id: str, error: str) -> dict[str, Any]:
    return {"inputs": torch.empty(0), "label": torch.tensor(-1), "video_id": video_id,
            "index": index, "error": error}


class _EvalItems(Dataset):
    """Wraps a dataset of ``VideoDataset``-style items for evaluation: any exception becomes an
    error record, a decode running past ``timeout`` seconds is abandoned (its thread is left to
    finish on its own) and reported, and uint8 frames are resized on the CPU."""

    def __init__(self, dataset: Dataset, resize: Any = None, keep_ratio: bool = True,
                 timeout: Optional[float] = None) -> None:
        self.dataset = dataset
        self.resize = resize
        self.keep_ratio = keep_ratio
        self.timeout = timeout if timeout and timeout > 0 else None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _video_id(self, index: int) -> str:
        anns = getattr(self.dataset, "annotations", None)
        return anns[index].path if anns is not None else str(index)

    def _load(self, index: int) -> dict[str, Any]:
        if self.timeout is None:
            return self.dataset[index]
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["item"] = self.dataset[index]
            except BaseException as e:  # handed to the caller below
                box["error"] = e

        thread = threading.Thread(target=work, name=f"decode-{index}", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise TimeoutError(f"decoding took longer than {self.timeout:g} s (abandoned)")
        if "error" in box:
            raise box["error"]
        return box["item"]

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            item = self._load(index)
            if item.get("error"):
                return item
            frames = item["inputs"]
            if self.resize is not None and frames.dtype == torch.uint8 and frames.ndim == 4:
                from ..data.geometry import resize_shape
                from ..data.transforms import resize_frames

                size = resize_shape(frames.shape[1], frames.shape[2], tuple(self.resize)
                                    if isinstance(self.resize, (list, tuple)) else self.resize,
                                    self.keep_ratio)
                item["inputs"] = resize_frames(frames, size)
            return item
        except Exception as e:
            msg = str(e) if type(e).__name__ in str(e) else f"{type(e).__name__}: {e}"
            return _error_item(index, self._video_id(index), msg)


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    from ..data.datasets import collate_videos

    batch = collate_videos(samples)
    batch["all_index"] = [int(s["index"]) for s in samples]
    return batch


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------
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
    table: Optional[ScoreTable] = field(default=None, repr=False)
    video_ids: Optional[list[str]] = field(default=None, repr=False)

    @property
    def scores(self) -> Optional[np.ndarray]:
        return None if self.table is None else self.table.scores

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
# evaluate
# --------------------------------------------------------------------------------------------
def _resolve_model(model_or_name: Union[str, nn.Module], checkpoint_path: Any,
                   pretrained: Optional[bool]) -> tuple[nn.Module, str, str]:
    from .. import _registry
    from .._factory import create_model

    if isinstance(model_or_name, nn.Module):
        if checkpoint_path is not None:
            raise ValueError("checkpoint_path goes with a model name, not a built model")
        cfg = getattr(model_or_name, "pretrained_cfg", {}) or {}
        name = cfg.get("name") or cfg.get("architecture") or type(model_or_name).__name__
        return model_or_name, name, str(cfg.get("weights", "as given"))
    if not isinstance(model_or_name, str):
        raise TypeError(f"evaluate takes a model or a model name, got {type(model_or_name)}")
    arch, entry = _registry.resolve(model_or_name)
    if checkpoint_path is not None:
        model = create_model(model_or_name, checkpoint_path=checkpoint_path)
        return model, model_or_name, os.fspath(checkpoint_path)
    if pretrained is None:
        pretrained = entry is not None and entry.has_weights
    if not pretrained:
        warnings.warn(f"evaluating {model_or_name!r} with random weights (no checkpoint given)",
                      stacklevel=3)
    model = create_model(model_or_name, pretrained=pretrained)
    return model, model_or_name, "pretrained" if pretrained else "random"


def _resolve_data(model: nn.Module, name: str, dataset: Any, protocol: Any) -> Any:
    """The DataConfig: an explicit ``protocol`` wins, then a VideoDataset's own config, then the
    model's (its zoo entry's first protocol or its architecture's usual one). A VideoDataset's
    storage settings (decoder, file names) are always kept."""
    from ..data.datasets import VideoDataset
    from ..data.pipeline import DataConfig, resolve_data_config

    ds_cfg = dataset.cfg if isinstance(dataset, VideoDataset) else None
    if isinstance(protocol, (DataConfig, dict)):
        cfg = resolve_data_config(protocol)
    elif protocol is not None or ds_cfg is None:
        source = model if getattr(model, "pretrained_cfg", None) else name
        cfg = resolve_data_config(source, protocol)
    else:
        cfg = ds_cfg
    if ds_cfg is not None:
        cfg = cfg.replace(decoder=ds_cfg.decoder, filename_tmpl=ds_cfg.filename_tmpl,
                          start_index=ds_cfg.start_index)
    in_chans = getattr(model, "in_chans", None)
    if in_chans is not None and cfg.in_chans != in_chans:
        raise ValueError(f"the data config gives {cfg.in_chans}-channel views ({cfg.modality}, "
                         f"clip_len {cfg.clip_len}) but the model takes {in_chans} channels")
    return cfg


def _prepare_dataset(dataset: Any, cfg: Any) -> Dataset:
    """A VideoDataset set to return sampled uint8 frames and error records with ``cfg``'s
    sampling; other datasets are used as they are."""
    from ..data.datasets import VideoDataset
    from ..data.pipeline import create_transform

    if isinstance(dataset, VideoDataset):
        ds = copy.copy(dataset)
        ds.output = "frames"
        ds.on_error = "return"
        if ds.cfg != cfg:
            ds.transform = create_transform(cfg, is_training=False)
            ds.cfg = cfg
        return ds
    return dataset


def _labels_of(batch: dict[str, Any]) -> list[Any]:
    lab = batch["label"]
    if lab.ndim == 2:  # multi-hot
        return [np.flatnonzero(row.numpy() > 0) for row in lab]
    return [int(v) for v in lab]


def _expected_videos(name: str) -> Optional[int]:
    from .. import _registry

    entry = _registry.get_entry(name)
    if entry is None:
        return None
    for attr in ("num_test_videos", "test_videos"):
        if getattr(entry, attr, None):
            return int(getattr(entry, attr))
    return TABLE_VIDEO_COUNTS.get(entry.dataset)


def _reported(name: str, protocol_name: str) -> dict[str, float]:
    from .. import _registry

    entry = _registry.get_entry(name)
    if entry is None:
        return {}
    out: dict[str, float] = {}
    for r in entry.reported:
        if r.protocol == protocol_name and not r.note:
            for k, v in r.metrics.items():
                out.setdefault(k, float(v))
    return out


def _video_ids(dataset: Any, n: int) -> list[str]:
    anns = getattr(dataset, "annotations", None)
    if anns is not None:
        return [a.path for a in anns]
    return [str(i) for i in range(n)]


def _manifest(name: str, model: nn.Module, cfg: Any, average: Optional[str], dataset: Any,
              num_videos: int) -> dict[str, Any]:
    anns = getattr(dataset, "annotations", None)
    items = [(a.path, a.labels) for a in anns] if anns is not None else [num_videos]
    return {"model": name, "weights": _weights_fingerprint(model),
            "data_config": _protocol_dict(cfg),
            "average": average, "num_videos": num_videos, "video_list": list_fingerprint(items)}


def evaluate(
    model_or_name: Union[str, nn.Module],
    dataset_or_loader: Union[Dataset, DataLoader],
    protocol: Any = None,
    *,
    checkpoint_path: Optional[Union[str, os.PathLike]] = None,
    pretrained: Optional[bool] = None,
    device: Optional[Union[str, torch.device]] = None,
    batch_size: Optional[int] = None,
    num_workers: Optional[int] = None,
    amp: Optional[bool] = None,
    average: Any = _PROTOCOL_AVERAGE,
    out_dir: Optional[Union[str, os.PathLike]] = None,
    strict: bool = False,
    limit: Optional[int] = None,
    decode_timeout: Optional[float] = 120.0,
    channels_last: bool = True,
    retry_failed: bool = False,
    progress: bool = False,
    topk: Sequence[int] = (1, 5),
) -> EvalResult:
    """Score every video of a dataset and compute the zoo table's metrics.

    Args:
        model_or_name: a zoo entry or architecture name (built with ``create_model``), or a model.
        dataset_or_loader: a :class:`videozoo.VideoDataset` (its config gives the protocol unless
            ``protocol`` is given), any dataset with ``VideoDataset``'s item dicts, or a
            DataLoader yielding ``collate_videos`` batches (used as is: it decides what each
            process reads; videos already scored are read again but not rescored).
        protocol: a test protocol name of the entry (``'accurate'``), a ``TestProtocol``, a
            ``DataConfig`` or a dict; default: the dataset's, else the model's first protocol.
        checkpoint_path: local weights (MMAction2 ``.pth`` or videozoo ``.safetensors``) for a
            model name; ``pretrained`` (default: when the entry has weights) downloads them.
        device: default this process's GPU, else the CPU. A given model is moved there.
        batch_size: videos per batch (default 8 on GPU, 2 on CPU); views of all of them go
            through the model together, halved on out-of-memory.
        num_workers: DataLoader decode workers (default ``min(8, cpus)``).
        amp: autocast (float16) on GPU; default on for CUDA, off on the CPU.
        average: ``'prob'``, ``'score'`` or ``None`` (raw logits); default the protocol's.
        out_dir: where per-video scores are written as they are computed and ``results.json``
            at the end; rerunning with the same directory resumes.
        strict: stop at the first video that fails to decode instead of listing it.
        limit: only the first ``limit`` videos of the list.
        decode_timeout: seconds one video may take to load before it is given up as failed.
        retry_failed: on resume, try again the videos an earlier run listed as failed.
        progress: show a tqdm bar (videos/s and ETA).
    """
    from ..data.pipeline import DataConfig

    if isinstance(dataset_or_loader, DataLoader):
        loader_given: Optional[DataLoader] = dataset_or_loader
        dataset = dataset_or_loader.dataset
    else:
        loader_given, dataset = None, dataset_or_loader
    if average != _PROTOCOL_AVERAGE and isinstance(average, str) and average.lower() == "none":
        average = None
    rank, world = dist_info()
    dev = local_device(device)
    model, name, weights = _resolve_model(model_or_name, checkpoint_path, pretrained)
    cfg: DataConfig = _resolve_data(model, name, dataset, protocol)
    if average != _PROTOCOL_AVERAGE:
        cfg = cfg.replace(average=average)
    if cfg.average not in AVERAGES:
        raise ValueError(f"average must be 'prob', 'score' or None, got {cfg.average!r}")
    amp = dev.type == "cuda" if amp is None else amp
    scorer = VideoScorer(model, cfg, dev, amp=amp, channels_last=channels_last,
                         average=cfg.average)
    batch_size = batch_size or (8 if dev.type == "cuda" else 2)
    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1)

    n_total = len(dataset)
    indices = list(range(n_total if limit is None else min(int(limit), n_total)))
    if not indices:
        raise ValueError("nothing to evaluate: the dataset is empty")
    video_ids = _video_ids(dataset, n_total)
    multi_label = bool(getattr(dataset, "multi_label", False))

    # -- resume: what earlier runs already wrote -------------------------------------------------
    store: Optional[ScoreStore] = None
    previous = ScoreTable.empty()
    if out_dir is not None:
        store = ScoreStore(out_dir, rank)
        manifest = _manifest(name, model, cfg, cfg.average, dataset, n_total)
        if rank == 0:
            store.check_manifest(manifest, write=True)
        barrier()
        if rank != 0:
            store.check_manifest(manifest, write=False)
        previous = store.load()
        if retry_failed:
            previous.failures = {}
        if strict and previous.failures:
            i, err = next(iter(previous.failures.items()))
            raise RuntimeError(f"an earlier run listed {len(previous.failures)} failed videos "
                               f"(e.g. [{i}] {video_ids[i]}: {err}); strict mode refuses them. "
                               "Rerun with retry_failed=True / --retry-failed")
    done = previous.done
    # a given DataLoader decides itself what each process reads; duplicates merge by index
    mine = indices if loader_given is not None else shard(indices, rank, world)
    chunks = [mine[k:k + batch_size] for k in range(0, len(mine), batch_size)]
    pending = [[i for i in c if i not in done] for c in chunks]
    pending = [c for c in pending if c]  # whole chunks, so batches match an uninterrupted run

    # -- the loop ---------------------------------------------------------------------------------
    new_tables: list[ScoreTable] = []
    n_pending = sum(len(c) for c in pending)
    bar = None
    if progress and rank == 0 and n_pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_pending, unit="video", dynamic_ncols=True,
                   desc=f"{name}" + (f" [rank 0/{world}]" if world > 1 else ""))
    start = time.perf_counter()
    n_new_scored = 0
    if store is not None:
        store.open()
    try:
        if loader_given is not None:
            loader: Any = loader_given
        elif pending:
            items = _EvalItems(_prepare_dataset(dataset, cfg), cfg.resize, cfg.keep_ratio,
                               decode_timeout)
            loader = DataLoader(
                items, batch_sampler=pending, num_workers=num_workers, collate_fn=_collate,
                pin_memory=dev.type == "cuda",
                timeout=(decode_timeout * batch_size + 300) if num_workers and decode_timeout
                else 0,
                prefetch_factor=2 if num_workers else None,
            )
        else:
            loader = []
        wanted = set(mine) - done
        for batch in _guard(loader, out_dir):
            record = _score_batch(batch, wanted, scorer, strict, getattr(model, "num_classes", 0))
            if store is not None:
                store.append(record)
            new_tables.append(ScoreTable.from_records([record]))
            n_new_scored += int(record.ok.sum())
            multi_label = multi_label or batch["label"].ndim == 2
            wanted -= set(batch["all_index"] if "all_index" in batch else record.index.tolist())
            if bar is not None:
                bar.update(len(record.index))
                if not record.ok.all():
                    bar.set_postfix(failed=sum(len(t.failures) for t in new_tables))
    finally:
        scorer.release()
        if store is not None:
            store.close()
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start

    # -- gather and score -----------------------------------------------------------------------
    mine_set = set(mine)
    prev_mine = _restrict(previous, mine_set)
    local = ScoreTable.merge([prev_mine] + new_tables)
    table = gather_tables(local)
    stats = all_gather_objects((n_new_scored, elapsed, scorer.view_shape, multi_label))
    total_new = sum(s[0] for s in stats)
    max_elapsed = max(s[1] for s in stats)
    view_shape = next((s[2] for s in stats if s[2] is not None), None)
    multi_label = any(s[3] for s in stats) or table.is_multi_label
    table = _restrict(table, set(indices))

    if len(table):
        labels = table.multi_hot(getattr(model, "num_classes", None)) if multi_label \
            else table.single_labels()
        metrics = compute_metrics(table.scores, labels, topk)
    else:
        metrics = {}
    failures = [{"index": i, "video": video_ids[i], "error": e}
                for i, e in sorted(table.failures.items())]
    result = EvalResult(
        model=name, weights=weights, protocol=_protocol_dict(cfg), average=cfg.average,
        metrics=metrics, num_videos=len(indices), num_scored=len(table),
        num_failed=len(failures), failures=failures,
        num_resumed=len(_restrict(previous, set(indices)).done),
        elapsed_s=max_elapsed, videos_per_s=total_new / max_elapsed if max_elapsed > 0 else 0.0,
        num_processes=world,
        views_per_video=view_shape[0] if view_shape else None,
        frames_per_view=view_shape[2] if view_shape else None,
        expected_videos=_expected_videos(name), reported=_reported(name, cfg.protocol),
        out_dir=os.fspath(out_dir) if out_dir is not None else None,
        table=table, video_ids=[video_ids[i] for i in table.index.tolist()],
    )
    if out_dir is not None and rank == 0:
        out = Path(out_dir)
        save_scores(out / "scores.npz", table, names=result.video_ids,
                    average=cfg.average, multi_label=multi_label)
        report = {**result.to_dict(), "multi_label": multi_label,
                  "environment": {"python": platform.python_version(),
                                  "torch": torch.__version__,
                                  "device": str(dev), "amp": amp,
                                  "argv": sys.argv}}
        tmp = out / f".{RESULTS}.tmp"
        tmp.write_text(json.dumps(report, indent=2, default=_json_default))
        os.replace(tmp, out / RESULTS)
    barrier()
    return result


def _score_batch(batch: dict[str, Any], wanted: set[int], scorer: VideoScorer, strict: bool,
                 num_classes: int) -> ScoreRecord:
    """One ``collate_videos`` batch -> the record of its wanted videos (scored or failed)."""
    keep = [k for k, i in enumerate(batch["index"].tolist()) if i in wanted]
    failed = [f for f in batch["failed"] if int(f["index"]) in wanted]
    if strict and failed:
        f = failed[0]
        raise RuntimeError(f"video [{f['index']}] {f['video_id']} failed: {f['error']}")
    if keep:
        inputs = batch["inputs"]
        if len(keep) != len(batch["index"]):
            inputs = [inputs[k] for k in keep]
            if all(x.shape == inputs[0].shape for x in inputs):
                inputs = torch.stack(inputs)
        scores = scorer(inputs).numpy()
        all_labels = _labels_of(batch)
        labels = [all_labels[k] for k in keep]
    else:
        scores = np.zeros((0, num_classes), np.float32)
        labels = []
    ok_index = [int(batch["index"][k]) for k in keep]
    return ScoreRecord(
        index=np.asarray(ok_index + [int(f["index"]) for f in failed], dtype=np.int64),
        labels=labels_to_array(labels + [[-1]] * len(failed)),
        ok=np.array([True] * len(keep) + [False] * len(failed), dtype=bool),
        scores=scores, errors=[str(f["error"]) for f in failed])


def _guard(loader: Any, out_dir: Any) -> Any:
    """Iterate ``loader``; a stuck decoding worker (DataLoader timeout) becomes a clear error."""
    it = iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except RuntimeError as e:
            if "timed out" not in str(e):
                raise
            saved = f"; the scores so far are in {out_dir}: rerun to resume" if out_dir else ""
            raise RuntimeError(f"a decoding worker stopped responding ({e}){saved}") from e
        yield batch


def _weights_fingerprint(model: nn.Module) -> str:
    """A hash of the model's weights, so a resumed run cannot mix scores of other weights."""
    import hashlib

    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _protocol_dict(cfg: Any) -> dict[str, Any]:
    """The test-time part of a DataConfig (its training recipe is irrelevant here)."""
    d = cfg.to_dict()
    d.pop("train", None)
    return d


def _restrict(table: ScoreTable, keep: set[int]) -> ScoreTable:
    mask = np.array([int(i) in keep for i in table.index], dtype=bool)
    return ScoreTable(table.index[mask], table.labels[mask], table.scores[mask],
                      {i: e for i, e in table.failures.items() if i in keep})


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
