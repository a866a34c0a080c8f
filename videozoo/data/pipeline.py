"""Data configs and whole pipelines: from a zoo name to the tensors its numbers were measured on.

``data_config(arch, entry, protocol)`` builds a :class:`DataConfig` in one place, from the
architecture's registered facts (``videozoo._families``), the zoo entry and a test protocol;
models carry it as ``model.pretrained_cfg`` and ``resolve_data_config(model)`` reads it back; ``create_transform(cfg, is_training)`` turns it into a
callable that takes a video (path, decoder or decoded frames) and returns model input.

The view rule (what one tensor of the test output holds), as MMAction2 computes scores:

* 2D RGB (TSN, TSM, TPN-TSM; ``input_format='NCHW'``): the sampled frames of every crop, in
  crop-major order, cut into views of ``num_segments`` frames. TSM: V = crops x clips (x2 when
  twice-sampled), each the ``num_segments`` frames its head averages. TSN (``num_segments``
  None): V = 1 view holding all clips x crops frames, because TSNHead averages the *features*
  of every frame before its classifier.
* 3D (TPN SlowOnly; ``'NCTHW'``): V = crops x clips, each ``clip_len`` frames.
* Flow (``'NCHW_Flow'``): each clip of ``clip_len`` flow frames is one stack of
  ``2 * clip_len`` channels (x_t0, y_t0, x_t1, ...); stacks are then grouped as for 2D RGB, so a
  TSN flow model gets V = 1 with T = clips x crops stacks.
"""
from __future__ import annotations

import dataclasses
import os
import random
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import torch

from .._pretrained import IMAGENET_MEAN, IMAGENET_STD
from .decoders import VideoDecoder, decoder_kwargs, open_video
from .geometry import multi_scale_crop_box, random_resized_crop_box, resize_shape
from .sampling import sample_frame_indices
from .transforms import (
    ClipAugMix,
    ClipRandAugment,
    ColorJitter,
    as_frames,
    crop_frames,
    flip_frames,
    fold_views,
    make_views,
    normalize,
    resize_frames,
)

FLOW_FILENAME_TMPL = "{}_{:05d}.jpg"

# Left/right class pairs that swap under a horizontal flip (MMAction2 configs' flip_label_map).
FLIP_LABEL_MAPS: dict[str, dict[int, int]] = {
    "sthv1": {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52},
    "sthv2": {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166},
    "jester": {0: 1, 1: 0, 6: 7, 7: 6},
}
# Datasets whose labels depend on direction: no plain flip unless the entry says so.
DIRECTIONAL_DATASETS = ("sthv1", "sthv2", "jester")

__all__ = [
    "DataConfig",
    "TestTransform",
    "TrainConfig",
    "TrainTransform",
    "apply_protocol",
    "create_transform",
    "data_config",
    "resolve_data_config",
]


