"""``evaluate``: score a model on an annotated video list the way a zoo table row was measured.

Data flow: DataLoader workers decode the sampled frames (uint8) under a deadline and resize them
on the CPU (:mod:`.loader`); the main process moves them to the device, makes every view of every
video of the batch into one model batch and runs the model (:mod:`.scorer`), and averages the
views of each video as the protocol says (:mod:`.views`).

Each batch's per-video scores are appended to the output directory before the next batch (see
:mod:`.scores`), so an interrupted run resumes where it stopped. Videos that fail to decode (or
whose decoder hangs past ``decode_timeout``) are counted and listed, and left out of the metrics
(``strict=True`` stops instead); a data config that cannot work is an error before any video is
read. Under ``torch.distributed`` every process scores its share of the videos and the scores are
gathered before the metrics, each video once. The result and its report: :mod:`.result`.
"""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

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
from .loader import guarded, make_loader
from .metrics import compute_metrics
from .options import EvalOptions, check_data_config
from .result import (
    TABLE_VIDEO_COUNTS,
    EvalResult,
    comparable_entry,
    expected_videos,
    reported_metrics,
    write_results,
)
from .scorer import VideoScorer
from .scores import (
    ScoreRecord,
    ScoreStore,
    ScoreTable,
    labels_to_array,
    list_fingerprint,
    save_scores,
)
from .views import PROTOCOL_AVERAGE, average_views

__all__ = ["EvalOptions", "EvalResult", "VideoScorer", "evaluate", "average_views",
           "TABLE_VIDEO_COUNTS"]


def evaluate(model_or_name: Union[str, nn.Module], dataset_or_loader: Union[Dataset, DataLoader],
             protocol: Any = None, options: Optional[EvalOptions] = None,
             **option_kwargs: Any) -> EvalResult:
    """Score every video of a dataset and compute the zoo table's metrics.

    Args:
        model_or_name: a zoo entry or architecture name (built with ``create_model``), or a model.
        dataset_or_loader: a :class:`videozoo.VideoDataset` (its config gives the protocol unless
            ``protocol`` is given), any dataset with ``VideoDataset``'s item dicts, or a
            DataLoader yielding ``collate_videos`` batches (used as is: it decides what each
            process reads; videos already scored are read again but not rescored).
        protocol: a test protocol name of the entry (``'accurate'``), a ``TestProtocol``, a
            ``DataConfig`` or a dict; default: the dataset's, else the model's first protocol.
        options: an :class:`EvalOptions` (device, batch size, workers, output directory, ...);
            ``option_kwargs`` set the same fields one by one (``evaluate(m, ds, batch_size=4)``).

    The table's numbers are put beside the measured ones only when the model is the entry's
    (same dataset and class count): a fine-tuned model is not compared with the table its
    weights started from.
    """
    opts = EvalOptions.from_kwargs(options, option_kwargs)
    if isinstance(dataset_or_loader, DataLoader):
        loader_given: Optional[DataLoader] = dataset_or_loader
        dataset = dataset_or_loader.dataset
    else:
        loader_given, dataset = None, dataset_or_loader
    rank, world = dist_info()
    dev = local_device(opts.device)
    model, name, weights, entry = _resolve_model(model_or_name, opts.checkpoint_path,
                                                 opts.pretrained)
    cfg = _resolve_data(model, name, dataset, protocol)
    if opts.average != PROTOCOL_AVERAGE:
        cfg = cfg.replace(average=opts.average)
    check_data_config(cfg)
    amp = dev.type == "cuda" if opts.amp is None else opts.amp
    scorer = VideoScorer(model, cfg, dev, amp=amp, channels_last=opts.channels_last,
                         average=cfg.average)
    batch_size = opts.batch_size or (8 if dev.type == "cuda" else 2)
    num_workers = min(8, os.cpu_count() or 1) if opts.num_workers is None else opts.num_workers

    n_total = len(dataset)
    indices = list(range(n_total if opts.limit is None else min(opts.limit, n_total)))
    if not indices:
        raise ValueError("nothing to evaluate: the dataset is empty")
    video_ids = _video_ids(dataset, n_total)
    store, previous = _resume(opts, _manifest(name, model, cfg, dataset, n_total), rank,
                              video_ids)
    # a given DataLoader decides itself what each process reads; duplicates merge by index
    mine = indices if loader_given is not None else shard(indices, rank, world)
    chunks = [mine[k:k + batch_size] for k in range(0, len(mine), batch_size)]
    pending = [c for c in ([i for i in c if i not in previous.done] for c in chunks) if c]
    # whole chunks, so batches match an uninterrupted run

    if loader_given is not None:
        loader: Any = loader_given
    elif pending:
        loader = make_loader(dataset, cfg, pending, num_workers, opts.decode_timeout,
                             pin_memory=dev.type == "cuda")
    else:
        loader = []
    bar = None
    n_pending = sum(len(c) for c in pending)
    if opts.progress and rank == 0 and n_pending:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_pending, unit="video", dynamic_ncols=True,
                   desc=f"{name}" + (f" [rank 0/{world}]" if world > 1 else ""))
    start = time.perf_counter()
    try:
        new_tables, multi_label = _score_loader(
            loader, set(mine) - previous.done, scorer, store, opts, bar,
            getattr(model, "num_classes", 0))
    finally:
        scorer.release()
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start
    multi_label = multi_label or bool(getattr(dataset, "multi_label", False))

    # -- gather and score -----------------------------------------------------------------------
    local = ScoreTable.merge([_restrict(previous, set(mine))] + new_tables)
    table = gather_tables(local)
    n_new = sum(len(t) for t in new_tables)
    stats = all_gather_objects((n_new, elapsed, scorer.view_shape, multi_label))
    total_new = sum(s[0] for s in stats)
    max_elapsed = max(s[1] for s in stats)
    view_shape = next((s[2] for s in stats if s[2] is not None), None)
    multi_label = any(s[3] for s in stats) or table.is_multi_label
    table = _restrict(table, set(indices))

    metrics: dict[str, float] = {}
    if len(table):
        labels = table.multi_hot(getattr(model, "num_classes", None)) if multi_label \
            else table.single_labels()
        metrics = compute_metrics(table.scores, labels, opts.topk)
    failures = [{"index": i, "video": video_ids[i], "error": e}
                for i, e in sorted(table.failures.items())]
    same_table = comparable_entry(entry, model)
    result = EvalResult(
        model=name, weights=weights, protocol=_protocol_dict(cfg), average=cfg.average,
        metrics=metrics, num_videos=len(indices), num_scored=len(table),
        num_failed=len(failures), failures=failures,
        num_resumed=len(_restrict(previous, set(indices)).done),
        elapsed_s=max_elapsed, videos_per_s=total_new / max_elapsed if max_elapsed > 0 else 0.0,
        num_processes=world,
        views_per_video=view_shape[0] if view_shape else None,
        frames_per_view=view_shape[2] if view_shape else None,
        expected_videos=expected_videos(same_table),
        reported=reported_metrics(same_table, cfg.protocol),
        out_dir=os.fspath(opts.out_dir) if opts.out_dir is not None else None,
        table=table, video_ids=[video_ids[i] for i in table.index.tolist()],
    )
    if opts.out_dir is not None and rank == 0:
        save_scores(Path(opts.out_dir) / "scores.npz", table, names=result.video_ids,
                    average=cfg.average, multi_label=multi_label)
        write_results(opts.out_dir, result, multi_label, dev, amp)
    barrier()
    return result


