"""TSN entries: every checkpoint row of MMAction2 1.x's TSN README (``configs/recognition/tsn/
README.md`` at ``MMACTION2_1X``; the table is not among ``shared/zoo-tables``), the
3rd-party-backbone rows included.

Test protocols follow the history of the configs, not only their current text:

- The Kinetics-400 checkpoints of 2022-09-06 were tested while ``_base_/models/tsn_r50.py`` set
  ``average_clips=None`` (changed to ``'prob'`` on 2022-11-18, 5a7ab0c9). TSNHead averages the
  features of all 250 frames into one view, so the two give the same accuracy but different
  scores: the default protocol ``25x10`` returns raw logits as the number was produced, and
  ``25x10-prob`` is the current config (softmax).
- 1.x test-time SampleFrames spread clip starts linearly from 2022-10-24 (908af8a1) to
  2022-12-22 (ec1eecb7) also for ``clip_len=1``; only the ResNeXt checkpoint (2022-12-09) falls
  in that window (see its note: videozoo's sampler has the formula before and after only).

FLOPs and params are the table's; its FLOPs count the backbone on 25 frames of 224x224.
"""

from __future__ import annotations

import dataclasses

from .._pretrained import TestProtocol, ZooEntry
from ._common import MMACTION2_1X, TSN_PAPER, entry, test, top, train

TSN_1X = f"mmaction2@{MMACTION2_1X[:8]}:configs/recognition/tsn/README.md"
CKPT = "https://download.openmmlab.com/mmaction/v1.0/recognition/tsn"


def protocols(*, raw_logits: bool, dense: bool = False) -> tuple[TestProtocol, ...]:
    """The config's test pipeline: 25 frames x TenCrop 224 (dense: 25 frames at each of 10
    DenseSampleFrames positions x CenterCrop 224), averaged into one view by TSNHead."""
    crop = "center" if dense else "ten"
    current = test(25, crop, 224, version="1.x", average="prob", dense=dense)
    if not raw_logits:
        return (current,)
    at_checkpoint = current.replace(
        average=None, note="average_clips=None, as the config set at the checkpoint's date")
    return (at_checkpoint, current.replace(name=f"{current.name}-prob",
                                           note="the current config: softmax of the one view"))


RECIPE = dict(clip_len=1, frame_interval=1, num_clips=3, epochs=100, lr=0.01, momentum=0.9,
              weight_decay=0.0001, lr_milestones=(40, 80), batch_size="8 GPUs x 32 videos",
              augment="MultiScaleCrop + Flip", pretrain="ImageNet", clip_grad=40.0)
COMMON = dict(version="1.x", decoder="decord", start_index=0, data="videos",
              source_tables=(TSN_1X,), paper=TSN_PAPER)
NOTE_DATE = ("Checkpoint of 2022-09-06: tested while the config set average_clips=None (raw "
             "logits of the mean feature); the current config averages probabilities. The "
             "accuracy is the same, the scores are not, hence the two protocols.")
K400 = "tsn_imagenet-pretrained-{}_8xb32-{}-100e_kinetics400-rgb"
CUSTOM = "Using backbones from 3rd-party in TSN"

NOTE_FLOPS = "The table's FLOPs count the backbone on 25 frames of 224x224 (one test clip each)."


def tsn(config: str, stamp: str, top1: float, top5: float, flops: str, params: str, *,
        arch: str = "tsn_r50", dataset: str = "kinetics400", raw_logits: bool = True,
        dense: bool = False, recipe: dict | None = None, notes: tuple[str, ...] = (),
        section: str = "Kinetics-400", **fields) -> ZooEntry:
    """One row of the 1.x TSN table; ``stamp`` is the checkpoint file's date-hash suffix."""
    protos = protocols(raw_logits=raw_logits, dense=dense)
    row = entry(
        name=config, arch=arch, config=config, dataset=dataset,
        train=train(**{**RECIPE, **(recipe or {})}), test_protocols=protos,
        reported=(top(top1, top5, protos[0].name, TSN_1X, section),),
        url=f"{CKPT}/{config}/{config}_{stamp}.pth", log_url=f"{CKPT}/{config}/{config}.log",
        flops=flops, params=params,
        notes=((NOTE_DATE,) if raw_logits else ()) + notes + (NOTE_FLOPS,), **COMMON, **fields)
    if section == CUSTOM:  # these configs live in tsn/custom_backbones/
        row = dataclasses.replace(row, config_url=row.config_url.replace(
            "/recognition/tsn/", "/recognition/tsn/custom_backbones/"))
    return row


