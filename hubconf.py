"""torch.hub entry points for videozoo.

    model = torch.hub.load("videozoo/videozoo", "tsm_mobilenetv2", pretrained=False)
    model = torch.hub.load(path, "create_model", "tsm_r50_1x1x8_50e_kinetics400_rgb",
                           source="local", pretrained=True)

Every architecture (``videozoo.list_architectures()``) is a function of this module; zoo entries,
whose names contain dots and dashes, load through ``create_model(name, ...)`` (they are also
reachable by name through ``torch.hub.load``, which looks entries up with ``getattr``).
``pretrained`` defaults to False, as in ``videozoo.create_model``.
"""
from __future__ import annotations

from typing import Any, Callable

dependencies = ["torch", "torchvision", "timm", "safetensors", "huggingface_hub", "numpy"]

from torch import nn as _nn  # noqa: E402

import videozoo as _videozoo  # noqa: E402  (torch.hub reads ``dependencies`` first)


def create_model(name: str, pretrained: bool = False, **kwargs: Any) -> _nn.Module:
    """Any architecture, zoo entry or ``tsm_/tsn_<timm name>``: ``videozoo.create_model``."""
    return _videozoo.create_model(name, pretrained=pretrained, **kwargs)


def list_models(pattern: Any = None, pretrained: bool = False) -> list[str]:
    """Names ``create_model`` accepts (``videozoo.list_models``)."""
    return _videozoo.list_models(pattern, pretrained=pretrained)


def _entrypoint(name: str, kind: str) -> Callable[..., _nn.Module]:
    def entry(pretrained: bool = False, **kwargs: Any) -> _nn.Module:
        return _videozoo.create_model(name, pretrained=pretrained, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"videozoo {kind} {name!r}; kwargs as for videozoo.create_model."
    return entry


for _name in _videozoo.list_architectures():
    globals()[_name] = _entrypoint(_name, "architecture")
for _name in _videozoo.list_models():
    globals().setdefault(_name, _entrypoint(_name, "zoo entry"))
del _name