# --------------------------------------------------------------------------------------------
# the model, the protocol, what is already done
# --------------------------------------------------------------------------------------------
class _Resolved(NamedTuple):
    model: nn.Module
    name: str
    weights: str  # where the weights came from, for the report
    entry: Any  # the zoo entry (None for an architecture or a model of unknown origin)


def _resolve_model(model_or_name: Union[str, nn.Module], checkpoint_path: Any,
                   pretrained: Optional[bool]) -> _Resolved:
    """The model, its name and its zoo entry, looked up once."""
    from .. import _registry
    from .._factory import create_model

    if isinstance(model_or_name, nn.Module):
        if checkpoint_path is not None:
            raise ValueError("checkpoint_path goes with a model name, not a built model")
        cfg = getattr(model_or_name, "pretrained_cfg", {}) or {}
        name = cfg.get("name") or cfg.get("architecture") or type(model_or_name).__name__
        entry = _registry.get_entry(cfg["name"]) if cfg.get("name") else None
        return _Resolved(model_or_name, name, str(cfg.get("weights", "as given")), entry)
    if not isinstance(model_or_name, str):
        raise TypeError(f"evaluate takes a model or a model name, got {type(model_or_name)}")
    _, entry = _registry.resolve(model_or_name)
    if checkpoint_path is not None:
        model = create_model(model_or_name, checkpoint_path=checkpoint_path)
        return _Resolved(model, model_or_name, os.fspath(checkpoint_path), entry)
    if pretrained is None:
        pretrained = entry is not None and entry.has_weights
    if not pretrained:
        warnings.warn(f"evaluating {model_or_name!r} with random weights (no checkpoint given)",
                      stacklevel=3)
    model = create_model(model_or_name, pretrained=pretrained)
    return _Resolved(model, model_or_name, "pretrained" if pretrained else "random", entry)


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


