#!/usr/bin/env python
"""Fine-tune a videozoo model on annotated videos in a plain PyTorch loop.

Data: MMAction2 annotation lists (``path label`` per line; several labels make the task
multi-label). Model: any architecture or zoo entry, from its zoo weights (``--pretrained``), a
local checkpoint (``--checkpoint``) or a random init; the classifier(s) are reset when the class
count differs. Optimiser: SGD with the zoo recipe's parameter groups (``videozoo.param_groups``)
and its learning-rate schedule. Optional AMP, torch.compile, MixUp/CutMix, gradient
checkpointing, frozen stages / BatchNorm in eval mode. Every epoch a checkpoint is written
(``OUTPUT/last.pt``, resumed automatically by the same command) and the model is evaluated with
``videozoo.evaluate``. Launched by ``torchrun``, it trains with DistributedDataParallel (NCCL on
GPUs, gloo on CPUs) and evaluates every process's share of the videos.

WITHOUT --train-list it makes its own small data set: synthetic videos (a coloured square whose
colour gives the class) written under OUTPUT/data, and trains from a random init unless given
--checkpoint / --pretrained. That runs as written on a CPU in about a minute:

    python examples/finetune.py --output /tmp/finetune

Your own data, from a zoo checkpoint, on one GPU then on eight:

    python examples/finetune.py --model tsm_r50_1x1x8_50e_kinetics400_rgb --pretrained \\
        --train-list train.txt --val-list val.txt --data-root videos/ --num-classes 10 \\
        --epochs 10 --batch-size 8 --lr 0.01 --amp --output runs/tsm
    torchrun --nproc_per_node 8 examples/finetune.py <the same arguments>

The saved ``last.pt`` / ``best.pt`` load with
``videozoo.create_model(NAME, checkpoint_path=..., num_classes=K)``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

import videozoo
from videozoo import classification_loss, lr_scheduler, multilabel_loss, param_groups
from videozoo.data import CutMix, MixUp, collate_videos


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("model")
    g.add_argument("--model", default="tsm_mobilenetv2",
                   help="architecture or zoo entry (default: %(default)s)")
    g.add_argument("--pretrained", action="store_true",
                   help="start from the zoo entry's weights (downloaded once)")
    g.add_argument("--checkpoint", default=None,
                   help="start from a local file: MMAction2 .pth, videozoo .safetensors or a "
                        "checkpoint this script wrote")
    g.add_argument("--num-classes", type=int, default=None,
                   help="default: the largest label of the training list + 1")
    g.add_argument("--dropout", type=float, default=None, help="head dropout (default: recipe)")
    g.add_argument("--frozen-stages", type=int, default=None,
                   help="freeze the stem and the first N stages (ResNet backbones)")
    g.add_argument("--norm-eval", action="store_true", help="keep BatchNorm in eval mode")
    g.add_argument("--partial-bn", action="store_true",
                   help="TSN's partial BN: freeze every BatchNorm but the first")
    g.add_argument("--grad-checkpointing", action="store_true",
                   help="recompute activations in backward (less memory, more time)")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g = p.add_argument_group("data")
    g.add_argument("--train-list", default=None,
                   help="training annotation list; without it: synthetic data (see above)")
    g.add_argument("--val-list", default=None, help="held-out annotation list")
    g.add_argument("--data-root", default="", help="directory the lists' paths start from")
    g.add_argument("--decoder", default=None, help="decord | pyav | rawframes (default: recipe)")
    g.add_argument("--input-size", type=int, default=None,
                   help="train crop and test crop size; resize short side to it (default: "
                        "the recipe's; small values for quick CPU runs)")
    g.add_argument("--num-segments", type=int, default=None,
                   help="frames per video (2D models; default: the recipe's)")
    g.add_argument("--mixup", type=float, default=None, metavar="ALPHA",
                   help="MixUp with Beta(ALPHA, ALPHA) (default: the recipe's)")
    g.add_argument("--cutmix", type=float, default=None, metavar="ALPHA",
                   help="CutMix with Beta(ALPHA, ALPHA) (default: the recipe's)")
    g.add_argument("--synthetic-videos", type=int, default=48,
                   help="size of the synthetic training set (no --train-list)")
    g.add_argument("--synthetic-classes", type=int, default=3)
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=3)
    g.add_argument("--batch-size", type=int, default=8, help="videos per process and step")
    g.add_argument("--lr", type=float, default=0.01, help="base learning rate (whole run)")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight-decay", type=float, default=None, help="default: the recipe's")
    g.add_argument("--schedule", choices=("recipe", "cosine", "step", "constant"),
                   default="cosine", help="'recipe': the zoo entry's (step milestones or cosine)")
    g.add_argument("--warmup-epochs", type=float, default=0.0)
    g.add_argument("--clip-grad", type=float, default=None,
                   help="max gradient norm (default: the recipe's, e.g. 40 for TSN/TSM; 0: off)")
    g.add_argument("--amp", action="store_true",
                   help="mixed precision (float16 + GradScaler on GPU, bfloat16 on CPU)")
    g.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimiser steps in total (smoke tests)")
    g = p.add_argument_group("run")
    g.add_argument("--output", default="finetune_output", help="checkpoints, logs, data")
    g.add_argument("--resume", default="auto",
                   help="'auto' (OUTPUT/last.pt if present), a checkpoint path, or 'none'")
    g.add_argument("--eval-every", type=int, default=1, help="epochs between evaluations "
                   "(0: only at the end)")
    g.add_argument("--workers", type=int, default=2, help="decoding processes per training "
                   "process")
    g.add_argument("--device", default=None, help="default: this process's GPU, else the CPU")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--log-every", type=int, default=10, help="steps between log lines")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------
# processes
# ------------------------------------------------------------------------------------------------
def setup_distributed() -> tuple[int, int, bool]:
    """(rank, world size, created): joins the group torchrun describes (WORLD_SIZE > 1)."""
    from videozoo.evaluation.distributed import dist_info, init_distributed_from_env

    created = init_distributed_from_env()
    rank, world = dist_info()
    return rank, world, created


def log(msg: str) -> None:
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(msg, flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def synthetic_lists(args: argparse.Namespace, rank: int) -> None:
    """Write a small synthetic train/val set under OUTPUT/data (rank 0; others wait)."""
    from videozoo.data.synthetic import make_synthetic_dataset

    root = Path(args.output) / "data"
    train_ann, val_ann = root / "train" / "train_list.txt", root / "val" / "val_list.txt"
    if rank == 0 and not (train_ann.exists() and val_ann.exists()):
        k = args.synthetic_classes
        make_synthetic_dataset(root / "train", num_videos=args.synthetic_videos, num_classes=k,
                               frames=16, size=(64, 80), seed=args.seed,
                               ann_name=train_ann.name)
        make_synthetic_dataset(root / "val", num_videos=max(2 * k, args.synthetic_videos // 4),
                               num_classes=k, frames=16, size=(64, 80), seed=args.seed + 1,
                               ann_name=val_ann.name)
    if dist.is_initialized():
        dist.barrier()
    args.train_list, args.val_list = str(train_ann), str(val_ann)
    args.train_root, args.val_root = str(train_ann.parent), str(val_ann.parent)
    if args.input_size is None:
        args.input_size = 64


def data_config(args: argparse.Namespace, model: nn.Module) -> Any:
    """The model's recipe (its zoo entry's, else its architecture's), with the overrides."""
    cfg = videozoo.resolve_data_config(model)
    train = cfg.train
    changes: dict[str, Any] = {}
    if args.decoder:
        changes["decoder"] = args.decoder
    elif cfg.decoder == "rawframes" and not _lists_are_frame_folders(args.train_list):
        changes.update(decoder="decord", filename_tmpl=None, start_index=0)
    if args.input_size:
        s = args.input_size
        changes.update(resize=(-1, s), crop_size=s, crop="center" if cfg.crop != "none"
                       else "none")
        train = train.replace(input_size=s, resize=(-1, s) if train.resize else None)
    if args.num_segments:
        if cfg.input_format != "NCHW":
            raise SystemExit("--num-segments applies to 2D models (TSN/TSM/TPN-TSM)")
        n = args.num_segments
        changes.update(num_clips=n, num_segments=n if cfg.num_segments else None)
        train = train.replace(num_clips=n)
    if args.mixup is not None:
        train = train.replace(mixup_alpha=args.mixup or None)
    if args.cutmix is not None:
        train = train.replace(cutmix_alpha=args.cutmix or None)
    return cfg.replace(train=train, **changes)


