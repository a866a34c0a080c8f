"""The temporal-order demo: TSM (and TPN) learn a task that TSN cannot.

Each synthetic video shows the same grey square moving left or right over a noisy background,
from a uniformly random start on its path (:mod:`videozoo.data.synthetic`, ``kind='direction'``).
The *set* of frames of a "left" video has the same distribution as that of a "right" video, so a
single frame, or any order-free pooling of frames, carries no information about the label; only
the order of the frames does. TSN looks at each frame on its own and averages over the frames
(features or scores), which makes it exactly invariant to frame order: it cannot do better than
chance. TSM's temporal shift mixes neighbouring frames inside the backbone and so can see the
motion; so can TPN (here on a TSM backbone, or on a 3D SlowOnly one).

The run is the real path end to end: mp4 files and MMAction2 annotation lists on disk, a
:class:`~videozoo.VideoDataset` with the training transforms (MultiScaleCrop, a flip that swaps
the left/right labels), a plain fine-tuning loop (AdamW over :func:`videozoo.param_groups`, a cosine
:func:`videozoo.lr_scheduler`), then :func:`videozoo.evaluate` on the held-out list.

The two compared models start from the same weights: by default ``tsm_mobilenetv2`` and the same
network built with ``is_shift=False`` (a TSN: per-frame MobileNetV2, predictions averaged over the
frames), whose parameters are copied from the TSM before training; ``backbone='r50'`` compares
``tsm_r50`` with ``tsn_r50`` the same way (the same ResNet-50 weights; slow on a CPU). Both runs
see the same batches in the same order with the same augmentation draws.

    videozoo demo                 # or: python -m videozoo.demo  (about a minute on 2 cores)
    videozoo demo --with-tpn      # also fine-tune TPN (tpn_tsm_r50): about 3 minutes more
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

__all__ = ["DemoConfig", "DemoResult", "chance_band", "demo_data_config", "demo_failure",
           "format_results",
           "main", "make_demo_data", "run_demo", "share_weights", "train_one_model"]

FLIP_LABELS = {0: 1, 1: 0}
TSM_TARGET = 90.0  # held-out top-1 (%) the demo promises TSM reaches  # a horizontal flip turns a left-moving video into a right-moving one

# The pair of architectures each backbone choice compares: (temporal, order-blind, kwargs of the
# order-blind one). The order-blind model is built so that every weight has a counterpart in the
# temporal one (only the shift wrappers' ``.net`` differs in the keys).
BACKBONES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mobilenetv2": ("tsm_mobilenetv2", "tsm_mobilenetv2", {"is_shift": False}),
    "r50": ("tsm_r50", "tsn_r50", {}),
}

TPN_ARCHS = ("tpn_tsm_r50", "tpn_slowonly_r50")


@dataclass
class DemoConfig:
    """Sizes, budget and options of one demo run (the defaults are the documented demo)."""

    num_train: int = 256
    num_test: int = 128
    video_frames: int = 16  # frames per synthetic video
    num_segments: int = 8  # frames each model sees (TSN/TSM segment sampling)
    size: int = 64  # frame height and width
    epochs: int = 3
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 0.05  # AdamW's, decoupled; none on norms and biases
    dropout: float = 0.5  # the TSM head's
    seed: int = 0
    backbone: str = "mobilenetv2"  # 'mobilenetv2' | 'r50'
    with_tpn: bool = False
    tpn_arch: str = "tpn_tsm_r50"
    tpn_lr: float = 1e-3
    checkpoint: Optional[str] = None  # start from these weights instead of a random init
    workdir: Optional[str] = None  # where the videos go (default: a temporary directory)
    device: Optional[str] = None
    num_workers: int = 0
    threads: Optional[int] = None

    def __post_init__(self) -> None:
        if self.tpn_arch not in TPN_ARCHS:
            raise ValueError(f"tpn_arch must be one of {TPN_ARCHS}, got {self.tpn_arch!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {self.backbone!r}")
        for name in ("num_train", "num_test", "video_frames", "num_segments", "epochs",
                     "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.video_frames < self.num_segments:
            raise ValueError(f"video_frames ({self.video_frames}) must be >= num_segments "
                             f"({self.num_segments}) so that every segment has its own frame")
        if self.size < 32:
            raise ValueError(f"size must be >= 32 (the backbones downsample 32x), got {self.size}")


@dataclass
class DemoResult:
    label: str  # e.g. 'TSM'
    arch: str
    note: str  # how the model was built
    top1: float  # held-out top-1, percent
    chance: float  # percent: the held-out majority-class rate
    num_test: int
    train_loss: list[float] = field(default_factory=list)  # mean loss per epoch
    seconds: float = 0.0  # fine-tuning + evaluation wall time


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def make_demo_data(root: str | os.PathLike, cfg: DemoConfig) -> tuple[Any, Any]:
    """Write the train and held-out sets (mp4 + annotation lists) under ``root``; return both
    :class:`~videozoo.data.synthetic.SyntheticDataset` records. Different seeds: no shared
    video."""
    from .data.synthetic import make_synthetic_dataset

    root = Path(root)
    common = dict(num_classes=2, frames=cfg.video_frames, size=cfg.size, kind="direction")
    train = make_synthetic_dataset(root / "train", num_videos=cfg.num_train, seed=cfg.seed,
                                   ann_name="train_list.txt", **common)
    test = make_synthetic_dataset(root / "test", num_videos=cfg.num_test, seed=cfg.seed + 1,
                                  ann_name="test_list.txt", **common)
    return train, test


def demo_data_config(arch: str, size: int, num_segments: int, video_frames: int = 16) -> Any:
    """The architecture's data config shrunk to the demo, the same augmentation for every model:
    ``num_segments`` frames (2D models: one per segment; 3D: one clip spanning the video), one
    centre crop of ``size`` at test; MultiScaleCrop to ``size`` and a flip that swaps the
    left/right labels in training."""
    from .data.pipeline import resolve_data_config

    base = resolve_data_config(arch)
    if base.input_format == "NCTHW":  # 3D: one clip of consecutive (strided) frames
        clip = dict(clip_len=num_segments, frame_interval=max(video_frames // num_segments, 1),
                    num_clips=1)
        segments = None
    else:
        clip = dict(clip_len=1, frame_interval=1, num_clips=num_segments)
        segments = num_segments
    train = base.train.replace(**clip, resize=(-1, size), input_size=size, crop="multiscale",
                               flip_ratio=0.5, flip_label_map=dict(FLIP_LABELS),
                               color_jitter=False, rand_augment=False, augmix=False,
                               mixup_alpha=None, cutmix_alpha=None)
    return base.replace(name=arch, decoder="pyav", filename_tmpl=None, start_index=0, **clip,
                        twice_sample=False, dense=False, legacy_sampling=False,
                        resize=(-1, size), crop="center", crop_size=size,
                        num_segments=segments, average="prob", train=train)


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------
def _shift_wrappers(model: nn.Module) -> list[str]:
    from .models.layers import TemporalShift

    return [name for name, m in model.named_modules() if isinstance(m, TemporalShift)]


def share_weights(src: nn.Module, dst: nn.Module) -> None:
    """Load ``src``'s weights into ``dst``, a network of the same layout minus the temporal
    shifts (``...conv1.net.weight`` -> ``...conv1.weight``). Strict: every tensor must have its
    counterpart, of the same shape."""
    prefixes = [name + ".net." for name in _shift_wrappers(src)]
    state = {}
    for key, value in src.state_dict().items():
        for p in prefixes:
            if key.startswith(p):
                key = p[:-len("net.")] + key[len(p):]
                break
        state[key] = value
    dst.load_state_dict(state, strict=True)


def _build(arch: str, cfg: DemoConfig, checkpoint: Optional[str] = None,
           **kwargs: Any) -> nn.Module:
    from ._factory import create_model

    return create_model(arch, num_classes=2, checkpoint_path=checkpoint, dropout=cfg.dropout,
                        **kwargs)


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
def _train_loader(ann_file: str, root: str, data_cfg: Any, cfg: DemoConfig) -> DataLoader:
    from .data.datasets import VideoDataset, collate_videos

    dataset = VideoDataset(ann_file, data_cfg, root=root, is_training=True)
    generator = torch.Generator().manual_seed(cfg.seed)
    return DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                      num_workers=cfg.num_workers, collate_fn=collate_videos,
                      generator=generator, persistent_workers=cfg.num_workers > 0)


def _loss_fn(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Cross-entropy; TPN adds its auxiliary head's loss (weight 0.5) as MMAction2 trains it."""
    from .training import classification_loss

    if hasattr(model, "forward_train"):
        weight = getattr(model, "aux_loss_weight", 0.5)

        def tpn_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            logits, aux = model.forward_train(x)
            return classification_loss(logits, y) + weight * classification_loss(aux, y)
        return tpn_loss
    return lambda x, y: classification_loss(model(x), y)


