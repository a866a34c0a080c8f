"""Reading checkpoints safely and mapping them onto videozoo models, strictly.

MMAction2 ``.pth`` files (0.x and 1.x layouts) are read with ``torch.load(weights_only=True)``;
videozoo's own files are safetensors. A family's ``convert_mmaction_state_dict`` renames
MMAction2 keys; ``load_state_dict_strict`` then refuses any missing, unexpected or mis-shaped key.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch import nn

MMACTION_PREFIXES = ("backbone.", "cls_head.", "neck.")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state_dict, metadata) of a ``.pth`` or ``.safetensors`` file, read without running code."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.endswith(".safetensors"):
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(path, framework="pt") as f:
            meta = dict(f.metadata() or {})
        return dict(load_file(path)), meta
    from ._safe_pickle import safe_torch_load

    obj = safe_torch_load(path)
    return unwrap_state_dict(obj, path), {}


def unwrap_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The tensor mapping inside an MMAction2/torch checkpoint object, ``module.`` removed."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "module"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{source} holds no state dict")
    sd = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue
        k = str(k)
        if k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v
    if not sd:
        raise CheckpointError(f"{source} holds no tensors")
    return sd


def is_mmaction_layout(state_dict: Mapping[str, Any]) -> bool:
    return any(k.startswith(MMACTION_PREFIXES) for k in state_dict)


def infer_num_classes(state_dict: Mapping[str, torch.Tensor], meta: Optional[Mapping[str, str]] = None
                      ) -> Optional[int]:
    """Number of classes a checkpoint was trained for (its main classifier's rows)."""
    if meta and meta.get("num_classes"):
        return int(meta["num_classes"])
    for key in ("cls_head.fc_cls.weight", "head.fc.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return None


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                           source: str = "checkpoint") -> None:
    """Load so that every key fills exactly one tensor of the model and every tensor is filled."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    shape_mismatch = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or shape_mismatch:
        def show(title: str, keys: list[str]) -> str:
            if not keys:
                return ""
            more = f"\n    ... and {len(keys) - 20} more" if len(keys) > 20 else ""
            return f"\n  {title} ({len(keys)}):\n    " + "\n    ".join(keys[:20]) + more

        raise CheckpointError(
            f"{source} does not match {type(model).__name__}:"
            + show("missing in checkpoint", missing)
            + show("unexpected in checkpoint", unexpected)
            + show("shape mismatch", shape_mismatch)
        )
    model.load_state_dict(dict(state_dict), strict=True)


def to_model_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor]
                        ) -> dict[str, torch.Tensor]:
    """Rename MMAction2 keys with the family's converter; videozoo keys pass through."""
    if is_mmaction_layout(state_dict):
        convert = getattr(model, "convert_mmaction_state_dict", None)
        if convert is None:
            raise CheckpointError(f"{type(model).__name__} cannot read MMAction2 checkpoints")
        return convert(state_dict)
    return state_dict