ENTRIES = (
    tsn(K400.format("r50", "1x1x3"), "20220906-cd10898e", 72.83, 90.65, "102.7G", "24.33M"),
    tsn(K400.format("r50", "1x1x5"), "20220906-65d68713", 73.80, 91.21, "102.7G", "24.33M",
        recipe={"num_clips": 5}),
    tsn(K400.format("r50", "1x1x8"), "20220906-2692d16c", 74.12, 91.34, "102.7G", "24.33M",
        recipe={"num_clips": 8}),
    tsn(K400.format("r50", "dense-1x1x5"), "20220906-dcbc6e01", 71.37, 89.67, "102.7G",
        "24.33M", dense=True, arch_kwargs={"dropout": 0.5, "init_std": 0.001},
        recipe={"num_clips": 5, "dense": True, "lr": 0.06,
                "augment": "MultiScaleCrop (13 fixed crops) + Flip"},
        notes=("The table's protocol reads '25 clips x 10 crop'; the config (also at the "
               "checkpoint's date) tests DenseSampleFrames(25 frames, 10 positions) with "
               "CenterCrop 224: 250 frames, one crop each, averaged into one view.",)),
    tsn(K400.format("r101", "1x1x8"), "20220906-23cff032", 75.89, 92.07, "195.8G", "43.32M",
        arch="tsn_r101", recipe={"num_clips": 8}),
    tsn("tsn_imagenet-pretrained-r50_8xb32-1x1x8-50e_sthv2-rgb", "20230313-06ad7d03", 35.51,
        67.09, "102.7G", "23.87M", dataset="sthv2", raw_logits=False,
        section="Something-Something V2", arch_kwargs={"dropout": 0.5},
        recipe={"num_clips": 8, "epochs": 50, "lr_milestones": (20, 40),
                "augment": "MultiScaleCrop + Flip (left/right label swap)"},
        notes=("The table's params (24.33M) is the 400-class count; with 174 classes TSN-R50 "
               "has 23,864,558 parameters (23.87M), as the metafile says.",
               "The metafile says 100 epochs and Training Data Kinetics-400; the config trains "
               "50 epochs on Something-Something V2.")),
    tsn("tsn_imagenet-pretrained-r50_8xb32-1x1x16-50e_sthv2-rgb", "20230221-85bcc1c3", 36.91,
        68.77, "102.7G", "23.87M", dataset="sthv2", raw_logits=False,
        section="Something-Something V2", arch_kwargs={"dropout": 0.5},
        recipe={"num_clips": 16, "epochs": 50, "lr_milestones": (20, 40),
                "augment": "MultiScaleCrop (13 fixed crops) + Flip (left/right label swap)"},
        notes=("The table's params (24.33M) is the 400-class count; with 174 classes TSN-R50 "
               "has 23,864,558 parameters (23.87M), as the metafile says.",
               "The left/right label swap of the training Flip was added to the config on "
               "2023-04-06 (d3122480), after this checkpoint.")),
    tsn("tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_kinetics400-rgb",
        "20221209-de2d5615", 72.95, 90.36, "200.3G", "42.95M", arch="tsn_resnext101_32x4d",
        raw_logits=False, section=CUSTOM,
        recipe={"pretrain": "ImageNet (mmcls resnext101_32x4d_b32x8_imagenet_20210506-e0fa3dd5)"},
        notes=("Backbone: mmcls ResNeXt-101 32x4d; videozoo computes it with timm "
               "resnext101_32x4d (same layers and parameter names; golden within 1e-4 of "
               "MMAction2 1.2.0 built with mmpretrain.ResNeXt, mmcls' successor).",
               "Checkpoint of 2022-12-09: between 2022-10-24 and 2022-12-22 MMAction2 1.x's "
               "test SampleFrames placed the 25 frames linearly from the first to the last "
               "frame (rounded) instead of at the centres of 25 equal bins, so the table's "
               "number may come from that sampling, which videozoo does not reproduce; the "
               "entry's protocol is the current config's.")),
    tsn("tsn_imagenet-pretrained-dense161_8xb32-1x1x3-100e_kinetics400-rgb",
        "20220906-5f4c0daf", 72.07, 90.15, "194.6G", "27.36M", arch="tsn_densenet161",
        section=CUSTOM, recipe={"augment": "RandomResizedCrop + Flip",
                                "pretrain": "ImageNet (torchvision densenet161)"},
        notes=("Backbone: torchvision densenet161. MMAction2 uses only its `features` (ending "
               "with BatchNorm norm5, no ReLU) and average-pools them; videozoo does the same.",)),
    tsn("tsn_imagenet-pretrained-swin-transformer_8xb32-1x1x3-100e_kinetics400-rgb",
        "20220906-65ed814e", 77.03, 92.61, "386.7G", "87.15M",
        arch="tsn_swin_base_patch4_window7_224", section=CUSTOM,
        recipe={"pretrain": "ImageNet (timm swin_base_patch4_window7_224)"},
        notes=("Backbone: timm swin_base_patch4_window7_224 (final LayerNorm, then the mean "
               "over the 7x7 tokens) at 224x224, the size it was trained and tested at.",
               "The checkpoint predates timm 0.9: if it stores PatchMerging at the end of each "
               "stage (timm < 0.9 layout) videozoo moves it to the next stage and drops the "
               "derived relative_position_index / attn_mask buffers (unconfirmed which layout "
               "the file uses). feature_shape='NHWC' was added to the config on 2023-06-12 "
               "(7be50ff1) for timm >= 0.9; the pooled features are the same.")),
    tsn("tsn_imagenet-pretrained-swin-transformer_32xb8-1x1x8-50e_kinetics400-rgb",
        "20230530-428f0064", 79.22, 94.20, "386.7G", "87.15M",
        arch="tsn_swin_base_patch4_window7_224", raw_logits=False, section=CUSTOM,
        recipe={"num_clips": 8, "epochs": 50, "lr_milestones": (20, 40),
                "batch_size": "32 GPUs x 8 videos",
                "pretrain": "ImageNet (timm swin_base_patch4_window7_224)"},
        notes=("The table's gpus column says 8; the config name and the metafile say 32 GPUs "
               "x 8 videos, while the config itself inherits 32 videos per GPU from its base.",
               "The config lacks feature_shape='NHWC': under MMAction2 1.2.0 with timm >= 0.9 "
               "it fails (pools timm's NHWC map as if NCHW: 'mat1 and mat2 shapes cannot be "
               "multiplied (1x7 and 1024x400)'). videozoo pools the tokens as the 1x1x3 "
               "config does.",
               "The metafile links the 1x1x3 checkpoint (…-65ed814e) for this row and says "
               "100 epochs; the table's link and the config (50 epochs) are followed.")),
    tsn("tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb",
        "20230825-2da3c1f7", 73.65, 91.32, "76.02G", "13.72M", arch="tsn_mobileone_s4",
        raw_logits=False, section=CUSTOM,
        recipe={"num_clips": 8, "batch_size": "8 GPUs x 16 videos",
                "pretrain": "ImageNet (mmcls mobileone-s4_8xb32_in1k_20221110-28d888cb)"},
        notes=("Backbone: mmpretrain MobileOne s4 (timm mobileone_s4 computes it; the "
               "train-form branch sum differs in order, ~1e-6 relative). "
               "create_model(..., deploy=True) or model.reparameterize() gives the fused form "
               "of the deploy config.",
               "The config name says 8xb32; its train_dataloader has 16 videos per GPU.",
               "The table prints 76G FLOPs; the same count gives 76.02G (76,020,... for 25 "
               "frames of 224x224), kept with its decimals like the other rows.")),
)