def train_one_model(model: nn.Module, loader: DataLoader, epochs: int, lr: float,
                    weight_decay: float = 0.05, device: Optional[torch.device] = None,
                    log: Optional[Callable[[str], None]] = None, tag: str = "",
                    seed: int = 0) -> list[float]:
    """AdamW over :func:`videozoo.param_groups` (no decay on norms and biases) with a per-step
    cosine schedule; returns the mean training loss of every epoch.

    Why not the zoo's SGD recipe: it fine-tunes ImageNet-pretrained weights. From a random init
    at this budget, SGD (lr 0.05, momentum 0.9) blows the 1280-input classifier's logits up in
    the first steps and reaches the task in only about 7 runs out of 10 depending on the seed;
    AdamW's per-parameter steps learn it smoothly every time. The loader's own seeded generator
    fixes the order; the augmentation draws come from torch's global RNG (``VideoDataset``),
    which the model's own draws (dropout) leave alone: they use a forked RNG, seeded per step.
    So two models trained from equally seeded loaders see exactly the same batches.
    """
    from ._pretrained import TrainProtocol
    from .training import lr_scheduler, param_groups

    device = device or torch.device("cpu")
    model.to(device).train()
    optimizer = torch.optim.AdamW(param_groups(model, lr, weight_decay, recipe="tsm",
                                               fc_lr5=False), lr=lr)
    scheduler = lr_scheduler(optimizer, TrainProtocol(schedule="cosine", epochs=epochs),
                             len(loader))
    compute_loss = _loss_fn(model)
    losses, step = [], 0
    for epoch in range(epochs):
        total, count = 0.0, 0
        for batch in loader:
            x = batch["inputs"].to(device, non_blocking=True)
            y = batch["label"].to(device, non_blocking=True)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed * 1_000_003 + step)
                loss = compute_loss(x, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer.step()
            step += 1
            scheduler.step()
            total += float(loss.detach()) * len(y)
            count += len(y)
        losses.append(total / max(count, 1))
        if log:
            log(f"  {tag} epoch {epoch + 1}/{epochs}: train loss {losses[-1]:.4f}")
    return losses


@contextlib.contextmanager
def _torch_threads(n: Optional[int]) -> Iterator[None]:
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _held_out_top1(model: nn.Module, test: Any, data_cfg: Any, cfg: DemoConfig,
                   device: torch.device) -> float:
    from .data.datasets import VideoDataset
    from .evaluation import evaluate

    dataset = VideoDataset(test.ann_file, data_cfg, root=test.root)
    result = evaluate(model, dataset, device=device, batch_size=cfg.batch_size,
                      num_workers=cfg.num_workers, topk=(1,), decode_timeout=None)
    if result.num_failed:
        raise RuntimeError(f"{result.num_failed} held-out videos failed to decode: "
                           f"{result.failures[:3]}")
    return float(result.metrics["top1"])


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _fit_and_score(label: str, arch: str, note: str, model: nn.Module, data_cfg: Any,
                   train: Any, test: Any, cfg: DemoConfig, lr: float, device: torch.device,
                   log: Callable[[str], None]) -> DemoResult:
    start = time.perf_counter()
    _seed_everything(cfg.seed + 1)  # augmentation draws: the same for every model
    loader = _train_loader(train.ann_file, train.root, data_cfg, cfg)
    losses = train_one_model(model, loader, cfg.epochs, lr, cfg.weight_decay, device, log,
                             label, cfg.seed)
    top1 = _held_out_top1(model, test, data_cfg, cfg, device)
    counts = np.bincount(np.asarray(test.labels), minlength=2)
    chance = 100.0 * counts.max() / counts.sum()
    seconds = time.perf_counter() - start
    log(f"  {label}: held-out top-1 {top1:.1f}% (chance {chance:.1f}%) in {seconds:.0f} s")
    return DemoResult(label, arch, note, top1, chance, len(test.labels), losses, seconds)


def run_demo(cfg: Optional[DemoConfig] = None,
             log: Optional[Callable[[str], None]] = print) -> list[DemoResult]:
    """Write the data, fine-tune TSM and its shift-free twin (and TPN with ``with_tpn``) from the
    same weights with the same budget, evaluate each on the held-out videos."""
    from .evaluation.distributed import local_device

    cfg = cfg or DemoConfig()
    say: Callable[[str], None] = log or (lambda _msg: None)
    device = local_device(cfg.device)
    temporal_arch, blind_arch, blind_kwargs = BACKBONES[cfg.backbone]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_torch_threads(cfg.threads))
        workdir = cfg.workdir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="videozoo-demo-"))
        t0 = time.perf_counter()
        train, test = make_demo_data(workdir, cfg)
        say(f"wrote {cfg.num_train} training and {cfg.num_test} held-out videos "
            f"({cfg.video_frames} frames, {cfg.size}x{cfg.size}) under {workdir} "
            f"in {time.perf_counter() - t0:.1f} s")

        _seed_everything(cfg.seed)
        tsm = _build(temporal_arch, cfg, cfg.checkpoint)
        blind = _build(blind_arch, cfg, **blind_kwargs)
        share_weights(tsm, blind)  # before any training: the same starting point
        origin = f"from {cfg.checkpoint}" if cfg.checkpoint else f"random init, seed {cfg.seed}"
        blind_name = blind_arch + "".join(f" {k}={v}" for k, v in blind_kwargs.items())
        blind_note = f"{blind_name}: the TSM's starting weights, no temporal shift"
        data_cfg = demo_data_config(temporal_arch, cfg.size, cfg.num_segments,
                                    cfg.video_frames)
        results = [
            _fit_and_score("TSM", temporal_arch, f"{temporal_arch} ({origin})", tsm, data_cfg,
                           train, test, cfg, cfg.lr, device, say),
            _fit_and_score("TSN", blind_name, blind_note, blind, data_cfg, train, test, cfg,
                           cfg.lr, device, say),
        ]
        del tsm, blind
        if cfg.with_tpn:
            _seed_everything(cfg.seed)
            tpn = create_tpn(cfg)
            results.append(_fit_and_score(
                "TPN", cfg.tpn_arch, f"{cfg.tpn_arch} (random init, seed {cfg.seed})", tpn,
                demo_data_config(cfg.tpn_arch, cfg.size, cfg.num_segments, cfg.video_frames),
                train, test, cfg,
                cfg.tpn_lr, device, say))
    return results


