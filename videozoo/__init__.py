"""videozoo: TSN, TSM and TPN video recognition models, numerically identical to MMAction2.

    import videozoo
    model = videozoo.create_model("tsm_r50_1x1x8_50e_kinetics400_rgb", pretrained=True)
"""
from . import (
    models,  # noqa: F401  (registers the architectures)
    transforms,  # noqa: F401  (videozoo.transforms.sample_frame_indices, ...)
    zoo,  # noqa: F401  (registers the zoo entries)
)
from ._checkpoint import CheckpointError
from ._convert import convert_checkpoint, from_mmaction
from ._factory import ModelArgumentError, create_model
from ._families import register_family
from ._hub import DownloadError, download_weights
from ._mmaction_config import ConfigError
from ._mmaction_config import load_config as load_mmaction_config
from ._registry import (
    list_architectures,
    list_models,
    list_pretrained,
    pretrained_info,
    register_model,
)
from .data import (
    VideoDataset,
    builtin_label_names,
    create_transform,
    label_names,
    make_synthetic_dataset,
    resolve_data_config,
)
from .evaluation import (
    EvalOptions,
    EvalResult,
    evaluate,
    metrics,  # noqa: F401  (videozoo.metrics.top_k_accuracy, ...)
)
from .flops import count_flops, count_params, format_count
from .models._inference import optimize_for_inference
from .training import (
    classification_loss,
    lr_scheduler,
    multilabel_loss,
    param_groups,
)

__version__ = "0.1.0"

__all__ = [
    "VideoDataset",
    "builtin_label_names",
    "EvalOptions",
    "ModelArgumentError",
    "register_family",
    "create_transform",
    "label_names",
    "make_synthetic_dataset",
    "resolve_data_config",
    "CheckpointError",
    "EvalResult",
    "evaluate",
    "DownloadError",
    "convert_checkpoint",
    "from_mmaction",
    "ConfigError",
    "load_mmaction_config",
    "download_weights",
    "create_model",
    "optimize_for_inference",
    "count_flops",
    "count_params",
    "format_count",
    "classification_loss",
    "lr_scheduler",
    "multilabel_loss",
    "param_groups",
    "list_architectures",
    "list_models",
    "list_pretrained",
    "pretrained_info",
    "register_model",
]
