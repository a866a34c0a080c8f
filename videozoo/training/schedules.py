"""The zoo's learning-rate schedules (step or cosine, optional linear warm-up), per iteration."""
from __future__ import annotations

import math
from typing import Any, Optional, Union

import torch

from .._pretrained import TrainProtocol

TrainRecipe = Union[TrainProtocol, dict]


def as_train_protocol(train: Any) -> TrainProtocol:
    """A TrainProtocol from itself, its dict (``model.pretrained_cfg['train_protocol']``) or a
    whole ``pretrained_cfg`` (which holds one under ``'train_protocol'``)."""
    if isinstance(train, dict) and "train_protocol" in train:
        train = train["train_protocol"]
    if train is None:
        raise ValueError("no training recipe: the model's pretrained_cfg has no train_protocol")
    return TrainProtocol.from_dict(train)


def lr_lambda(train: TrainRecipe, steps_per_epoch: int, epochs: Optional[int] = None):
    """A multiplier of the base lr as a function of the iteration, as MMAction2 schedules it.
    ``train``: a TrainProtocol, its dict form or a model's ``pretrained_cfg``."""
    train = as_train_protocol(train)
    if steps_per_epoch < 1:
        raise ValueError("steps_per_epoch must be >= 1")
    total_epochs = epochs or train.epochs or 1
    warmup_steps = int(round(train.warmup_epochs * steps_per_epoch))
    milestones = [m * steps_per_epoch for m in train.lr_milestones]
    total_steps = total_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if train.schedule == "cosine":
            value = 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        elif train.schedule == "step":
            value = train.lr_gamma ** sum(step >= m for m in milestones)
        else:
            raise ValueError(f"unknown schedule {train.schedule!r}; use 'step' or 'cosine'")
        if step < warmup_steps:
            ratio = train.warmup_ratio + (1 - train.warmup_ratio) * step / warmup_steps
            value *= ratio
        return value

    return factor


def lr_scheduler(optimizer: torch.optim.Optimizer, train: TrainRecipe, steps_per_epoch: int,
                 epochs: Optional[int] = None) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-iteration ``LambdaLR`` following ``train`` (call ``scheduler.step()`` every batch);
    ``train`` may be ``model.pretrained_cfg['train_protocol']`` (or the whole pretrained_cfg).

    ``epochs`` rescales nothing: milestones stay where the zoo put them; pass a shorter run's
    length only for cosine schedules.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(train, steps_per_epoch, epochs))