def create_tpn(cfg: DemoConfig) -> nn.Module:
    """TPN for the demo's tiny frames (its own weights: no counterpart in the other models)."""
    from ._factory import create_model

    return create_model(cfg.tpn_arch, num_classes=2, dropout=cfg.dropout)


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------
def chance_band(num_test: int, chance: float = 0.5, z: float = 3.0) -> float:
    """Half-width, in percent, of the range an order-blind model's held-out accuracy stays in
    with high probability: ``z`` binomial standard deviations of ``num_test`` fair coin flips."""
    return 100.0 * z * math.sqrt(chance * (1 - chance) / num_test)


def format_results(results: Sequence[DemoResult], cfg: DemoConfig) -> str:
    width = max([len("architecture")] + [len(r.arch) for r in results])
    lines = [f"{'model':<6} {'architecture':<{width}} {'held-out top-1':>15} {'chance':>8} "
             f"{'seconds':>8}"]
    for r in results:
        lines.append(f"{r.label:<6} {r.arch:<{width}} {r.top1:>14.1f}% {r.chance:>7.1f}% "
                     f"{r.seconds:>8.0f}")
    lines.append("")
    for r in results:
        lines.append(f"{r.label}: {r.note}")
    band = chance_band(cfg.num_test)
    tpn = f" (TPN {cfg.tpn_lr:g})" if any(r.label == "TPN" for r in results) else ""
    lines.append(
        f"Task: a square moving left or right; {cfg.num_train} training / {cfg.num_test} "
        f"held-out videos, {cfg.num_segments} frames of {cfg.size}x{cfg.size}. Budget: "
        f"{cfg.epochs} epochs, batch {cfg.batch_size}, AdamW lr {cfg.lr:g}{tpn}, cosine, the "
        "same batches in the same order for every model.")
    lines.append(
        f"A frame-order-blind model scores chance +- {band:.0f} points here (3 binomial standard "
        f"deviations over {cfg.num_test} videos): TSN averages its frames' scores, so it cannot "
        "see the direction; TSM's temporal shift can.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line (``videozoo demo`` and ``python -m videozoo.demo``)
# ------------------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    d = DemoConfig()
    p.add_argument("--with-tpn", action="store_true",
                   help=f"also fine-tune TPN ({d.tpn_arch}, random init; about 3 minutes more "
                        "on 2 CPU cores)")
    p.add_argument("--tpn-arch", choices=TPN_ARCHS, default=d.tpn_arch,
                   help="the TPN of --with-tpn (default %(default)s)")
    p.add_argument("--backbone", choices=sorted(BACKBONES), default=d.backbone,
                   help="mobilenetv2: tsm_mobilenetv2 vs the same net with is_shift=False "
                        "(default, fast); r50: tsm_r50 vs tsn_r50 (same ResNet-50 weights; slow "
                        "on a CPU)")
    p.add_argument("--epochs", type=int, default=None, help=f"default {d.epochs}")
    p.add_argument("--num-train", type=int, default=None, help=f"default {d.num_train}")
    p.add_argument("--num-test", type=int, default=None, help=f"default {d.num_test}")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW lr of TSM and TSN "
                   "(default %(default)g)")
    p.add_argument("--tpn-lr", type=float, default=d.tpn_lr,
                   help="AdamW lr of TPN (default %(default)g)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--checkpoint", default=None,
                   help="start TSM and TSN from these weights (a local MMAction2 .pth or "
                        "videozoo .safetensors of the chosen backbone's TSM) instead of a random "
                        "init; the classifier is reset to 2 classes")
    p.add_argument("--workdir", default=None,
                   help="keep the synthetic videos and lists here (default: a temporary "
                        "directory, removed afterwards)")
    p.add_argument("--device", default=None, help="default: this process's GPU, else the CPU")
    p.add_argument("--num-workers", type=int, default=d.num_workers,
                   help="DataLoader decode workers (default 0: decoding 64x64 clips is cheap)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    defaults = {k: getattr(args, k) for k in ("epochs", "num_train", "num_test")
                if getattr(args, k) is not None}
    return DemoConfig(**defaults, batch_size=args.batch_size, lr=args.lr, tpn_lr=args.tpn_lr,
                      seed=args.seed, backbone=args.backbone, with_tpn=args.with_tpn,
                      tpn_arch=args.tpn_arch, checkpoint=args.checkpoint, workdir=args.workdir,
                      device=args.device, num_workers=args.num_workers, threads=args.threads)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = run_demo(cfg, log=print)
    print()
    print(format_results(results, cfg))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    problem = demo_failure(results, cfg)
    if problem:
        print(f"error: the demo did not show what it should: {problem}", file=sys.stderr)
        return 1
    return 0


def demo_failure(results: Sequence[DemoResult], cfg: DemoConfig) -> Optional[str]:
    """Why the run does not support the demo's claim (TSM learns the order, TSN stays at
    chance), or None. A user's own settings (fewer epochs, other lr) can make this fail."""
    by_label = {r.label: r for r in results}
    tsm, tsn = by_label["TSM"], by_label["TSN"]
    if tsm.top1 < TSM_TARGET:
        return (f"TSM reached {tsm.top1:.1f}% held-out, below {TSM_TARGET:.0f}% (more epochs "
                "or another --lr may help)")
    band = chance_band(cfg.num_test)
    if abs(tsn.top1 - tsn.chance) > band:
        return (f"TSN scored {tsn.top1:.1f}%, outside chance {tsn.chance:.0f}% +- {band:.0f}: "
                "an order-blind model should not; please report this")
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videozoo.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
