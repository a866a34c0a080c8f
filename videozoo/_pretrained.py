"""Zoo entries as data: what a checkpoint is, how it was trained and how its numbers were measured.

A ``ZooEntry`` is to videozoo what timm's ``PretrainedCfg`` plus torchvision's ``Weights`` metadata
are to images: one row of an MMAction2 model-zoo table, with the protocol that produced its numbers.
Entries never build anything; ``_builder`` reads them.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Optional

# The one definition of each normalisation, per channel of a decoded frame (0..255 values): RGB
# frames have 3 channels, optical-flow frames 2 (x, y); a flow stack of 5 frames repeats the pair.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
FLOW_MEAN = (128.0, 128.0)
FLOW_STD = (128.0, 128.0)

_CROP_TITLES = {"multiscale": "MultiScaleCrop", "random_resized": "RandomResizedCrop"}
_POLICY_TITLES = {"imgaug": "imgaug default policy", "pytorchvideo": "pytorchvideo"}


@dataclass(frozen=True)
class TestProtocol:
    """How one reported number was measured: sampling, spatial views and view averaging.

    Views per video = clips x crops where, for 2D models, one clip is ``num_segments`` frames
    (``clip_len == 1``) and for 3D models one clip is ``clip_len`` frames.
    """

    name: str = "default"  # 'efficient', 'accurate', '25x10', ... unique per entry
    clip_len: int = 1
    frame_interval: int = 1
    num_clips: int = 8  # MMAction2 SampleFrames num_clips (= segments for clip_len 1)
    twice_sample: bool = False
    dense: bool = False
    legacy_sampling: bool = False  # MMAction2 0.x SampleFrames formula (matters for clip_len > 1)
    resize: tuple[int, int] = (-1, 256)  # MMAction2 Resize scale: (-1, 256) = short side 256
    crop: str = "center"  # 'center' | 'three' | 'ten'
    crop_size: int = 224
    average: Optional[str] = "prob"  # 'prob' | 'score' | None (raw logits of the mean feature)
    num_segments: Optional[int] = None  # frames per view for 2D heads (TSM); None = all frames
    note: str = ""

    def replace(self, **changes: Any) -> TestProtocol:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Augment:
    """Training augmentation as data (MMAction2's train_pipeline); None = the architecture's
    default (see ``videozoo._families``). The prose the cards print comes from :meth:`describe`."""

    crop: Optional[str] = None  # 'multiscale' (MultiScaleCrop) | 'random_resized'
    num_fixed_crops: Optional[int] = None  # MultiScaleCrop's grid of crop places (None: its 5)
    flip: Optional[bool] = None  # horizontal flip with probability 0.5
    label_swap: bool = False  # the flip swaps left/right classes (flip_label_map)
    color_jitter: Optional[bool] = None
    rand_augment: Optional[str] = None  # RandAugment policy: 'imgaug' | 'pytorchvideo'
    augmix: Optional[str] = None  # AugMix implementation: 'pytorchvideo'
    mixup_alpha: Optional[float] = None  # batch-level MixUp, Beta(alpha, alpha)
    cutmix_alpha: Optional[float] = None

    def describe(self) -> str:
        """'MultiScaleCrop + Flip (left/right label swap) + RandAugment (imgaug default policy)'."""
        parts = [_CROP_TITLES[self.crop]] if self.crop else []
        if parts and self.num_fixed_crops:
            parts[0] += f" ({self.num_fixed_crops} fixed crops)"
        if self.flip:
            parts.append("Flip" + (" (left/right label swap)" if self.label_swap else ""))
        if self.color_jitter:
            parts.append("ColorJitter")
        if self.rand_augment:
            parts.append(f"RandAugment ({_POLICY_TITLES[self.rand_augment]})")
        if self.augmix:
            parts.append(f"AugMix ({_POLICY_TITLES[self.augmix]})")
        if self.mixup_alpha is not None:
            parts.append(f"MixUp alpha {self.mixup_alpha:g}")
        if self.cutmix_alpha is not None:
            parts.append(f"CutMix alpha {self.cutmix_alpha:g}")
        return " + ".join(parts)

    @classmethod
    def from_text(cls, text: str) -> Augment:
        """Read back what :meth:`describe` writes (for recipes written as prose by hand)."""
        d: dict[str, Any] = {}
        for part in (p.strip() for p in text.split("+") if p.strip()):
            word, _, rest = part.partition(" ")
            rest = rest.strip("() ")
            crop = {v: k for k, v in _CROP_TITLES.items()}.get(word)
            policy = {v: k for k, v in _POLICY_TITLES.items()}.get(rest, "imgaug")
            if crop:
                d["crop"] = crop
                fixed = re.fullmatch(r"(\d+) fixed crops", rest)
                if fixed:
                    d["num_fixed_crops"] = int(fixed.group(1))
            elif word == "Flip":
                d.update(flip=True, label_swap="label swap" in rest)
            elif word == "ColorJitter":
                d["color_jitter"] = True
            elif word == "RandAugment":
                d["rand_augment"] = policy
            elif word == "AugMix":
                d["augmix"] = "pytorchvideo"
            elif word in ("MixUp", "CutMix"):
                alpha = rest.split()[-1] if rest.startswith("alpha") else "0.2"
                d[f"{word.lower()}_alpha"] = float(alpha)
            else:
                raise ValueError(f"unknown augmentation {part!r} in {text!r}")
        if d and "flip" not in d:
            d["flip"] = False
        return cls(**d)

    @classmethod
    def coerce(cls, value: Any) -> Augment:
        """An Augment from an Augment, its ``asdict`` form, or its prose."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if isinstance(value, str):
            return cls.from_text(value)
        raise TypeError(f"augment must be an Augment, a dict or a string, got {type(value)}")


@dataclass(frozen=True)
class TrainProtocol:
    """The recipe that produced the checkpoint, as a user fine-tuning from it needs to know it."""

    clip_len: int = 1
    frame_interval: int = 1
    num_clips: int = 8
    epochs: Optional[int] = None
    optimizer: str = "SGD"
    lr: Optional[float] = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: Optional[str] = None  # e.g. '8 gpus x 16 videos'
    lr_schedule: str = ""  # human-readable, e.g. 'step at epochs 20, 40 (x0.1)'
    schedule: str = "step"  # 'step' | 'cosine' (machine-readable, used by videozoo.lr_scheduler)
    lr_milestones: tuple[int, ...] = ()  # epochs at which 'step' multiplies the lr by lr_gamma
    lr_gamma: float = 0.1
    warmup_epochs: float = 0.0  # linear warm-up from lr * warmup_ratio
    warmup_ratio: float = 0.1
    fc_lr5: bool = False  # TSM: 5x learning rate on the final layer
    dense: bool = False  # DenseSampleFrames (clips from a 64-frame window) instead of segments
    augment: Augment = field(default_factory=Augment)  # an Augment (a dict or prose is read)
    pretrain: str = "ImageNet"
    clip_grad: Optional[float] = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "augment", Augment.coerce(self.augment))
        if isinstance(self.lr_milestones, list):
            object.__setattr__(self, "lr_milestones", tuple(self.lr_milestones))

    @classmethod
    def from_dict(cls, d: Any) -> TrainProtocol:
        """A TrainProtocol from itself or its ``asdict`` form (``model.pretrained_cfg
        ['train_protocol']``); unknown keys raise."""
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise TypeError(f"a train protocol is a TrainProtocol or a dict, got {type(d)}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown train protocol keys: {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class ReportedResult:
    """One reported number set of a table row, with where it comes from."""

    metrics: dict[str, float]  # {'top1': 70.24, 'top5': 89.56} or {'mAP': 61.09} ...
    protocol: str = "default"  # name of the TestProtocol it was measured with
    source: str = ""  # zoo table file, e.g. '000_c51641af8350fd2d.txt'
    note: str = ""  # e.g. 'two-stream fusion with flow entry X', 'reference code'
    # 'weights' (this checkpoint), 'reference' (authors' code), 'fusion' (with `entries`),
    # 'revision' (another revision of the table), 'delta' (change against `entries`)
    kind: str = "weights"
    section: str = ""  # the table's heading, e.g. 'Kinetics-400 Data Benchmark'
    entries: tuple[str, ...] = ()  # other zoo entries the number involves (fusion, delta)


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint of the MMAction2 zoo (or a reported row without weights)."""

    name: str  # unique, stable; the MMAction2 config name, plus '.tag' when a config repeats
    arch: str  # registered architecture, e.g. 'tsm_r50'
    config: str  # MMAction2 config name (no .py)
    mmaction_version: str  # '0.x' or '1.x'
    dataset: str  # 'kinetics400', 'sthv1', 'sthv2', 'ucf101', 'hmdb51', 'diving48', 'jester', ...
    num_classes: int
    arch_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. {'num_segments': 16}
    modality: str = "rgb"  # 'rgb' | 'flow'
    in_chans: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    label_map: Optional[str] = None  # URL of the dataset's label map file
    data: str = ""  # source data as the table says: 'rawframes 340x256', 'videos short side 320'
    decoder: str = "decord"  # 'rawframes' | 'decord' (the same default as DataConfig)
    filename_tmpl: str = "img_{:05d}.jpg"  # rawframes only
    start_index: int = 0  # number of the first frame file (rawframes; MMAction2's are 1)
    train: TrainProtocol = field(default_factory=TrainProtocol)
    test_protocols: tuple[TestProtocol, ...] = (TestProtocol(),)
    reported: tuple[ReportedResult, ...] = ()
    url: Optional[str] = None  # original MMAction2 checkpoint
    sha256_prefix: Optional[str] = None  # the 8 hex digits of the checkpoint file name
    hf_hub_id: Optional[str] = None  # filled by the registry from the configurable org
    log_url: Optional[str] = None
    config_url: Optional[str] = None  # the MMAction2 config file, at the revision it was read
    flops: Optional[str] = None  # as the table reports, e.g. '32.88G'
    params: Optional[str] = None
    inference_time: Optional[float] = None  # video/s, as reported
    inference_setting: str = ""  # what inference_time ran on, e.g. '8x1 frames'
    gpu_memory_mb: Optional[int] = None  # training memory, as reported
    source_tables: tuple[str, ...] = ()
    paper: str = ""
    license: str = "apache-2.0"
    notes: tuple[str, ...] = ()  # every place where table and config disagree, and other caveats
    aliases: tuple[str, ...] = ()
    multi_label: bool = False  # several labels per video (MMiT): sigmoid/BCE, reported as mAP

    @property
    def has_weights(self) -> bool:
        return self.url is not None

    def protocol(self, name: Optional[str] = None) -> TestProtocol:
        """The named test protocol, or the first (the one the main reported number used)."""
        if name is None:
            return self.test_protocols[0]
        for p in self.test_protocols:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.test_protocols)
        raise KeyError(f"{self.name} has no test protocol {name!r}; it has: {known}")

    @property
    def metrics(self) -> dict[str, float]:
        """Headline metrics of the entry's own weights (``kind == 'weights'`` results).

        Bare keys (``top1``, ``top5``, ``mAP``) are the numbers of the default (first) test
        protocol, the one ``resolve_data_config`` uses. When the weights were measured with
        several protocols, every protocol's numbers are also given with its name as suffix
        (``top1_efficient``, ``top1_accurate``; ``top1_25x10``, ``top1_25x3``). Reference-code,
        fusion, other-revision and delta numbers stay in ``reported`` only. The first table
        row wins when two rows report the same protocol.
        """
        own = [r for r in self.reported if r.kind == "weights"]
        default = self.test_protocols[0].name if self.test_protocols else None
        out: dict[str, float] = {}
        for r in own:
            if r.protocol == default:
                for k, v in r.metrics.items():
                    out.setdefault(k, v)
        if len({r.protocol for r in own}) > 1:
            for r in own:
                for k, v in r.metrics.items():
                    out.setdefault(f"{k}_{r.protocol}", v)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = self.metrics
        return d