def _lists_are_frame_folders(ann_file: str) -> bool:
    """A 'dir total_frames label' list (frame folders) has an integer second column and at
    least three columns on its first line."""
    with open(ann_file, encoding="utf-8") as f:
        parts = f.readline().split()
    return len(parts) >= 3 and parts[1].isdigit()


def infer_num_classes(ann_file: str) -> int:
    from videozoo.data import read_annotations

    labels = [k for a in read_annotations(ann_file) for k in a.labels]
    if not labels:
        raise SystemExit(f"{ann_file} has no labels; pass --num-classes")
    return max(labels) + 1


# ------------------------------------------------------------------------------------------------
# model
# ------------------------------------------------------------------------------------------------
def build_model(args: argparse.Namespace) -> nn.Module:
    kwargs: dict[str, Any] = {}
    if args.dropout is not None:
        kwargs["dropout"] = args.dropout
    if args.frozen_stages is not None:
        kwargs["frozen_stages"] = args.frozen_stages
    if args.norm_eval:
        kwargs["norm_eval"] = True
    if args.partial_bn:
        kwargs["partial_bn"] = True
    try:
        model = videozoo.create_model(args.model, pretrained=args.pretrained,
                                      num_classes=args.num_classes,
                                      checkpoint_path=args.checkpoint, **kwargs)
    except TypeError as e:  # an option this architecture does not have
        raise SystemExit(f"{args.model}: {e}") from None
    if args.grad_checkpointing:
        model.set_grad_checkpointing(True)
    return model