@dataclass(frozen=True)
class TrainConfig:
    """Training-time sampling and augmentation of a recipe (MMAction2's train_pipeline)."""

    clip_len: int = 1
    frame_interval: int = 1
    num_clips: int = 8
    dense: bool = False  # DenseSampleFrames
    resize: Optional[tuple[int, int]] = (-1, 256)  # before the random crop; None: none
    crop: str = "multiscale"  # 'multiscale' (MultiScaleCrop) | 'random_resized'
    input_size: int = 224
    scales: tuple[float, ...] = (1, 0.875, 0.75, 0.66)
    max_wh_scale_gap: int = 1
    num_fixed_crops: int = 5  # 13 in the TSM configs
    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    flip_ratio: float = 0.5
    flip_label_map: Optional[dict[int, int]] = None
    color_jitter: bool = False
    rand_augment: bool = False
    augmix: bool = False
    mixup_alpha: Optional[float] = None  # batch-level, see videozoo.data.mixing
    cutmix_alpha: Optional[float] = None

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class DataConfig:
    """Everything between a video file and a model input, for one zoo entry and test protocol."""

    name: str = ""  # zoo entry or architecture
    arch: str = ""
    protocol: str = "default"
    modality: str = "rgb"  # 'rgb' | 'flow'
    input_format: str = "NCHW"  # 'NCHW' (2D) | 'NCTHW' (3D) | 'NCHW_Flow'
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    decoder: str = "decord"  # a name from videozoo.data.list_decoders()
    filename_tmpl: Optional[str] = None  # frame folders only
    start_index: int = 0  # number of the first frame file (1 for MMAction2 frame folders)
    clip_len: int = 1
    frame_interval: int = 1
    num_clips: int = 8
    twice_sample: bool = False
    dense: bool = False
    legacy_sampling: bool = False
    resize: Optional[tuple[int, int]] = (-1, 256)
    keep_ratio: bool = True
    crop: str = "center"  # 'center' | 'three' | 'ten' | 'none'
    crop_size: int = 224
    num_segments: Optional[int] = None  # frames (flow: stacks) per view; None = all in one
    average: Optional[str] = "prob"  # how scores over views are averaged: 'prob' | 'score' | None
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def in_chans(self) -> int:
        return 2 * self.clip_len if self.modality == "flow" else 3

    def replace(self, **changes: Any) -> DataConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataConfig:
        d = dict(d)
        train = d.pop("train", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown data config keys: {sorted(unknown)}")
        for k in ("mean", "std", "resize"):
            if isinstance(d.get(k), list):
                d[k] = tuple(d[k])
        if isinstance(train, dict):  # JSON turns tuples into lists and int keys into strings
            train = {k: tuple(v) if isinstance(v, list) else v for k, v in train.items()}
            if train.get("flip_label_map"):
                train["flip_label_map"] = {int(a): int(b) for a, b in
                                           train["flip_label_map"].items()}
            train = TrainConfig(**train)
        return cls(**d, **({"train": train} if train is not None else {}))

    def __getitem__(self, key: str) -> Any:  # dict-style access, like timm's data config
        return getattr(self, key)


# --------------------------------------------------------------------------------------------
# the one place a data config is built: architecture facts, then the entry, then a test protocol
# --------------------------------------------------------------------------------------------
_PROTOCOL_FIELDS = ("clip_len", "frame_interval", "num_clips", "twice_sample", "dense",
                    "legacy_sampling", "resize", "crop", "crop_size", "num_segments", "average")


def _input_format(base: str, modality: str, clip_len: int) -> str:
    if modality == "flow":
        return "NCHW_Flow"
    return "NCTHW" if base == "NCTHW" or clip_len > 1 else "NCHW"


def apply_protocol(cfg: DataConfig, protocol: Any) -> DataConfig:
    """``cfg`` measured with ``protocol`` (a ``TestProtocol`` or its ``asdict`` form)."""
    p = protocol if isinstance(protocol, dict) else dataclasses.asdict(protocol)
    changes = {k: p[k] for k in _PROTOCOL_FIELDS if k in p}
    if changes.get("resize") is not None:
        changes["resize"] = tuple(changes["resize"])
    cfg = cfg.replace(protocol=p.get("name", cfg.protocol), **changes)
    return cfg.replace(input_format=_input_format(cfg.input_format, cfg.modality, cfg.clip_len))


def _arch_config(arch: str) -> DataConfig:
    from .._families import arch_facts

    facts = arch_facts(arch)
    cfg = DataConfig(name=arch, arch=arch, modality=facts.modality,
                     input_format=facts.input_format, train=TrainConfig(**facts.train),
                     **facts.test)
    return cfg.replace(input_format=_input_format(cfg.input_format, cfg.modality, cfg.clip_len))


def _entry_train(base: TrainConfig, entry: Any) -> TrainConfig:
    """The architecture's training config with what the entry's recipe states."""
    t, aug, ds = entry.train, entry.train.augment, entry.dataset
    train = base.replace(clip_len=t.clip_len, frame_interval=t.frame_interval,
                         num_clips=t.num_clips, dense=t.dense)
    directional = ds in DIRECTIONAL_DATASETS
    if directional:
        train = train.replace(flip_label_map=FLIP_LABEL_MAPS[ds])
    if aug.crop is not None:
        train = train.replace(crop=aug.crop)
    if aug.flip is not None or directional:  # no documented flip: keep direction-dependent labels
        train = train.replace(flip_ratio=0.5 if aug.flip else 0.0)
    if aug != type(aug)():  # a stated recipe lists every augmentation it uses
        train = train.replace(color_jitter=bool(aug.color_jitter),
                              rand_augment=bool(aug.rand_augment), augmix=bool(aug.augmix),
                              mixup_alpha=aug.mixup_alpha, cutmix_alpha=aug.cutmix_alpha)
    return train


def data_config(arch: str, entry: Any = None, protocol: Any = None) -> DataConfig:
    """The data config of ``arch`` (its registered facts), of one of its zoo entries, measured
    with ``protocol`` (a name of the entry's, a ``TestProtocol``, or None for the first)."""
    cfg = _arch_config(arch)
    if entry is None:
        if isinstance(protocol, str):
            raise ValueError(f"{arch!r} is an architecture, it has no named protocols; pass a "
                             "zoo entry name or a TestProtocol")
        return cfg if protocol is None else apply_protocol(cfg, protocol)
    proto = protocol if protocol is not None and not isinstance(protocol, str) \
        else entry.protocol(protocol)
    modality = entry.modality.lower()
    tmpl = entry.filename_tmpl
    if modality == "flow" and tmpl and tmpl.count("{") < 2:
        tmpl = FLOW_FILENAME_TMPL
    raw = entry.decoder == "rawframes"
    cfg = cfg.replace(name=entry.name, modality=modality, mean=tuple(entry.mean),
                      std=tuple(entry.std), decoder=entry.decoder,
                      filename_tmpl=tmpl if raw else None,
                      start_index=entry.start_index if raw else 0,
                      train=_entry_train(cfg.train, entry))
    return apply_protocol(cfg, proto)


def _from_pretrained_cfg(cfg: dict[str, Any], protocol: Any) -> DataConfig:
    """A model's own data config (``model.pretrained_cfg``), no lookup by name."""
    known = {f.name for f in dataclasses.fields(DataConfig)}
    base = DataConfig.from_dict({k: v for k, v in cfg.items() if k in known})
    if protocol is None:
        return base
    if isinstance(protocol, str):
        protocols = cfg.get("test_protocols") or {}
        if protocol not in protocols:
            raise KeyError(f"{cfg.get('name')} has no test protocol {protocol!r}; it has: "
                           f"{', '.join(protocols) or 'none (an architecture)'}")
        protocol = protocols[protocol]
    return apply_protocol(base, protocol)


def resolve_data_config(model_or_name: Union[str, torch.nn.Module, dict],
                        protocol: Any = None) -> DataConfig:
    """The data config of a zoo entry name, an architecture name or a model.

    Args:
        model_or_name: a zoo entry (or alias), an architecture (its registered usual protocol),
            a model made by ``create_model`` (read from its ``pretrained_cfg`` alone), such a
            ``pretrained_cfg`` dict, or a dict of :class:`DataConfig` fields.
        protocol: a test protocol name of the entry (e.g. ``'efficient'``), a ``TestProtocol``,
            or None for the entry's first (the one its headline number used).
    """
    from .. import _registry

    if isinstance(model_or_name, DataConfig):
        return model_or_name if protocol is None else apply_protocol(model_or_name, protocol)
    if isinstance(model_or_name, torch.nn.Module):
        model_or_name = getattr(model_or_name, "pretrained_cfg", None) or {}
        if not (model_or_name.get("name") or model_or_name.get("architecture")):
            raise ValueError("the model has no pretrained_cfg naming a zoo entry or architecture;"
                             " pass the name to resolve_data_config")
    if isinstance(model_or_name, dict):
        cfg = model_or_name
        if "architecture" not in cfg:
            return DataConfig.from_dict(cfg)
        if "input_format" in cfg:  # a full pretrained_cfg: everything is in it
            return _from_pretrained_cfg(cfg, protocol)
        name = cfg.get("name") or cfg["architecture"]  # a hand-made one: look the name up
    elif isinstance(model_or_name, str):
        name = model_or_name
    else:
        raise TypeError("resolve_data_config takes a zoo name, an architecture name, a model or a "
                        f"dict, got {type(model_or_name)}")
    arch, entry = _registry.resolve(name)  # unknown names raise with suggestions
    return data_config(arch, entry, protocol)


# --------------------------------------------------------------------------------------------
# transforms
# --------------------------------------------------------------------------------------------
VideoSource = Union[str, os.PathLike, VideoDecoder, np.ndarray, torch.Tensor]


def _rngs(rng: Any) -> tuple[Any, random.Random]:
    """(numpy RNG, python RNG) from None (the global ones, as MMAction2), a seed or an RNG."""
    if rng is None:
        return np.random.mtrand._rand, random._inst  # type: ignore[attr-defined]
    if isinstance(rng, (int, np.integer)):
        return np.random.RandomState(int(rng)), random.Random(int(rng))
    if isinstance(rng, np.random.Generator):
        return rng, random.Random(int(rng.integers(2**63)))
    if isinstance(rng, np.random.RandomState):
        return rng, random.Random(int(rng.randint(2**31)))
    raise TypeError(f"rng must be None, an int, a RandomState or a Generator, got {type(rng)}")


class VideoTransform:
    """Shared part of the test and train pipelines: sampling and decoding."""

    is_training = False

    def __init__(self, cfg: DataConfig) -> None:
        self.cfg = cfg

    def open(self, source: Union[str, os.PathLike], total_frames: Optional[int] = None,
             **kwargs: Any) -> VideoDecoder:
        """Open a file or frame folder with the config's decoder."""
        c = self.cfg
        kw = decoder_kwargs(c.decoder, c.filename_tmpl, c.start_index, c.modality, total_frames)
        return open_video(source, c.decoder, **{**kw, **kwargs})

    def sampling_kwargs(self) -> dict[str, Any]:
        c = self.cfg
        if self.is_training:
            return dict(clip_len=c.train.clip_len, frame_interval=c.train.frame_interval,
                        num_clips=c.train.num_clips, test_mode=False, dense=c.train.dense)
        return dict(clip_len=c.clip_len, frame_interval=c.frame_interval, num_clips=c.num_clips,
                    test_mode=True, twice_sample=c.twice_sample, dense=c.dense,
                    legacy=c.legacy_sampling)

    def sample(self, total_frames: int, rng: Any = None) -> np.ndarray:
        """0-based indices of the frames this pipeline reads from a video of that length."""
        return sample_frame_indices(total_frames, rng=rng, **self.sampling_kwargs())

    def load(self, video: VideoSource, rng: Any = None) -> torch.Tensor:
        """Sample and decode: uint8 ``(M, H, W, C)`` frames (only the sampled ones are read
        from a file or decoder; a decoded ``(F, H, W, C)`` array is indexed)."""
        if isinstance(video, (str, os.PathLike)):
            with self.open(video) as dec:
                return torch.from_numpy(dec.get_frames(self.sample(len(dec), rng)))
        if isinstance(video, VideoDecoder):
            return torch.from_numpy(video.get_frames(self.sample(len(video), rng)))
        frames = as_frames(video)
        if frames.ndim != 4:
            raise ValueError(f"a decoded video must be (F, H, W, C), got {tuple(frames.shape)}")
        idx = torch.from_numpy(self.sample(frames.shape[0], rng)).to(frames.device)
        return frames.index_select(0, idx)

    def process(self, frames: Any, label: Any = None, rng: Any = None) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def with_label(self, video: VideoSource, label: Any = None,
                   rng: Any = None) -> tuple[torch.Tensor, Any]:
        """``(model input, label)``; training flips may swap a left/right label."""
        if isinstance(rng, (int, np.integer)):  # one seeded stream for sampling and crops
            rng = np.random.RandomState(int(rng))
        return self.process(self.load(video, rng), label, rng)

    def __call__(self, video: VideoSource, rng: Any = None) -> torch.Tensor:
        return self.with_label(video, None, rng)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cfg.name!r}, protocol={self.cfg.protocol!r})"