def _resume(opts: EvalOptions, manifest: dict[str, Any], rank: int, video_ids: list[str]
            ) -> tuple[Optional[ScoreStore], ScoreTable]:
    """The output directory's store (manifest checked) and what earlier runs wrote there."""
    if opts.out_dir is None:
        return None, ScoreTable.empty()
    store = ScoreStore(opts.out_dir, rank)
    if rank == 0:
        store.check_manifest(manifest, write=True)
    barrier()
    if rank != 0:
        store.check_manifest(manifest, write=False)
    previous = store.load()
    if opts.retry_failed:
        previous.failures = {}
    if opts.strict and previous.failures:
        i, err = next(iter(previous.failures.items()))
        raise RuntimeError(f"an earlier run listed {len(previous.failures)} failed videos "
                           f"(e.g. [{i}] {video_ids[i]}: {err}); strict mode refuses them. "
                           "Rerun with retry_failed=True / --retry-failed")
    return store, previous


def _manifest(name: str, model: nn.Module, cfg: Any, dataset: Any, num_videos: int
              ) -> dict[str, Any]:
    anns = getattr(dataset, "annotations", None)
    items = [(a.path, a.labels) for a in anns] if anns is not None else [num_videos]
    return {"model": name, "weights": _weights_fingerprint(model),
            "data_config": _protocol_dict(cfg),
            "average": cfg.average, "num_videos": num_videos, "video_list": list_fingerprint(items)}


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


def _video_ids(dataset: Any, n: int) -> list[str]:
    anns = getattr(dataset, "annotations", None)
    if anns is not None:
        return [a.path for a in anns]
    return [str(i) for i in range(n)]


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
def _score_loader(loader: Any, wanted: set[int], scorer: VideoScorer,
                  store: Optional[ScoreStore], opts: EvalOptions, bar: Any, num_classes: int
                  ) -> tuple[list[ScoreTable], bool]:
    """Score every wanted video the loader yields, each batch written to ``store`` before the
    next; returns the new tables and whether some labels were multi-hot."""
    tables: list[ScoreTable] = []
    multi_label = False
    if store is not None:
        store.open()
    try:
        for batch in guarded(loader, opts.out_dir):
            record = _score_batch(batch, wanted, scorer, opts.strict, num_classes)
            if store is not None:
                store.append(record)
            tables.append(ScoreTable.from_records([record]))
            multi_label = multi_label or batch["label"].ndim == 2
            wanted -= set(batch["all_index"] if "all_index" in batch else record.index.tolist())
            if bar is not None:
                bar.update(len(record.index))
                if not record.ok.all():
                    bar.set_postfix(failed=sum(len(t.failures) for t in tables))
    finally:
        if store is not None:
            store.close()
    return tables, multi_label


def _labels_of(batch: dict[str, Any]) -> list[Any]:
    lab = batch["label"]
    if lab.ndim == 2:  # multi-hot
        return [np.flatnonzero(row.numpy() > 0) for row in lab]
    return [int(v) for v in lab]


def _score_batch(batch: dict[str, Any], wanted: set[int], scorer: VideoScorer, strict: bool,
                 num_classes: int) -> ScoreRecord:
    """One ``collate_videos`` batch -> the record of its wanted videos (scored or failed)."""
    keep = [k for k, i in enumerate(batch["index"].tolist()) if i in wanted]
    failed = [f for f in batch["failed"] if int(f["index"]) in wanted]
    scores = np.zeros((0, num_classes), np.float32)
    labels: list[Any] = []
    if keep and not (strict and failed):
        inputs = batch["inputs"]
        if len(keep) != len(batch["index"]):
            inputs = [inputs[k] for k in keep]
            if all(x.shape == inputs[0].shape for x in inputs):
                inputs = torch.stack(inputs)
        scores = scorer(inputs).numpy()
        all_labels = _labels_of(batch)
        labels = [all_labels[k] for k in keep]
        finite = np.isfinite(scores).all(axis=1)
        if not finite.all():  # NaN/Inf scores would count as a wrong answer: a failure instead
            failed = failed + [{"index": int(batch["index"][keep[j]]),
                                "video_id": batch["video_id"][keep[j]],
                                "error": "the model gave non-finite scores (NaN/Inf): broken "
                                         "weights, or an overflow (try without amp)"}
                               for j in np.flatnonzero(~finite)]
            keep = [k for k, ok in zip(keep, finite) if ok]
            labels = [lab for lab, ok in zip(labels, finite) if ok]
            scores = scores[finite]
    if strict and failed:
        f = failed[0]
        raise RuntimeError(f"video [{f['index']}] {f['video_id']} failed: {f['error']}")
    ok_index = [int(batch["index"][k]) for k in keep]
    return ScoreRecord(
        index=np.asarray(ok_index + [int(f["index"]) for f in failed], dtype=np.int64),
        labels=labels_to_array(labels + [[-1]] * len(failed)),
        ok=np.array([True] * len(keep) + [False] * len(failed), dtype=bool),
        scores=scores, errors=[str(f["error"]) for f in failed])


def _restrict(table: ScoreTable, keep: set[int]) -> ScoreTable:
    mask = np.array([int(i) in keep for i in table.index], dtype=bool)
    return ScoreTable(table.index[mask], table.labels[mask], table.scores[mask],
                      {i: e for i, e in table.failures.items() if i in keep})
