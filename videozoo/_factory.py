"""``create_model``: one hop from a zoo name to a model."""
from __future__ import annotations

import os
from typing import Any, Optional

from torch import nn

from ._builder import build_model
from ._registry import resolve


def create_model(
    name: str,
    pretrained: bool = False,
    num_classes: Optional[int] = None,
    checkpoint_path: Optional[str | os.PathLike] = None,
    **kwargs: Any,
) -> nn.Module:
    """Build an architecture (``'tsm_r50'``) or a zoo entry (``'tsm_r50_1x1x8_50e_kinetics400_rgb'``).

    Args:
        name: architecture or zoo entry (MMAction2 config name, optionally with a ``.tag``).
        pretrained: fetch the entry's weights (Hub safetensors, else the original MMAction2 file).
        num_classes: defaults to the weights' class count; another value resets the classifiers.
        checkpoint_path: a local MMAction2 ``.pth`` (0.x or 1.x) or videozoo ``.safetensors``.
        **kwargs: architecture options (``num_segments``, ``dropout``, ``frozen_stages``...).
    """
    arch, entry = resolve(name)
    return build_model(arch, entry, pretrained=pretrained, num_classes=num_classes,
                       checkpoint_path=checkpoint_path, **kwargs)
