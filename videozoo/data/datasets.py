"""``VideoDataset``: MMAction2 annotation lists as a PyTorch dataset.

Annotation lines, whitespace-separated, as MMAction2 writes them:

* videos: ``path label [label ...]``
* frame folders (decoder ``'rawframes'``): ``dir total_frames label [label ...]``

Several labels on a line make the dataset multi-label: labels become multi-hot float vectors
(MMiT). Each item is a dict ``{'inputs', 'label', 'video_id', 'index', 'error'}``; ``inputs``
is the model input of the config's test or train pipeline, or the sampled uint8 frames
``(M, H, W, C)`` with ``output='frames'`` (for resizing/cropping on the GPU with
:func:`~videozoo.data.transforms.make_views`). With ``on_error='return'`` a video that fails to
decode yields a record with an empty ``inputs`` and the message in ``error`` instead of
raising, so an evaluation can count failures; :func:`collate_videos` sets those aside.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from .decoders import VideoDecodeError, read_regular_file
from .pipeline import DataConfig, VideoTransform, create_transform, resolve_data_config

__all__ = ["Annotation", "VideoDataset", "check_num_classes", "collate_videos",
           "read_annotations"]


@dataclass(frozen=True)
class Annotation:
    path: str  # as written in the list (relative to the dataset root)
    labels: tuple[int, ...]
    total_frames: Optional[int] = None  # frame folders only
    line: int = 0  # line number in the list, for messages


def check_num_classes(num_classes: Any) -> Optional[int]:
    """None or a positive int (not a bool, float or string): a class count."""
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    return int(num_classes)


def _read_text(path: str) -> str:
    """The list as text: a regular file (a FIFO would block), UTF-8 with or without BOM."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"annotation list {path} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"annotation list {path} is not a regular file")
    data = read_regular_file(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {data[e.start]:#04x})") from None


def read_annotations(ann_file: Union[str, os.PathLike], rawframes: bool = False,
                     num_classes: Optional[int] = None, require_labels: bool = True
                     ) -> list[Annotation]:
    """Parse an MMAction2 annotation list (see the module docstring), checking every line once.

    UTF-8 with or without a BOM, LF or CRLF line ends, blank lines skipped. A malformed line, a
    label that is negative or (with ``num_classes``) not below it, a frame count that is not a
    positive integer, or (with ``require_labels``) a line without a label raises ValueError
    naming the file and line. Without ``require_labels`` a line may hold only a path (label -1:
    unlabelled videos to predict).
    """
    path = os.fspath(ann_file)
    num_classes = check_num_classes(num_classes)
    layout = "dir total_frames label [label ...]" if rawframes else "path label [label ...]"
    out = []
    for lineno, line in enumerate(_read_text(path).split("\n"), 1):
        parts = line.split()
        if not parts:
            continue

        def fail(problem: str, lineno: int = lineno, line: str = line) -> ValueError:
            return ValueError(f"{path}:{lineno}: {problem} in {line.strip()!r} (expected "
                              f"'{layout}')")

        total = None
        if rawframes:
            if len(parts) < 2:
                raise fail("no frame count")
            try:
                total = int(parts[1])
            except ValueError:
                raise fail(f"frame count {parts[1]!r} is not an integer") from None
            if total < 1:
                raise fail(f"frame count {total} is not positive")
        fields = parts[2:] if rawframes else parts[1:]
        labels = []
        for field_ in fields:
            try:
                labels.append(int(field_))
            except ValueError:
                raise fail(f"label {field_!r} is not an integer") from None
        for k in labels:
            if k < 0:
                raise fail(f"label {k} is negative")
            if num_classes is not None and k >= num_classes:
                raise fail(f"label {k} is outside [0, {num_classes}) for {num_classes} classes")
        if not labels and require_labels:
            raise fail("no label")
        out.append(Annotation(parts[0], tuple(labels), total, lineno))
    return out


class VideoDataset(Dataset):
    """Videos (or frame folders) of an annotation list, through a zoo entry's data pipeline.

    Args:
        ann_file: the annotation list.
        data_config: a :class:`DataConfig`, a zoo entry or architecture name, or a dict; its
            decoder decides the list layout (``'rawframes'``: frame folders).
        root: directory the list's paths are relative to.
        is_training: the train pipeline (random sampling and augmentation) instead of the test
            views.
        output: ``'views'`` (model input) or ``'frames'`` (sampled uint8 frames, for GPU
            preprocessing; the train pipeline only makes ``'views'``).
        on_error: ``'raise'`` or ``'return'`` (an error record, see the module docstring).
        num_classes: the model's class count: every label must lie in ``[0, num_classes)``
            (checked when the list is read, naming the line). Multi-hot labels need it; for
            them it is inferred from the zoo entry if not given.
        multi_label: force multi-hot labels (default: when any line has several labels).
        transform: a ready-made pipeline replacing the config's.
        require_labels: refuse lines without a label (default); False lets them through with
            label -1 (videos to predict, not to score).
    """

    def __init__(self, ann_file: Union[str, os.PathLike],
                 data_config: Union[DataConfig, str, dict, None] = None,
                 root: Union[str, os.PathLike] = "", is_training: bool = False,
                 output: str = "views", on_error: str = "raise",
                 num_classes: Optional[int] = None, multi_label: Optional[bool] = None,
                 transform: Optional[VideoTransform] = None,
                 require_labels: bool = True) -> None:
        if output not in ("views", "frames"):
            raise ValueError(f"output must be 'views' or 'frames', got {output!r}")
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        if transform is None:
            if data_config is None:
                raise ValueError("VideoDataset needs a data_config (e.g. a zoo entry name) or a "
                                 "transform")
            transform = create_transform(resolve_data_config(data_config), is_training)
        if is_training != transform.is_training:
            raise ValueError("is_training disagrees with the transform given")
        if is_training and output == "frames":
            raise ValueError("output='frames' is for test-time GPU preprocessing; training "
                             "returns augmented views")
        self.transform = transform
        self.cfg = transform.cfg
        self.root = os.fspath(root)
        self.is_training = is_training
        self.output = output
        self.on_error = on_error
        self.rawframes = self.cfg.decoder == "rawframes"
        num_classes = check_num_classes(num_classes)
        self.annotations = read_annotations(ann_file, self.rawframes, num_classes,
                                            require_labels)
        if not self.annotations:
            raise ValueError(f"annotation list {os.fspath(ann_file)} is empty")
        if multi_label is None:
            multi_label = any(len(a.labels) > 1 for a in self.annotations)
        self.multi_label = multi_label
        if multi_label and num_classes is None:
            num_classes = self._entry_classes()
            if num_classes is None:
                raise ValueError("multi-label annotations need num_classes")
            self._check_labels(os.fspath(ann_file), num_classes)
        self.num_classes = num_classes

    def _check_labels(self, ann_file: str, num_classes: int) -> None:
        for a in self.annotations:
            bad = [k for k in a.labels if k >= num_classes]
            if bad:
                raise ValueError(f"{ann_file}:{a.line}: label {bad[0]} is outside "
                                 f"[0, {num_classes}) for {num_classes} classes")

    def _entry_classes(self) -> Optional[int]:
        from .._registry import get_entry

        entry = get_entry(self.cfg.name)
        return entry.num_classes if entry is not None else None

    def __len__(self) -> int:
        return len(self.annotations)

    def video_path(self, index: int) -> str:
        return os.path.join(self.root, self.annotations[index].path)

    def _label(self, ann: Annotation) -> Any:
        if self.multi_label:
            target = torch.zeros(self.num_classes, dtype=torch.float32)
            for k in ann.labels:
                if not 0 <= k < self.num_classes:
                    raise ValueError(f"label {k} of {ann.path} is outside [0, {self.num_classes})")
                target[k] = 1.0
            return target
        if len(ann.labels) > 1:
            raise ValueError(f"{ann.path} has several labels but the dataset is single-label")
        return ann.labels[0] if ann.labels else -1

    def __getitem__(self, index: int) -> dict[str, Any]:
        ann = self.annotations[index]
        label = self._label(ann)
        # per-item seed from torch's RNG: differs per DataLoader worker and epoch
        rng = np.random.default_rng(int(torch.randint(2**62, (1,)))) if self.is_training \
            else None
        try:
            with self.transform.open(self.video_path(index), total_frames=ann.total_frames) \
                    as decoder:
                frames = torch.from_numpy(decoder.get_frames(
                    self.transform.sample(len(decoder), rng)))
        except VideoDecodeError as e:
            if self.on_error == "raise":
                raise
            return {"inputs": torch.empty(0), "label": self._label_tensor(label),
                    "video_id": ann.path, "index": index, "error": str(e)}
        if self.output == "views":
            inputs, label = self.transform.process(frames, label, rng)
        else:
            inputs = frames
        return {"inputs": inputs, "label": self._label_tensor(label), "video_id": ann.path,
                "index": index, "error": ""}

    @staticmethod
    def _label_tensor(label: Any) -> torch.Tensor:
        return label if isinstance(label, torch.Tensor) else torch.tensor(label, dtype=torch.long)

    def __repr__(self) -> str:
        return (f"VideoDataset({len(self)} videos, config={self.cfg.name!r}, "
                f"protocol={self.cfg.protocol!r}, training={self.is_training}, "
                f"output={self.output!r})")


def collate_videos(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch ``VideoDataset`` items: failed items go to ``'failed'`` (index, video_id, error);
    the rest are stacked (``inputs`` stays a list when shapes differ, e.g. uint8 frames of
    differently sized videos)."""
    ok = [s for s in samples if not s["error"]]
    failed = [{"index": s["index"], "video_id": s["video_id"], "error": s["error"]}
              for s in samples if s["error"]]
    inputs: Any
    if not ok:
        inputs = torch.empty(0)
    elif len({tuple(s["inputs"].shape) for s in ok}) == 1:
        inputs = torch.stack([s["inputs"] for s in ok])
    else:
        inputs = [s["inputs"] for s in ok]
    return {
        "inputs": inputs,
        "label": torch.stack([s["label"] for s in ok]) if ok else torch.empty(0, dtype=torch.long),
        "video_id": [s["video_id"] for s in ok],
        "index": torch.tensor([s["index"] for s in ok], dtype=torch.long),
        "failed": failed,
    }
