"""Decoding for ``evaluate``: every video under a deadline, failures as records, resizing on the
CPU in the DataLoader workers, and a stuck worker turned into a clear error."""
from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["EvalItems", "make_loader"]


def _error_item(index: int, video_id: str, error: str) -> dict[str, Any]:
    return {"inputs": torch.empty(0), "label": torch.tensor(-1), "video_id": video_id,
            "index": index, "error": error}


def _describe(e: BaseException) -> str:
    return str(e) if type(e).__name__ in str(e) else f"{type(e).__name__}: {e}"


class EvalItems(Dataset):
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
            return _error_item(index, self._video_id(index), _describe(e))


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    from ..data.datasets import collate_videos

    batch = collate_videos(samples)
    batch["all_index"] = [int(s["index"]) for s in samples]
    return batch


def prepare_dataset(dataset: Any, cfg: Any) -> Dataset:
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


def make_loader(dataset: Any, cfg: Any, batches: Sequence[Sequence[int]], num_workers: int,
                decode_timeout: Optional[float], pin_memory: bool) -> DataLoader:
    """A DataLoader over the given batches of video indices, decoding with ``cfg``. Its own
    timeout (per batch) catches a worker that stops answering altogether."""
    items = EvalItems(prepare_dataset(dataset, cfg), cfg.resize, cfg.keep_ratio, decode_timeout)
    longest = max((len(b) for b in batches), default=1)
    return DataLoader(
        items, batch_sampler=list(batches), num_workers=num_workers, collate_fn=_collate,
        pin_memory=pin_memory,
        timeout=(decode_timeout * longest + 300) if num_workers and decode_timeout else 0,
        prefetch_factor=2 if num_workers else None,
    )


def guarded(loader: Any, out_dir: Any) -> Iterator[dict[str, Any]]:
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