class TestTransform(VideoTransform):
    """Test pipeline: a video -> float ``(V, C, T, H, W)`` views (see the module docstring)."""

    __test__ = False  # not a pytest class

    def __init__(self, cfg: DataConfig, device: Optional[Union[str, torch.device]] = None,
                 resize_backend: str = "auto") -> None:
        super().__init__(cfg)
        self.device = device
        self.resize_backend = resize_backend

    def process(self, frames: Any, label: Any = None, rng: Any = None) -> tuple[torch.Tensor, Any]:
        return make_views(frames, self.cfg, device=self.device,
                          resize_backend=self.resize_backend), label


class TrainTransform(VideoTransform):
    """Training pipeline of the recipe: random sampling, [resize short side], MultiScaleCrop or
    RandomResizedCrop, resize to the input size, flip (label swap; x-flow inverted), optional
    ColorJitter / RandAugment / AugMix, normalise -> float ``(C, T, H, W)`` (``(V, C, T, H, W)``
    for a 3D recipe sampling several clips). The same random draw covers every frame."""

    is_training = True

    def __init__(self, cfg: DataConfig) -> None:
        super().__init__(cfg)
        t = cfg.train
        if t.crop not in ("multiscale", "random_resized"):
            raise ValueError(f"train crop must be 'multiscale' or 'random_resized', got {t.crop!r}")
        rgb = cfg.modality == "rgb"
        if not rgb and (t.color_jitter or t.rand_augment or t.augmix):
            raise ValueError("photometric augmentation applies to RGB only")
        self.color_jitter = ColorJitter() if t.color_jitter else None
        self.rand_augment = ClipRandAugment() if t.rand_augment else None
        self.augmix = ClipAugMix() if t.augmix else None

    def crop_box(self, height: int, width: int, rng: Any = None) -> tuple[int, int, int, int]:
        """The random crop (x1, y1, x2, y2) of one clip."""
        t = self.cfg.train
        np_rng, py_rng = _rngs(rng)
        if t.crop == "multiscale":
            return multi_scale_crop_box(height, width, t.input_size, t.scales, t.max_wh_scale_gap,
                                        False, t.num_fixed_crops, rng=py_rng)
        return random_resized_crop_box(height, width, t.area_range, t.aspect_ratio_range,
                                       rng=py_rng, np_rng=np_rng)

    def process(self, frames: Any, label: Any = None, rng: Any = None) -> tuple[torch.Tensor, Any]:
        c, t = self.cfg, self.cfg.train
        if isinstance(rng, (int, np.integer)):
            rng = np.random.RandomState(int(rng))
        np_rng, _ = _rngs(rng)
        x = as_frames(frames).cpu()
        if t.resize is not None:
            x = resize_frames(x, resize_shape(x.shape[-3], x.shape[-2], t.resize))
        box = self.crop_box(x.shape[-3], x.shape[-2], rng)
        x = resize_frames(crop_frames(x, box).contiguous(), (t.input_size, t.input_size))
        if t.flip_ratio > 0 and np_rng.random() < t.flip_ratio:
            x = flip_frames(x, invert_x_flow=c.modality == "flow")
            if t.flip_label_map and label is not None and not isinstance(label, torch.Tensor):
                label = t.flip_label_map.get(int(label), label)
        if self.color_jitter is not None:
            x = self.color_jitter(x, np_rng)
        if self.rand_augment is not None:
            x = self.rand_augment(x)
        if self.augmix is not None:
            x = self.augmix(x)
        x = normalize(x, c.mean, c.std)
        views = fold_views(x[None, None], c.input_format, t.clip_len, None)[0]
        return (views[0] if views.shape[0] == 1 else views), label


def create_transform(data_config: Union[DataConfig, dict, str], is_training: bool = False,
                     **kwargs: Any) -> VideoTransform:
    """The test (``is_training=False``) or train pipeline of a data config (or a zoo name).

    Test: ``transform(video) -> (V, C, T, H, W)`` float views ready for the model (kwargs:
    ``device``, ``resize_backend``). Train: ``transform(video, rng) -> (C, T, H, W)``;
    ``transform.with_label(video, label)`` also applies the flip label map.
    """
    cfg = data_config if isinstance(data_config, DataConfig) else resolve_data_config(data_config)
    return TrainTransform(cfg, **kwargs) if is_training else TestTransform(cfg, **kwargs)