class TrainStep(nn.Module):
    """What DDP wraps: the logits a training step needs (TPN: main and auxiliary heads), so the
    gradients of every head are synchronised."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if hasattr(self.model, "forward_train"):
            return self.model.forward_train(x)
        return self.model(x), None


def compute_loss(logits: torch.Tensor, aux: Optional[torch.Tensor], target: torch.Tensor,
                 multi_label: bool, aux_weight: float) -> torch.Tensor:
    loss_fn = multilabel_loss if multi_label else classification_loss
    loss = loss_fn(logits.float(), target)
    if aux is not None:
        loss = loss + aux_weight * loss_fn(aux.float(), target)
    return loss


def make_schedule(args: argparse.Namespace, model: nn.Module, optimizer: torch.optim.Optimizer,
                  steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    from videozoo._pretrained import TrainProtocol

    recipe = (model.pretrained_cfg.get("train_protocol") or {}) if args.schedule == "recipe" \
        else {}
    if args.schedule == "recipe" and not recipe:
        log(f"{args.model} has no zoo training recipe; using a cosine schedule")
    if recipe:
        proto = TrainProtocol(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in recipe.items()})
        proto = TrainProtocol(schedule=proto.schedule, lr_milestones=proto.lr_milestones,
                              lr_gamma=proto.lr_gamma, warmup_epochs=proto.warmup_epochs,
                              warmup_ratio=proto.warmup_ratio, epochs=args.epochs)
        log(f"schedule: the recipe's {proto.schedule}"
            + (f" (milestones {proto.lr_milestones})" if proto.schedule == "step" else ""))
    elif args.schedule == "constant":
        proto = TrainProtocol(schedule="step", lr_milestones=(), epochs=args.epochs,
                              warmup_epochs=args.warmup_epochs)
    elif args.schedule == "step":
        third = max(args.epochs // 3, 1)
        proto = TrainProtocol(schedule="step", lr_milestones=(2 * third, 3 * third),
                              epochs=args.epochs, warmup_epochs=args.warmup_epochs)
    else:
        proto = TrainProtocol(schedule="cosine", epochs=args.epochs,
                              warmup_epochs=args.warmup_epochs)
    return lr_scheduler(optimizer, proto, steps_per_epoch, epochs=args.epochs)


# ------------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from, as tensors and numbers only (the
    checkpoint stays loadable with ``weights_only=True``), to resume mid-epoch exactly."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": [str(kind), torch.from_numpy(keys.astype(np.int64)), int(pos),
                       int(has_gauss), float(gauss)],
             "python": [int(version), torch.tensor(internal, dtype=torch.int64), gauss_next]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def gather_rng_states(world: int) -> list[dict[str, Any]]:
    """Every process's RNG state, in rank order (rank 0 writes them all into the checkpoint)."""
    mine = rng_state()
    if world == 1:
        return [mine]
    states: list[Any] = [None] * world
    dist.all_gather_object(states, mine)
    return states


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: torch.amp.GradScaler, epoch: int, step: int,
                    best: float, args: argparse.Namespace, step_in_epoch: int = 0,
                    rng: Optional[list[dict[str, Any]]] = None) -> None:
    """Atomically write everything needed to resume (rank 0 only). ``epoch`` counts the
    finished epochs; a run stopped inside an epoch (``--max-steps``) also keeps how far it got
    and the random generators' state, so resuming continues that epoch as if never stopped."""
    state = {
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "epoch": epoch,
        "step": step,
        "best_top1": best,
        "step_in_epoch": step_in_epoch,
        "rng": rng if step_in_epoch else None,
        "meta": {"model": args.model, "num_classes": int(model.num_classes),
                 "args": json.dumps(vars(args), default=str)},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: torch.amp.GradScaler
                    ) -> tuple[int, int, float, int, Optional[list[dict[str, Any]]]]:
    """(finished epochs, steps, best, steps into the unfinished epoch, the RNG state of every
    process when it stopped there)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    return (int(state["epoch"]), int(state["step"]), float(state["best_top1"]),
            int(state.get("step_in_epoch", 0)), state.get("rng"))


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------
def evaluate_model(model: nn.Module, args: argparse.Namespace, cfg: Any, device: torch.device,
                   multi_label: bool) -> Optional[videozoo.EvalResult]:
    if not args.val_list:
        return None
    dataset = videozoo.VideoDataset(args.val_list, cfg, root=args.val_root,
                                    num_classes=model.num_classes if multi_label else None,
                                    multi_label=multi_label or None)
    result = videozoo.evaluate(model, dataset, device=device, batch_size=args.batch_size,
                               num_workers=args.workers, amp=args.amp and device.type == "cuda",
                               topk=(1, min(5, model.num_classes)))
    model.train()
    return result


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    rank, world, created = setup_distributed()
    from videozoo.evaluation.distributed import local_device

    device = local_device(args.device)
    seed_everything(args.seed + rank)
    out = Path(args.output)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    if args.train_list is None:
        synthetic_lists(args, rank)
        log(f"no --train-list: synthetic videos under {out / 'data'}, "
            + ("weights from " + (args.checkpoint or "the zoo")
               if args.checkpoint or args.pretrained else "random init"))
    else:
        args.train_root = args.val_root = args.data_root
    if args.num_classes is None:
        args.num_classes = infer_num_classes(args.train_list)

    model = build_model(args)
    cfg = data_config(args, model)
    train_set = videozoo.VideoDataset(args.train_list, cfg, root=args.train_root,
                                      is_training=True, num_classes=args.num_classes)
    multi_label = train_set.multi_label
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=args.seed,
                                 drop_last=True) if world > 1 else None
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=sampler is None,
                        sampler=sampler, num_workers=args.workers, collate_fn=collate_videos,
                        drop_last=True, pin_memory=device.type == "cuda",
                        generator=torch.Generator())
    if len(loader) == 0:
        raise SystemExit(f"{len(train_set)} training videos give no full batch of "
                         f"{args.batch_size} per process on {world} process(es)")
    mixers = [m(args.num_classes, a) for m, a in ((MixUp, cfg.train.mixup_alpha),
                                                  (CutMix, cfg.train.cutmix_alpha)) if a]
    log(f"model {args.model}: {args.num_classes} classes, "
        f"{sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6:.1f} M trainable "
        f"parameters; {len(train_set)} training videos, {len(loader)} steps per epoch per "
        f"process, {world} process(es) on {device}")

    model.to(device)
    recipe = model.pretrained_cfg.get("train_protocol") or {}
    weight_decay = recipe.get("weight_decay", 1e-4) if args.weight_decay is None \
        else args.weight_decay
    # the zoo's optimiser recipe: TSM's groups (5x/10x classifier lr when the recipe says so)
    groups = param_groups(model, args.lr, weight_decay, fc_lr5=bool(recipe.get("fc_lr5", True)))
    optimizer = torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum)
    scheduler = make_schedule(args, model, optimizer, len(loader))
    use_scaler = args.amp and device.type == "cuda"
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)

    start_epoch, step, best, skip, saved_rng = 0, 0, -1.0, 0, None
    resume = out / "last.pt" if args.resume == "auto" else \
        (None if args.resume == "none" else Path(args.resume))
    if resume is not None and resume.exists():
        start_epoch, step, best, skip, saved_rng = load_checkpoint(
            str(resume), model, optimizer, scheduler, scaler)
        log(f"resumed from {resume}: {start_epoch} epochs, {step} steps done"
            + (f", {skip} steps into epoch {start_epoch + 1}" if skip else ""))
    elif args.resume not in ("auto", "none"):
        raise SystemExit(f"--resume {args.resume}: no such file")

    step_module: nn.Module = TrainStep(model)
    if world > 1:
        step_module = DistributedDataParallel(
            step_module, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:
        step_module = torch.compile(step_module)
    aux_weight = float(getattr(model, "aux_loss_weight", 0.5))
    clip_grad = recipe.get("clip_grad") if args.clip_grad is None else args.clip_grad
    if clip_grad:
        log(f"gradients clipped to norm {clip_grad:g}"
            + (" (the recipe's)" if args.clip_grad is None else ""))

    history = []
    for epoch in range(start_epoch, args.epochs):
        if args.max_steps is not None and step >= args.max_steps:
            break
        model.train()
        if sampler is not None:
            sampler.set_epoch(epoch)
        # order, augmentation and dropout draws depend on (seed, epoch, rank) only, so a
        # resumed run continues exactly as an uninterrupted one would have
        seed_everything(args.seed + 1000 * epoch + rank)
        loader.generator.manual_seed(args.seed + 1000 * epoch)
        t0, seen, total = time.perf_counter(), 0, 0.0
        batches = iter(loader)
        done_in_epoch = 0
        skip = min(skip, len(loader))
        if skip:  # a run stopped inside this epoch: the same batches, then its RNG state
            for _ in range(skip):
                next(batches)
            done_in_epoch, skip = skip, 0
            if saved_rng is not None and rank < len(saved_rng):
                set_rng_state(saved_rng[rank])
            else:
                log("warning: no random state for this process in the checkpoint; the rest "
                    "of the epoch draws other augmentations than an uninterrupted run")
            saved_rng = None
        for i, batch in enumerate(batches, start=done_in_epoch):
            x = batch["inputs"].to(device, non_blocking=True)
            y = batch["label"].to(device, non_blocking=True)
            if mixers:  # one of them per batch, as MMAction2's RandomBatchAugment
                x, y = random.choice(mixers)(x, y)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=args.amp):
                logits, aux = step_module(x)
            loss = compute_loss(logits, aux, y, multi_label, aux_weight)
            if not torch.isfinite(loss):
                raise SystemExit(f"loss is {float(loss)} at step {step}; lower --lr")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip_grad:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            done_in_epoch = i + 1
            seen += len(x)
            total += float(loss.detach()) * len(x)
            if (i + 1) % args.log_every == 0 or i + 1 == len(loader):
                log(f"epoch {epoch + 1}/{args.epochs} step {i + 1}/{len(loader)} "
                    f"loss {total / seen:.4f} lr {optimizer.param_groups[0]['lr']:.2e} "
                    f"{seen * world / (time.perf_counter() - t0):.1f} videos/s")
            if args.max_steps is not None and step >= args.max_steps:
                break
        del batches
        finished = done_in_epoch >= len(loader)
        # a stop inside the epoch: keep where it stopped and the RNG state (every process's)
        in_epoch = 0 if finished else done_in_epoch
        rngs = gather_rng_states(world) if in_epoch else None
        epoch_done = epoch + 1 if finished else epoch
        last = epoch_done == args.epochs or (args.max_steps is not None
                                             and step >= args.max_steps)
        top1 = None
        if (args.eval_every and finished and epoch_done % args.eval_every == 0) or last:
            result = evaluate_model(model, args, cfg, device, multi_label)
            if result is not None:
                top1 = result.metrics.get("mAP" if multi_label else "top1")
                log(f"{f'epoch {epoch_done}' if finished else f'step {step}'}: held-out "
                    + ", ".join(f"{k} {v:.2f}" for k, v in result.metrics.items())
                    + f" ({result.num_scored} videos)")
        history.append({"epoch": epoch_done, "step": step, "loss": total / max(seen, 1),
                        "val": top1, **({"step_in_epoch": in_epoch} if in_epoch else {})})
        if rank == 0:
            is_best = top1 is not None and top1 > best
            best = max(best, top1) if top1 is not None else best
            save_checkpoint(out / "last.pt", model, optimizer, scheduler, scaler, epoch_done,
                            step, best, args, in_epoch, rngs)
            if is_best:
                save_checkpoint(out / "best.pt", model, optimizer, scheduler, scaler,
                                epoch_done, step, best, args, in_epoch, rngs)
            with open(out / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(history[-1]) + "\n")
        if dist.is_initialized():
            dist.barrier()

    if world > 1:  # DDP keeps the replicas identical; say so (and stop if it did not)
        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
        sums = [None] * world
        dist.all_gather_object(sums, float(checksum))
        if len(set(sums)) != 1:
            raise SystemExit(f"the {world} replicas diverged: parameter sums {sums}")
        log(f"weights identical on all {world} processes")
    if rank == 0:
        summary = {"epochs": args.epochs, "steps": step, "best_val": best if best >= 0 else None,
                   "world_size": world, "checkpoint": str(out / "last.pt")}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        log(f"done: {json.dumps(summary)}")
    if created:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
