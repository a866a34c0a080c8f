"""TPN entries: every checkpoint of MMAction2 0.x's TPN model zoo table (``004_...``)."""

from __future__ import annotations

from ._common import (
    REFERENCE,
    TPN_0X,
    TPN_PAPER,
    accurate,
    entry,
    test,
    top,
    train,
)

ENTRIES = (
    entry(
        name="tpn_slowonly_r50_8x8x1_150e_kinetics_rgb",
        arch="tpn_slowonly_r50",
        config="tpn_slowonly_r50_8x8x1_150e_kinetics_rgb",
        version="0.x",
        dataset="kinetics400",
        decoder="rawframes",
        data="rawframes, short side 320",
        train=train(
            clip_len=8,
            frame_interval=8,
            num_clips=1,
            epochs=150,
            lr=0.01,
            momentum=0.9,
            weight_decay=0.0001,
            lr_milestones=(75, 125),
            batch_size="16 GPUs x 8 videos",
            augment="RandomResizedCrop + Flip + ColorJitter",
            pretrain="none",
            clip_grad=40.0,
            note="Nesterov momentum",
        ),
        test_protocols=(
            test(10, "three", 256, version="0.x", average="prob", clip_len=8, frame_interval=8),
        ),
        reported=(top(73.58, 91.35, "10x3", TPN_0X, "Kinetics-400"),),
        url="https://download.openmmlab.com/mmaction/recognition/tpn/tpn_slowonly_r50_8x8x1_150e_kinetics_rgb/tpn_slowonly_r50_8x8x1_150e_kinetics_rgb-c568e7ad.pth",
        log_url="https://download.openmmlab.com/mmaction/recognition/tpn/tpn_slowonly_r50_8x8x1_150e_kinetics_rgb/tpn_slowonly_r50_8x8x1_150e_kinetics_rgb.log",
        gpu_memory_mb=6916,
        source_tables=(TPN_0X,),
        paper=TPN_PAPER,
        notes=(
            "Trained from scratch (no ImageNet initialisation).",
            (
                "At the checkpoint's publication the config set average_clips=None; the 0.x config "
                "now averages probabilities."
            ),
        ),
    ),
    entry(
        name="tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb",
        arch="tpn_slowonly_r50",
        config="tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb",
        version="0.x",
        dataset="kinetics400",
        decoder="rawframes",
        data="rawframes, short side 320",
        train=train(
            clip_len=8,
            frame_interval=8,
            num_clips=1,
            epochs=150,
            lr=0.01,
            momentum=0.9,
            weight_decay=0.0001,
            lr_milestones=(75, 125),
            batch_size="8 GPUs x 8 videos",
            augment="RandomResizedCrop + Flip + ColorJitter",
            pretrain="ImageNet",
            clip_grad=40.0,
            note="Nesterov momentum",
        ),
        test_protocols=(
            test(10, "three", 256, version="0.x", average="prob", clip_len=8, frame_interval=8),
        ),
        reported=(
            top(76.59, 92.72, "10x3", TPN_0X, "Kinetics-400"),
            top(
                75.49,
                92.05,
                "10x3",
                TPN_0X,
                "Kinetics-400",
                kind=REFERENCE,
                note="original TPN code: https://github.com/decisionforce/TPN/blob/master/MODELZOO.md",
            ),
        ),
        url="https://download.openmmlab.com/mmaction/recognition/tpn/tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb/tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb-44362b55.pth",
        log_url="https://download.openmmlab.com/mmaction/recognition/tpn/tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb/tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb.log",
        gpu_memory_mb=6916,
        source_tables=(TPN_0X,),
        paper=TPN_PAPER,
        notes=(
            (
                "At the checkpoint's publication the config set average_clips=None; the 0.x config "
                "now averages probabilities."
            ),
        ),
    ),
    entry(
        name="tpn_tsm_r50_1x1x8_150e_sthv1_rgb",
        arch="tpn_tsm_r50",
        config="tpn_tsm_r50_1x1x8_150e_sthv1_rgb",
        version="0.x",
        dataset="sthv1",
        decoder="rawframes",
        data="rawframes, height 100",
        train=train(
            clip_len=1,
            frame_interval=1,
            num_clips=8,
            epochs=150,
            lr=0.01,
            momentum=0.9,
            weight_decay=0.0005,
            lr_milestones=(75, 125),
            batch_size="48 GPUs x 8 videos",
            augment="RandomResizedCrop + Flip + ColorJitter",
            pretrain="ImageNet",
            clip_grad=20.0,
            note="Nesterov momentum",
        ),
        test_protocols=(accurate(8, version="0.x"),),
        reported=(top(51.5, 79.15, "accurate", TPN_0X, "Something-Something V1"),),
        url="https://download.openmmlab.com/mmaction/recognition/tpn/tpn_tsm_r50_1x1x8_150e_sthv1_rgb/tpn_tsm_r50_1x1x8_150e_sthv1_rgb_20211202-c28ed83f.pth",
        log_url="https://download.openmmlab.com/mmaction/recognition/tpn/tpn_tsm_r50_1x1x8_150e_sthv1_rgb/tpn_tsm_r50_1x1x8_150e_sthv1_rgb.log",
        gpu_memory_mb=8828,
        source_tables=(TPN_0X,),
        paper=TPN_PAPER,
        notes=(
            "The table's header has no resolution column although the row has one (height 100).",
            (
                "The table's pretrain column says 'TSM'; the config initialises the ResNet-50 TSM "
                "backbone from ImageNet (torchvision://resnet50)."
            ),
            (
                "The config keeps RawframeDataset's default template 'img_{:05}.jpg', whereas the "
                "Something-Something V1 TSM configs read '{:05}.jpg'."
            ),
            (
                "Test: fcn_test with 8-frame views; each view's TPN neck output is pooled and "
                "classified, then probabilities are averaged over the 6 views."
            ),
        ),
    ),
)
