"""videozoo: TSN, TSM and TPN video recognition models, numerically identical to MMAction2.

    import videozoo
    model = videozoo.create_model("tsm_r50_1x1x8_50e_kinetics400_rgb", pretrained=True)
"""
from . import models  # noqa: F401  (registers the architectures)
from . import zoo  # noqa: F401  (registers the zoo entries)
from ._factory import create_model
from ._registry import (
    list_architectures,
    list_models,
    list_pretrained,
    pretrained_info,
    register_model,
)

__version__ = "0.1.0"

__all__ = [
    "create_model",
    "list_architectures",
    "list_models",
    "list_pretrained",
    "pretrained_info",
    "register_model",
]
