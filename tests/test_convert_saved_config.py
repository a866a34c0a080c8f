"""``videozoo convert`` of a lab's own MMAction2 checkpoints: the model comes from the config the
training run saved in the file (1.x ``meta['cfg']``, 0.x ``meta['config']``)."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch

import videozoo
from videozoo._checkpoint import CheckpointError, read_checkpoint
from videozoo._convert import (
    convert_checkpoint,
    read_checkpoint_meta,
    safetensors_metadata,
    saved_config,
)
from videozoo._mmaction_config import ConfigError
from videozoo.cli import main

ARCH = "tsm_mobilenetv2"  # small: fast to build and save

# What mmengine's Config.pretty_text gives for a 1.x TSM-MobileNetV2 run (the resolved config,
# _base_ files merged in), trimmed to the parts that matter plus some runtime noise.
PRETTY_1X = textwrap.dedent("""\
    default_scope = 'mmaction'
    default_hooks = dict(
        runtime_info=dict(type='RuntimeInfoHook'),
        timer=dict(type='IterTimerHook'),
        checkpoint=dict(
            type='CheckpointHook', interval=3, save_best='auto', max_keep_ckpts=3))
    env_cfg = dict(
        cudnn_benchmark=False,
        mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
        dist_cfg=dict(backend='nccl'))
    model = dict(
        type='Recognizer2D',
        backbone=dict(
            type='MobileNetV2TSM',
            shift_div=8,
            num_segments=8,
            is_shift=True,
            pretrained='mmcls://mobilenet_v2'),
        cls_head=dict(
            type='TSMHead',
            num_segments=8,
            num_classes=5,
            in_channels=1280,
            spatial_type='avg',
            consensus=dict(type='AvgConsensus', dim=1),
            dropout_ratio=0.5,
            init_std=0.001,
            is_shift=True,
            average_clips='prob'),
        data_preprocessor=dict(
            type='ActionDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            format_shape='NCHW'),
        train_cfg=None,
        test_cfg=None)
    train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=1)
    param_scheduler = [
        dict(
            type='MultiStepLR',
            begin=0,
            end=100,
            by_epoch=True,
            milestones=[40, 80],
            gamma=0.1)
    ]
    optim_wrapper = dict(
        constructor='TSMOptimWrapperConstructor',
        paramwise_cfg=dict(fc_lr5=True),
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=2e-05),
        clip_grad=dict(max_norm=20, norm_type=2))
    test_pipeline = [
        dict(type='DecordInit', io_backend='disk'),
        dict(
            type='SampleFrames',
            clip_len=1,
            frame_interval=1,
            num_clips=8,
            test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='ThreeCrop', crop_size=256),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs')
    ]
    test_dataloader = dict(
        batch_size=1,
        num_workers=8,
        persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='VideoDataset',
            ann_file='data/lab/val_list.txt',
            data_prefix=dict(video='data/lab/videos_val'),
            pipeline=[
                dict(type='DecordInit', io_backend='disk'),
                dict(
                    type='SampleFrames',
                    clip_len=1,
                    frame_interval=1,
                    num_clips=8,
                    test_mode=True),
                dict(type='DecordDecode'),
                dict(type='Resize', scale=(-1, 256)),
                dict(type='ThreeCrop', crop_size=256),
                dict(type='FormatShape', input_format='NCHW'),
                dict(type='PackActionInputs')
            ],
            test_mode=True))
    launcher = 'pytorch'
    work_dir = './work_dirs/tsm_mobilenetv2_lab'
    randomness = dict(seed=None, diff_rank_seed=False, deterministic=False)
