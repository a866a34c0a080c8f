"""The zoo's optimiser recipes as parameter groups, for any torch optimiser.

MMAction2 trains TSN/TPN with one group (SGD, weight decay on everything) and TSM with
``TSMOptimWrapperConstructor``: the first conv at the base rate; other conv/linear weights at the
base rate; biases at 2x with no decay; norm layers with no decay; and, with ``fc_lr5``, the final
classifier's weight at 5x and its bias at 10x (no decay).
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from .schedules import as_train_protocol

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
               nn.modules.instancenorm._InstanceNorm)
_CONV_TYPES = (nn.modules.conv._ConvNd,)


def _recipe_for(model: nn.Module) -> str:
    """The optimiser recipe its architecture registered (``videozoo._families``)."""
    from .. import _registry
    from .._families import arch_facts

    arch = (getattr(model, "pretrained_cfg", None) or {}).get("architecture", "")
    return arch_facts(arch).optimizer if _registry.is_model(arch) else "default"


def param_groups(
    model: nn.Module,
    lr: float,
    weight_decay: Optional[float] = None,
    recipe: Optional[str] = None,
    fc_lr5: Optional[bool] = None,
    train: Any = None,
) -> list[dict[str, Any]]:
    """Parameter groups following the zoo recipe of ``model``; every trainable parameter appears
    in exactly one group; frozen ones (``requires_grad=False``) in none.

    Args:
        weight_decay: None: the training recipe's (MobileNetV2's 2e-5, ...), else 1e-4.
        recipe: ``'tsm'`` (MMAction2's TSM constructor), ``'default'`` (one group), or None for
            the one the model's architecture registered.
        fc_lr5: TSM only: 5x/10x learning rate for the classifier's weight/bias; None: the
            training recipe's (True without one).
        train: the training recipe (a TrainProtocol, its dict or a ``pretrained_cfg``); None:
            ``model.pretrained_cfg['train_protocol']`` when there is one.
    """
    if train is None:
        train = (getattr(model, "pretrained_cfg", None) or {}).get("train_protocol")
    protocol = as_train_protocol(train) if train is not None else None
    if weight_decay is None:
        weight_decay = protocol.weight_decay if protocol is not None else 1e-4
    if fc_lr5 is None:
        fc_lr5 = protocol.fc_lr5 if protocol is not None else True
    recipe = recipe or _recipe_for(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if recipe == "default":
        return [{"params": trainable, "lr": lr, "weight_decay": weight_decay, "name": "all"}]
    if recipe != "tsm":
        raise ValueError(f"unknown recipe {recipe!r}; use 'tsm' or 'default'")

    classifier = model.get_classifier() if hasattr(model, "get_classifier") else None
    classifier_ids = {id(p) for p in classifier.parameters()} if classifier is not None else set()
    groups: dict[str, list[torch.nn.Parameter]] = {
        "first_conv_weight": [], "first_conv_bias": [], "weight": [], "bias": [], "norm": [],
        "fc_weight": [], "fc_bias": [],
    }
    seen: set[int] = set()
    first_conv_done = False
    for module in model.modules():
        own = [(n, p) for n, p in module.named_parameters(recurse=False)
               if p.requires_grad and id(p) not in seen]
        if not own:
            if isinstance(module, _CONV_TYPES):
                first_conv_done = True  # a frozen first conv still counts as the first
            continue
        if isinstance(module, _NORM_TYPES):
            kind = ["norm"] * len(own)
        elif id(own[0][1]) in classifier_ids and fc_lr5:
            kind = ["fc_weight" if n == "weight" else "fc_bias" for n, _ in own]
        elif isinstance(module, _CONV_TYPES) and not first_conv_done:
            kind = ["first_conv_weight" if n == "weight" else "first_conv_bias" for n, _ in own]
        else:
            kind = ["weight" if p.ndim > 1 else "bias" for _, p in own]
        if isinstance(module, _CONV_TYPES):
            first_conv_done = True
        for k, (_, p) in zip(kind, own):
            groups[k].append(p)
            seen.add(id(p))
    unassigned = [p for p in trainable if id(p) not in seen]
    if unassigned:  # parameters registered outside any module's own list cannot happen in torch
        raise RuntimeError(f"{len(unassigned)} parameters were not assigned to a group")

    settings = {
        "first_conv_weight": (1, weight_decay), "first_conv_bias": (2, 0.0),
        "weight": (1, weight_decay), "bias": (2, 0.0), "norm": (1, 0.0),
        "fc_weight": (5, weight_decay), "fc_bias": (10, 0.0),
    }
    return [
        {"params": params, "lr": lr * settings[name][0], "weight_decay": settings[name][1],
         "name": name}
        for name, params in groups.items() if params
    ]
