"""TSN with ResNet backbones (Wang et al., "Temporal Segment Networks: Towards Good Practices for
Deep Action Recognition", ECCV 2016, https://arxiv.org/abs/1608.00859), as MMAction2 builds it:
``Recognizer2D`` + ``ResNet`` + ``TSNHead``.

Every frame of a view goes through a 2D ResNet; ``TSNHead`` averages the pooled features over the
view's frames and applies one FC. The flow variant is the same network with a 10-channel stem
(5 consecutive flow frames, channels ordered x_t0, y_t0, ..., x_t4, y_t4).
"""
from __future__ import annotations

from typing import Any, Optional

from .._pretrained import FLOW_MEAN, FLOW_STD, IMAGENET_MEAN, IMAGENET_STD
from .._registry import register_model
from .heads import TSNHead
from .resnet import ResNetRecognizer

__all__ = ["TSNResNet"]


class TSNResNet(ResNetRecognizer):
    """TSN: ResNet-``depth`` per frame, feature consensus over the view's T frames, then FC.

    Args:
        depth: 50 or 101.
        num_classes: classifier outputs.
        in_chans: 3 for RGB, 10 for flow stacks (2 x 5 frames).
        dropout: head dropout before the FC (MMAction2 TSN default 0.4).
        init_std: std of the FC's N(0, std) init (0.01).
        num_segments: frames per view; informational for TSN (the head averages all input frames,
            nothing in the network depends on it). Accepted so zoo entries can record it.
        frozen_stages / norm_eval / partial_bn: MMAction2 ``ResNet`` training flags.
    """

    head_cls = TSNHead
    default_dropout = 0.4
    classifier_init_std = 0.01

    def __init__(self, depth: int = 50, num_classes: int = 400, in_chans: int = 3,
                 dropout: Optional[float] = None, init_std: Optional[float] = None,
                 num_segments: Optional[int] = None, **kwargs: Any):
        super().__init__(depth, num_classes=num_classes, in_chans=in_chans, dropout=dropout,
                         init_std=init_std, shift_div=None, non_local=None, **kwargs)
        self.num_segments = num_segments  # no shift to pin: recorded only


def _cfg(arch: str, in_chans: int = 3) -> dict[str, Any]:
    flow = in_chans != 3
    return {
        "architecture": arch,
        "in_chans": in_chans,
        "modality": "flow" if flow else "rgb",
        "mean": FLOW_MEAN if flow else IMAGENET_MEAN,  # per decoded frame channel
        "std": FLOW_STD if flow else IMAGENET_STD,
    }


def _create_tsn(arch: str, depth: int, in_chans: int = 3, **kwargs: Any) -> TSNResNet:
    model = TSNResNet(depth, in_chans=in_chans, **kwargs)
    model.pretrained_cfg = _cfg(arch, in_chans)
    return model


@register_model
def tsn_r50(num_classes: int = 400, **kwargs: Any) -> TSNResNet:
    """TSN ResNet-50, RGB."""
    return _create_tsn("tsn_r50", 50, num_classes=num_classes, **kwargs)


@register_model
def tsn_r101(num_classes: int = 400, **kwargs: Any) -> TSNResNet:
    """TSN ResNet-101, RGB (MMAction2's MMiT model)."""
    return _create_tsn("tsn_r101", 101, num_classes=num_classes, **kwargs)


@register_model
def tsn_r50_flow(num_classes: int = 400, **kwargs: Any) -> TSNResNet:
    """TSN ResNet-50 on optical flow: 10 input channels (x, y of 5 consecutive flow frames)."""
    kwargs.setdefault("in_chans", 10)
    return _create_tsn("tsn_r50_flow", 50, num_classes=num_classes, **kwargs)


# -- family facts (read by the data pipeline, param_groups, the cards; see videozoo._families) --
from .._families import describe_architecture, register_family  # noqa: E402

register_family("tsn", title="TSN", optimizer="default",
                test=dict(num_clips=25, crop="ten", crop_size=224), train=dict(num_clips=3),
                train_protocol=dict(epochs=100, lr=0.01, lr_milestones=(40, 80), clip_grad=40.0,
                                    augment=dict(crop="multiscale", flip=True)))
describe_architecture("tsn_r50", title="TSN, ResNet-50")
describe_architecture("tsn_r101", title="TSN, ResNet-101")
describe_architecture(
    "tsn_r50_flow", title="TSN, ResNet-50, optical flow", modality="flow",
    test=dict(clip_len=5, decoder="rawframes", filename_tmpl="{}_{:05d}.jpg", start_index=1,
              mean=FLOW_MEAN, std=FLOW_STD, legacy_sampling=True, average=None),
    train=dict(clip_len=5, crop="random_resized"),
    train_protocol=dict(clip_len=5, epochs=110, lr_milestones=(70, 100),
                        augment=dict(crop="random_resized", flip=True)))