""")

# What MMAction2 0.x's tools/train.py stores as meta['config'] (mmcv pretty_text) for the same model.
PRETTY_0X = textwrap.dedent("""\
    model = dict(
        type='Recognizer2D',
        backbone=dict(
            type='MobileNetV2TSM',
            shift_div=8,
            num_segments=8,
            is_shift=True,
            pretrained='mmcls://mobilenet_v2'),
        cls_head=dict(
            type='TSMHead',
            num_segments=8,
            num_classes=5,
            in_channels=1280,
            spatial_type='avg',
            consensus=dict(type='AvgConsensus', dim=1),
            dropout_ratio=0.5,
            init_std=0.001,
            is_shift=True),
        train_cfg=None,
        test_cfg=dict(average_clips='prob'))
    optimizer = dict(
        type='SGD',
        constructor='TSMOptimizerConstructor',
        paramwise_cfg=dict(fc_lr5=True),
        lr=0.01,
        momentum=0.9,
        weight_decay=4e-05)
    optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
    lr_config = dict(policy='step', step=[40, 80])
    total_epochs = 100
    checkpoint_config = dict(interval=1)
    dataset_type = 'RawframeDataset'
    img_norm_cfg = dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
    data = dict(
        videos_per_gpu=8,
        workers_per_gpu=2,
        test=dict(
            type='RawframeDataset',
            ann_file='data/lab/val_list_rawframes.txt',
            data_prefix='data/lab/rawframes_val',
            pipeline=[
                dict(
                    type='DenseSampleFrames',
                    clip_len=1,
                    frame_interval=1,
                    num_clips=8,
                    test_mode=True),
                dict(type='RawFrameDecode'),
                dict(type='Resize', scale=(-1, 256)),
                dict(type='ThreeCrop', crop_size=256),
                dict(
                    type='Normalize',
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375],
                    to_bgr=False),
                dict(type='FormatShape', input_format='NCHW'),
                dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
                dict(type='ToTensor', keys=['imgs'])
            ]))
    work_dir = './work_dirs/tsm_mobilenetv2_lab'
    gpu_ids = range(0, 8)
""")


class HistoryBuffer:
    """Stands in for mmengine.logging.HistoryBuffer, which a 1.x runner pickles in message_hub."""

    def __init__(self) -> None:
        self._log_history = np.array([0.5, 0.4])
        self._count_history = np.array([1, 1])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return videozoo.create_model(ARCH, num_classes=5).eval()


def runner_checkpoint_1x(model, path, cfg_text=PRETTY_1X):
    """The layout of mmengine's Runner.save_checkpoint (before tools/deployment/publish_model)."""
    obj = {
        "meta": {"epoch": 100, "iter": 123400, "cfg": cfg_text, "seed": 1234,
                 "experiment_name": "tsm_mobilenetv2_lab_20240101_000000",
                 "time": "20240105_101010", "mmengine_version": "0.10.7",
                 "dataset_meta": None},
        "state_dict": model.export_mmaction_state_dict(),
        "message_hub": {"log_scalars": {"train/loss": HistoryBuffer()},
                        "runtime_info": {"epoch": 99, "iter": 123399},
                        "resumed_keys": {"epoch": True}},
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "momentum": 0.9,
                                                     "params": [0, 1]}]},
        "param_schedulers": [{"milestones": {40: 1, 80: 1}, "gamma": 0.1, "last_step": 100}],
    }
    torch.save(obj, path)
    return path


def trained_checkpoint_0x(model, path, cfg_text=PRETTY_0X):
    """The layout of mmcv's save_checkpoint as MMAction2 0.x's tools/train.py drives it."""
    obj = {
        "meta": {"mmaction_version": "0.24.1+71a938a", "config": cfg_text,
                 "env_info": "sys.platform: linux\nPython: 3.8", "seed": 0,
                 "config_name": "tsm_mobilenetv2_lab.py", "work_dir": "tsm_mobilenetv2_lab",
                 "epoch": 100, "iter": 40000, "mmcv_version": "1.3.18",
                 "time": "Fri Jan  5 10:10:10 2024"},
        "state_dict": model.export_mmaction_state_dict(),
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]},
    }
    torch.save(obj, path)
    return path


