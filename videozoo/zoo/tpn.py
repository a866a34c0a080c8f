"""TPN entries: every checkpoint of MMAction2 0.x's TPN model zoo table (``004_...``).
"""
from __future__ import annotations

from .._pretrained import Augment
from ._common import (
    REFERENCE,
    TPN_0X,
    TPN_PAPER,
    Recipe,
    entry,
    top,
)

PROB_SINCE_RETRAINING = ("These files (-c568e7ad / -44362b55) replaced the first TPN "
                               "checkpoints (..._20200910-b796d7a0.pth, tested with "
                               "average_clips=None) on 2021-07-30 (49fdd590, #1025, retrained "
                               "with the new ColorJitter); by then the config averaged "
                               "probabilities (since 539984ab, 2020-10-10), so 'prob' is the "
                               "protocol of these numbers.")


_TPN = Recipe(arch="tpn_slowonly_r50", version="0.x", dataset="kinetics400", decoder="rawframes",
              start_index=1,
              data="rawframes, short side 320", tests=("10x3",), average="prob", clip_len=8,
              frame_interval=8, source=TPN_0X, section="Kinetics-400", source_tables=(TPN_0X,),
              paper=TPN_PAPER, url_base="https://download.openmmlab.com/mmaction/recognition/tpn/",
              gpu_memory_mb=6916,
              train=dict(clip_len=8, frame_interval=8, num_clips=1, epochs=150, lr=0.01,
                         lr_milestones=(75, 125),
                         augment=Augment(crop="random_resized", flip=True, color_jitter=True),
                         clip_grad=40.0, note="Nesterov momentum"))

ENTRIES = (
    entry(name="tpn_slowonly_r50_8x8x1_150e_kinetics_rgb", recipe=_TPN,
          url="{config}/{config}-c568e7ad.pth", log="{config}", top=(73.58, 91.35),
          train=dict(batch_size="16 GPUs x 8 videos", pretrain="none"),
          notes=("Trained from scratch (no ImageNet initialisation).",
                PROB_SINCE_RETRAINING)),
    entry(name="tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb", recipe=_TPN,
          url="{config}/{config}-44362b55.pth", log="{config}", top=(76.59, 92.72),
          train=dict(batch_size="8 GPUs x 8 videos"), notes=(PROB_SINCE_RETRAINING,),
          more=(top(75.49, 92.05, kind=REFERENCE, note="original TPN code: https://github.com/decisionforce/TPN/blob/master/MODELZOO.md"),)),
    entry(name="tpn_tsm_r50_1x1x8_150e_sthv1_rgb", recipe=_TPN,
          url="{config}/{config}_20211202-c28ed83f.pth", log="{config}",
          more=(top(51.5, 79.15, section="Something-Something V1"),), arch="tpn_tsm_r50",
          dataset="sthv1", data="rawframes, height 100", tests=("accurate",), segments=8,
          gpu_memory_mb=8828,
          notes=(("The table's header has no resolution column although the row has one (height "
                 "100)."),
                ("The table's pretrain column says 'TSM'; the config initialises the ResNet-50 "
                 "TSM backbone from ImageNet (torchvision://resnet50)."),
                ("The config keeps RawframeDataset's default template 'img_{:05}.jpg', whereas "
                 "the Something-Something V1 TSM configs read '{:05}.jpg'."),
                ("Test: fcn_test with 8-frame views; each view's TPN neck output is pooled and "
                 "classified, then probabilities are averaged over the 6 views.")),
          train=dict(clip_len=1, frame_interval=1, num_clips=8, weight_decay=0.0005,
                     batch_size="48 GPUs x 8 videos", clip_grad=20.0)),
)
