"""Helpers for tests: MMAction2-layout checkpoints made from the parity recipe."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def mmaction_state_dict(model: torch.nn.Module, recipe: Any = None) -> dict[str, torch.Tensor]:
    """The model's weights in MMAction2 key layout; recipe weights when ``recipe`` is the
    parity_recipe module (deterministic, O(1) activations are not guaranteed), else the model's."""
    sd = model.export_mmaction_state_dict()
    if recipe is None:
        return sd
    keys = [[k, list(v.shape), "int64" if v.dtype == torch.int64 else "float32"]
            for k, v in sd.items()]
    return dict(recipe.build_state_dict(keys))


def save_mmaction_checkpoint(state_dict: dict[str, torch.Tensor], path: Path,
                             layout: str = "1x") -> Path:
    """Write ``state_dict`` the way MMAction2 publishes it (1.x or 0.x top-level dict)."""
    if layout == "1x":
        obj = {"meta": {"epoch": 1, "cfg": "# test", "seed": 0, "dataset_meta": None},
               "state_dict": state_dict}
    elif layout == "0x":
        obj = {"meta": {"mmcv_version": "1.3.18", "config": "# test", "epoch": 1},
               "state_dict": state_dict}
    elif layout == "bare":
        obj = state_dict
    elif layout == "ddp":
        obj = {"state_dict": {f"module.{k}": v for k, v in state_dict.items()}}
    else:
        raise ValueError(layout)
    torch.save(obj, path)
    return Path(path)