def _logits(m: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(1, 3, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return m.eval()(x)


def test_1x_runner_checkpoint_converts_from_its_saved_config(tmp_path, model):
    src = runner_checkpoint_1x(model, tmp_path / "epoch_100.pth")
    meta = read_checkpoint_meta(src)
    assert meta["epoch"] == 100 and "cfg" in meta  # read without importing HistoryBuffer
    spec = saved_config(src)
    assert spec.arch == ARCH and spec.num_classes == 5 and spec.source == "meta['cfg']"
    assert spec.data_config["crop"] == "three" and spec.data_config["num_segments"] == 8

    dst = convert_checkpoint(src, tmp_path / "lab.safetensors")
    out = safetensors_metadata(dst)
    assert out["arch"] == ARCH and out["num_classes"] == "5"
    assert out["config_source"] == "meta['cfg']"
    data = json.loads(out["data_config"])
    assert (data["num_clips"], data["crop"], data["crop_size"], data["average"]) == \
        (8, "three", 256, "prob")
    assert data["decoder"] == "decord" and data["legacy_sampling"] is False
    converted = videozoo.create_model(ARCH, checkpoint_path=dst)
    assert torch.equal(_logits(converted), _logits(model))


def test_0x_checkpoint_converts_from_meta_config(tmp_path, model):
    src = trained_checkpoint_0x(model, tmp_path / "latest.pth")
    dst = convert_checkpoint(src, tmp_path / "lab0.safetensors")
    out = safetensors_metadata(dst)
    assert out["config_source"] == "meta['config']" and out["arch"] == ARCH
    data = json.loads(out["data_config"])
    assert data["dense"] is True and data["decoder"] == "rawframes"
    assert data["legacy_sampling"] is True and data["start_index"] == 1
    state, _ = read_checkpoint(dst)
    assert state  # and the tensors are the model's
    assert torch.equal(_logits(videozoo.create_model(ARCH, checkpoint_path=dst)), _logits(model))


def test_from_mmaction_with_only_the_checkpoint(tmp_path, model):
    src = runner_checkpoint_1x(model, tmp_path / "best.pth")
    built, data_cfg = videozoo.from_mmaction(None, src)
    assert built.num_classes == 5 and data_cfg.crop == "three" and data_cfg.num_segments == 8
    assert torch.equal(_logits(built), _logits(model))


def test_cli_without_arch_uses_the_saved_config(tmp_path, model, capsys):
    src = runner_checkpoint_1x(model, tmp_path / "epoch_7.pth")
    assert main(["convert", str(src)]) == 0  # DST defaults to SRC.safetensors
    out = capsys.readouterr().out
    assert ARCH in out and "5 classes" in out and "meta['cfg']" in out and "three crop 256" in out
    assert (tmp_path / "epoch_7.safetensors").exists()


def test_cli_without_arch_or_saved_config_names_arch(tmp_path, model, capsys):
    src = tmp_path / "bare.pth"
    torch.save({"state_dict": model.export_mmaction_state_dict()}, src)
    assert main(["convert", str(src), str(tmp_path / "bare.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "--arch" in err and "meta['cfg']" in err
    assert not (tmp_path / "bare.safetensors").exists()


def test_saved_config_disagreeing_with_the_weights_is_refused(tmp_path, model):
    src = runner_checkpoint_1x(model, tmp_path / "wrong.pth",
                               PRETTY_1X.replace("num_classes=5", "num_classes=400"))
    with pytest.raises(CheckpointError, match="saved config says 400 classes but the classifier has 5"):
        convert_checkpoint(src, tmp_path / "wrong.safetensors")


def test_malicious_saved_config_is_refused_without_running(tmp_path, model, capsys):
    marker = tmp_path / "pwned"
    evil = f"import os\nos.system('touch {marker}')\nmodel = dict(type='Recognizer2D')\n"
    src = runner_checkpoint_1x(model, tmp_path / "evil.pth", evil)
    with pytest.raises(ConfigError, match="import"):
        convert_checkpoint(src, tmp_path / "evil.safetensors")
    assert main(["convert", str(src), str(tmp_path / "evil.safetensors")]) == 1
    assert "import" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "evil.safetensors").exists()


def test_saved_config_videozoo_cannot_build_is_refused(tmp_path, model):
    src = runner_checkpoint_1x(model, tmp_path / "r18.pth", PRETTY_1X.replace(
        "type='MobileNetV2TSM',", "type='ResNetTSM', depth=18,"))
    with pytest.raises(ConfigError, match="depth 18"):
        convert_checkpoint(src, tmp_path / "r18.safetensors")
    # --arch still overrides the saved config
    dst = convert_checkpoint(src, tmp_path / "r18.safetensors", ARCH)
    assert safetensors_metadata(dst)["arch"] == ARCH
