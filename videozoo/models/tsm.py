"""TSM with ResNet backbones (Lin et al., "TSM: Temporal Shift Module for Efficient Video
Understanding", ICCV 2019, https://arxiv.org/abs/1811.08383), as MMAction2 builds it:
``Recognizer2D`` + ``ResNetTSM`` + ``TSMHead``, optionally with non-local blocks (Wang et al.,
"Non-local Neural Networks", CVPR 2018, https://arxiv.org/abs/1711.07971).

Each bottleneck's ``conv1`` sees its input shifted in time by 1/8 of the channels each way
("blockres"); ``TSMHead`` applies the FC per frame and averages the logits over the view's frames.
"""
from __future__ import annotations

from typing import Any, Optional

from .._pretrained import IMAGENET_MEAN, IMAGENET_STD
from .._registry import register_model
from .heads import TSMHead
from .resnet import ResNetRecognizer

__all__ = ["TSMResNet"]


class TSMResNet(ResNetRecognizer):
    """TSM: ResNet-``depth`` with temporal shifts, per-frame FC, logits averaged over T.

    Args:
        depth: 50 or 101 (101 shifts only even-indexed blocks, as MMAction2 does).
        num_classes: classifier outputs.
        shift_div: 1/shift_div of the channels move each way (8).
        non_local: None or ``'embedded_gaussian'`` | ``'gaussian'`` | ``'dot_product'``: adds the
            zoo's non-local blocks after layer2.{0,2} and layer3.{0,2,4}.
        num_segments: pin the shift's (and non-local's) group length, MMAction2's backbone
            ``num_segments``; default None follows the input's T.
        dropout: head dropout (MMAction2 TSM configs: 0.5). init_std: FC init std (0.001).
        frozen_stages / norm_eval / partial_bn: MMAction2 ``ResNet`` training flags.
    """

    head_cls = TSMHead
    default_dropout = 0.5
    classifier_init_std = 0.001

    def __init__(self, depth: int = 50, num_classes: int = 400, shift_div: int = 8,
                 non_local: Optional[str] = None, num_segments: Optional[int] = None,
                 **kwargs: Any):
        super().__init__(depth, num_classes=num_classes, shift_div=shift_div,
                         non_local=non_local, num_segments=num_segments, **kwargs)


def _create_tsm(arch: str, depth: int, **kwargs: Any) -> TSMResNet:
    model = TSMResNet(depth, **kwargs)
    model.pretrained_cfg = {"architecture": arch, "in_chans": model.in_chans, "modality": "rgb",
                            "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    return model


@register_model
def tsm_r50(num_classes: int = 400, **kwargs: Any) -> TSMResNet:
    """TSM ResNet-50."""
    return _create_tsm("tsm_r50", 50, num_classes=num_classes, **kwargs)


@register_model
def tsm_r101(num_classes: int = 400, **kwargs: Any) -> TSMResNet:
    """TSM ResNet-101 (shifts in even-indexed blocks only: 18 of 33)."""
    return _create_tsm("tsm_r101", 101, num_classes=num_classes, **kwargs)


@register_model
def tsm_r50_nl_embedded_gaussian(num_classes: int = 400, **kwargs: Any) -> TSMResNet:
    """TSM ResNet-50 with embedded-Gaussian non-local blocks."""
    return _create_tsm("tsm_r50_nl_embedded_gaussian", 50, num_classes=num_classes,
                       non_local="embedded_gaussian", **kwargs)


@register_model
def tsm_r50_nl_gaussian(num_classes: int = 400, **kwargs: Any) -> TSMResNet:
    """TSM ResNet-50 with Gaussian non-local blocks (no theta/phi embeddings)."""
    return _create_tsm("tsm_r50_nl_gaussian", 50, num_classes=num_classes,
                       non_local="gaussian", **kwargs)


@register_model
def tsm_r50_nl_dot_product(num_classes: int = 400, **kwargs: Any) -> TSMResNet:
    """TSM ResNet-50 with dot-product non-local blocks."""
    return _create_tsm("tsm_r50_nl_dot_product", 50, num_classes=num_classes,
                       non_local="dot_product", **kwargs)


# -- family facts (read by the data pipeline, param_groups, the cards; see videozoo._families) --
from .._families import describe_architecture, register_family  # noqa: E402

register_family("tsm", title="TSM", optimizer="tsm",
                test=dict(num_clips=8, crop="ten", crop_size=224, num_segments=8),
                train=dict(num_clips=8, num_fixed_crops=13),
                train_protocol=dict(epochs=50, lr=0.01, lr_milestones=(20, 40), fc_lr5=True,
                                    clip_grad=20.0, augment=dict(crop="multiscale", flip=True)))
describe_architecture("tsm_r50", title="TSM, ResNet-50")
describe_architecture("tsm_r101", title="TSM, ResNet-101")
describe_architecture("tsm_r50_nl_embedded_gaussian",
                      title="TSM, ResNet-50 + non-local (embedded Gaussian)")
describe_architecture("tsm_r50_nl_gaussian", title="TSM, ResNet-50 + non-local (Gaussian)")
describe_architecture("tsm_r50_nl_dot_product", title="TSM, ResNet-50 + non-local (dot product)")
