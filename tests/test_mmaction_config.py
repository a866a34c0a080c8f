"""The MMAction2 config reader (nothing executed), its mapping to videozoo, and ``from_mmaction``."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

import videozoo
from videozoo._mmaction_config import (
    ConfigError,
    config_from_checkpoint_meta,
    load_config,
    merge_into,
    parse_config_text,
)
from videozoo._mmaction_recipe import (
    ConfigSummaryError,
    architecture_of,
    data_config_fields,
    summarize_config,
)


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# -- realistic config trees -------------------------------------------------------------------------
TSM_MODEL_BASE = """
    preprocess_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
    model = dict(
        type='Recognizer2D',
        backbone=dict(type='ResNetTSM', pretrained='torchvision://resnet50', depth=50,
                      norm_eval=False, shift_div=8),
        cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, spatial_type='avg',
                      consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                      init_std=0.001, is_shift=True, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor', **preprocess_cfg),
        train_cfg=None,
        test_cfg=None)
"""
RUNTIME_BASE = """
    default_scope = 'mmaction'
    default_hooks = dict(
        runtime_info=dict(type='RuntimeInfoHook'),
        checkpoint=dict(type='CheckpointHook', interval=3, save_best='auto', max_keep_ckpts=3))
    env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'))
    log_level = 'INFO'
    load_from = None
    resume = False
"""
TSM_1X = """
    _base_ = ['../../_base_/models/tsm_r50.py', '../../_base_/default_runtime.py']

    dataset_type = 'VideoDataset'
    data_root_val = 'data/kinetics400/videos_val'
    ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
    file_client_args = dict(io_backend='disk')
    train_pipeline = [
        dict(type='DecordInit', **file_client_args),
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1, num_fixed_crops=13),
        dict(type='Resize', scale=(224, 224), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs')
    ]
    test_pipeline = [
        dict(type='DecordInit', **file_client_args),
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='TenCrop', crop_size=224),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs')
    ]
    train_dataloader = dict(
        batch_size=16, num_workers=8, persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type=dataset_type, ann_file='train.txt', data_prefix=dict(video='train'),
                     pipeline=train_pipeline))
    test_dataloader = dict(
        batch_size=1, num_workers=8, persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type=dataset_type, ann_file=ann_file_val,
                     data_prefix=dict(video=data_root_val), pipeline=test_pipeline,
                     test_mode=True))
    train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
    param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5),
        dict(type='MultiStepLR', begin=0, end=50, by_epoch=True, milestones=[25, 45], gamma=0.1)
    ]
    optim_wrapper = dict(
        constructor='TSMOptimWrapperConstructor',
        paramwise_cfg=dict(fc_lr5=True),
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
        clip_grad=dict(max_norm=20, norm_type=2))
    default_hooks = dict(checkpoint=dict(interval=3, max_keep_ckpts=3))
"""
# A child in the 1.x style: 16 segments, a schedule replaced with _delete_, base references.
TSM_1X_16 = """
    _base_ = 'tsm_r50_1x1x8_kinetics400.py'
    model = dict(backbone=dict(num_segments=16), cls_head=dict(num_segments=16))
    segments = _base_.model.backbone.shift_div * 2
    test_pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=segments,
             test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='ThreeCrop', crop_size=256),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs')
    ]
    test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
    optim_wrapper = dict(_delete_=True, optimizer=dict(type='SGD', lr=0.02, momentum=0.9,
                                                       weight_decay=2e-05))
    log_level = {{_base_.log_level}}
    work_dir = f'./work_dirs/tsm_{segments // 2}seg'
"""
TSN_0X = """
    # model settings (0.x, 2020 layout: test_cfg at the top level)
    model = dict(
        type='Recognizer2D',
        backbone=dict(type='ResNet', pretrained='torchvision://resnet50', depth=50,
                      norm_eval=False),
        cls_head=dict(type='TSNHead', num_classes=101, in_channels=2048, spatial_type='avg',
                      consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.4,
                      init_std=0.001))
    train_cfg = None
    test_cfg = dict(average_clips=None)
    dataset_type = 'RawframeDataset'
    img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                        to_bgr=False)
    train_pipeline = [
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3),
        dict(type='RawFrameDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66)),
        dict(type='Normalize', **img_norm_cfg),
        dict(type='FormatShape', input_format='NCHW'),
    ]
    test_pipeline = [
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=25, test_mode=True),
        dict(type='RawFrameDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='ThreeCrop', crop_size=256),
        dict(type='Normalize', **img_norm_cfg),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
        dict(type='ToTensor', keys=['imgs'])
    ]
    data = dict(
        videos_per_gpu=32,
        workers_per_gpu=4,
        train=dict(type=dataset_type, ann_file='train.txt', data_prefix='rawframes',
                   pipeline=train_pipeline),
        test=dict(type=dataset_type, ann_file='val.txt', data_prefix='rawframes',
                  filename_tmpl='img_{:05}.jpg', pipeline=test_pipeline))
    optimizer = dict(type='SGD', lr=0.00128, momentum=0.9, weight_decay=0.0005)
    optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
    lr_config = dict(policy='step', step=[30, 60])
    total_epochs = 75
"""
TPN_MODEL_BASE = """
    model = dict(
        type='Recognizer3D',
        backbone=dict(type='ResNet3dSlowOnly', depth=50, pretrained='torchvision://resnet50',
                      lateral=False, out_indices=(2, 3), conv1_kernel=(1, 7, 7), conv1_stride_t=1,
                      pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False),
        neck=dict(type='TPN', in_channels=(1024, 2048), out_channels=1024,
                  spatial_modulation_cfg=dict(in_channels=(1024, 2048), out_channels=2048),
                  temporal_modulation_cfg=dict(downsample_scales=(8, 8)),
                  upsample_cfg=dict(scale_factor=(1, 1, 1)),
                  downsample_cfg=dict(downsample_scale=(1, 1, 1)),
                  level_fusion_cfg=dict(in_channels=(1024, 1024), mid_channels=(1024, 1024),
                                        out_channels=2048, downsample_scales=((1, 1, 1),
                                                                              (1, 1, 1))),
                  aux_head_cfg=dict(out_channels=400, loss_weight=0.5)),
        cls_head=dict(type='TPNHead', num_classes=400, in_channels=2048, spatial_type='avg',
                      consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                      init_std=0.01, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
"""
TPN_1X = """
    _base_ = ['../../_base_/models/tpn_slowonly_r50.py']
    test_pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=8, frame_interval=8, num_clips=10, test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 256)),
        dict(type='ThreeCrop', crop_size=256),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs')
    ]
    test_dataloader = dict(batch_size=1, dataset=dict(type='VideoDataset', ann_file='val.txt',
                                                      pipeline=test_pipeline, test_mode=True))
"""


@pytest.fixture()
def tree(tmp_path):
    write(tmp_path, "configs/_base_/models/tsm_r50.py", TSM_MODEL_BASE)
    write(tmp_path, "configs/_base_/models/tpn_slowonly_r50.py", TPN_MODEL_BASE)
    write(tmp_path, "configs/_base_/default_runtime.py", RUNTIME_BASE)
    write(tmp_path, "configs/recognition/tsm/tsm_r50_1x1x8_kinetics400.py", TSM_1X)
    write(tmp_path, "configs/recognition/tsm/tsm_r50_1x1x16_kinetics400.py", TSM_1X_16)
    write(tmp_path, "configs/recognition/tsn/tsn_r50_1x1x3_75e_ucf101_rgb.py", TSN_0X)
    write(tmp_path, "configs/recognition/tpn/tpn_slowonly_kinetics400.py", TPN_1X)
    return tmp_path / "configs" / "recognition"


# -- the reader -------------------------------------------------------------------------------------
def test_1x_config_with_bases_merges_like_mmengine(tree):
    cfg = load_config(tree / "tsm" / "tsm_r50_1x1x8_kinetics400.py")
    assert "_base_" not in cfg and cfg["default_scope"] == "mmaction"
    assert cfg["model"]["backbone"]["type"] == "ResNetTSM"
    assert cfg["model"]["data_preprocessor"]["mean"] == [123.675, 116.28, 103.53]  # ** unpacked
    # the child's default_hooks merged key by key into the base's
    hooks = cfg["default_hooks"]
    assert hooks["runtime_info"] == {"type": "RuntimeInfoHook"}
    assert hooks["checkpoint"] == {"type": "CheckpointHook", "interval": 3, "save_best": "auto",
                                   "max_keep_ckpts": 3}
    assert cfg["test_dataloader"]["dataset"]["pipeline"][4] == {"type": "TenCrop", "crop_size": 224}
    assert cfg["train_pipeline"][3]["scale"] == (-1, 256)  # tuples stay tuples


def test_child_config_delete_and_base_references(tree):
    cfg = load_config(tree / "tsm" / "tsm_r50_1x1x16_kinetics400.py")
    model = cfg["model"]
    assert model["backbone"]["num_segments"] == 16 and model["backbone"]["depth"] == 50
    assert model["cls_head"]["num_segments"] == 16 and model["cls_head"]["num_classes"] == 400
    assert cfg["segments"] == 16  # _base_.model.backbone.shift_div * 2
    # _delete_=True replaced the whole optim_wrapper instead of merging into it
    assert cfg["optim_wrapper"] == {"optimizer": {"type": "SGD", "lr": 0.02, "momentum": 0.9,
                                                  "weight_decay": 2e-05}}
    assert cfg["log_level"] == "INFO"  # {{_base_.log_level}}
    assert cfg["work_dir"] == "./work_dirs/tsm_8seg"  # f-string, // arithmetic
    # the child's dataset dict merged into the base's: the pipeline changed, the rest kept
    ds = cfg["test_dataloader"]["dataset"]
    assert ds["ann_file"] == "data/kinetics400/kinetics400_val_list_videos.txt"
    assert ds["pipeline"][1]["num_clips"] == 16


def test_base_attribute_reference_reads_the_base_value(tmp_path):
    write(tmp_path, "base.py", "model = dict(cls_head=dict(num_segments=8))\nx = [1, 2]\n")
    child = write(tmp_path, "child.py", """
        _base_ = './base.py'
        segments = _base_.model.cls_head.num_segments * 2
        first = _base_.x[0]
    """)
    cfg = load_config(child)
    assert cfg["segments"] == 16 and cfg["first"] == 1 and cfg["x"] == [1, 2]


def test_merge_semantics():
    base = {"a": {"b": 1, "c": 2}, "d": [1], "e": 3}
    assert merge_into({"a": {"b": 5}}, base) == {"a": {"b": 5, "c": 2}, "d": [1], "e": 3}
    assert merge_into({"a": {"_delete_": True, "z": 0}}, base)["a"] == {"z": 0}
    assert merge_into({"d": [2, 3]}, base)["d"] == [2, 3]  # lists are replaced, not merged
    assert merge_into({"new": {"_delete_": True}}, base)["new"] == {"_delete_": True}  # as mmengine
    assert base == {"a": {"b": 1, "c": 2}, "d": [1], "e": 3}  # inputs untouched
    with pytest.raises(ConfigError, match="cannot merge"):
        merge_into({"e": {"x": 1}}, base)


def test_duplicate_keys_among_bases_and_loops_are_refused(tmp_path):
    write(tmp_path, "a.py", "x = 1\n")
    write(tmp_path, "b.py", "x = 2\n")
    with pytest.raises(ConfigError, match="duplicate keys among _base_ files: \\['x'\\]"):
        load_config(write(tmp_path, "c.py", "_base_ = ['a.py', 'b.py']\n"))
    write(tmp_path, "loop1.py", "_base_ = 'loop2.py'\n")
    write(tmp_path, "loop2.py", "_base_ = 'loop1.py'\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "loop1.py")
    with pytest.raises(ConfigError, match="cannot read _base_ file 'missing.py'"):
        load_config(write(tmp_path, "d.py", "_base_ = 'missing.py'\n"))


def test_predefined_variables_and_literals(tmp_path):
    cfg = load_config(write(tmp_path, "conf/my_cfg.py", """
        work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
        scale = (-1, 256)
        scales = list((1, 0.875)) + [0.75]
        ids = range(0, 4)
        neg = -0.5
        table = {1: 'a', 'k': None}
        name = 'x_%d' % 3
        first, second = 1, 2
    """))
    assert cfg["work_dir"] == "./work_dirs/my_cfg"
    assert cfg["scales"] == [1, 0.875, 0.75] and list(cfg["ids"]) == [0, 1, 2, 3]
    assert cfg["neg"] == -0.5 and cfg["table"] == {1: "a", "k": None} and cfg["name"] == "x_3"
    assert (cfg["first"], cfg["second"]) == (1, 2)


MALICIOUS = {
    "import": "import os\nos.system('touch {marker}')\n",
    "from import": "from os import system\nsystem('touch {marker}')\n",
    "__import__": "x = __import__('os').system('touch {marker}')\n",
    "open": "x = open('{marker}', 'w')\n",
    "eval": "x = eval(\"__import__('os').system('touch {marker}')\")\n",
    "getattr": "x = getattr(dict, 'mro')\n",
    "dunder attribute": "x = ().__class__.__bases__[0].__subclasses__()\n",
    "base dunder": "_base_ = []\nx = _base_.__class__\n",
    "method call": "x = 'touch {marker}'.split()\n",
    "lambda": "f = (lambda: 1)()\n",
    "comprehension": "x = [i for i in range(3)]\n",
    "function def": "def f():\n    pass\n",
    "if": "if True:\n    x = 1\n",
    "huge repetition": "x = 'a' * 10 ** 9\n",
    "huge power": "x = 2 ** 100000\n",
    "rebinding dict": "dict = 1\n",
    "lazy config": "from mmengine.config import read_base\nwith read_base():\n    pass\n",
    "env variable": "x = '{{{{$HOME:/tmp}}}}'\n",
    "external base": "_base_ = ['mmdet::faster_rcnn.py']\n",
}


@pytest.mark.parametrize("kind", sorted(MALICIOUS))
def test_malicious_configs_are_refused_without_running_anything(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "evil.py", MALICIOUS[kind].format(marker=marker))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "\n" not in str(err.value)  # one clear line
    assert not marker.exists()
    with pytest.raises(ConfigError):
        parse_config_text(path.read_text())
    assert not marker.exists()


def test_config_text_and_checkpoint_meta(tree):
    text = "model = dict(type='Recognizer2D', cls_head=dict(num_classes=5))\nx = 1\n"
    assert parse_config_text(text)["model"]["cls_head"]["num_classes"] == 5
    with pytest.raises(ConfigError, match="cannot be read"):
        parse_config_text("_base_ = 'other.py'\n")
    assert config_from_checkpoint_meta({"cfg": text})["x"] == 1  # 1.x runners
    assert config_from_checkpoint_meta({"config": text})["x"] == 1  # 0.x tools/train.py
    assert config_from_checkpoint_meta({"config": {"x": 2}}) == {"x": 2}
    assert config_from_checkpoint_meta({"epoch": 3}) is None


# -- summary and mapping ----------------------------------------------------------------------------
def test_1x_tsm_maps_to_architecture_and_data_config(tree):
    summary = summarize_config(load_config(tree / "tsm" / "tsm_r50_1x1x8_kinetics400.py"))
    assert summary["version"] == "1.x" and summary["average_clips"] == "prob"
    assert architecture_of(summary) == ("tsm_r50", {"num_segments": 8, "shift_div": 8})
    train = summary["train"]
    assert (train["epochs"], train["lr"], train["milestones"], train["clip_grad"]) == \
        (50, 0.01, (25, 45), 20)
    assert train["fc_lr5"] and train["warmup"] == "linear" and train["warmup_iters"] == 5
    fields = data_config_fields(summary, "tsm_r50")
    cfg = videozoo.resolve_data_config(fields)
    assert (cfg.decoder, cfg.num_clips, cfg.crop, cfg.crop_size, cfg.num_segments) == \
        ("decord", 8, "ten", 224, 8)
    assert cfg.mean == (123.675, 116.28, 103.53) and not cfg.legacy_sampling
    assert cfg.train.num_clips == 8


def test_child_config_maps_its_own_segments(tree):
    summary = summarize_config(load_config(tree / "tsm" / "tsm_r50_1x1x16_kinetics400.py"))
    assert architecture_of(summary)[1]["num_segments"] == 16
    fields = data_config_fields(summary, "tsm_r50")
    assert (fields["num_clips"], fields["crop"], fields["crop_size"], fields["num_segments"]) == \
        (16, "three", 256, 16)


def test_0x_tsn_and_tpn_map(tree):
    tsn = summarize_config(load_config(tree / "tsn" / "tsn_r50_1x1x3_75e_ucf101_rgb.py"))
    assert tsn["version"] == "0.x" and tsn["average_clips"] is None and tsn["num_classes"] == 101
    assert architecture_of(tsn) == ("tsn_r50", {})
    assert tsn["train"]["epochs"] == 75 and tsn["train"]["weight_decay"] == 0.0005
    fields = data_config_fields(tsn, "tsn_r50")
    assert (fields["decoder"], fields["start_index"], fields["legacy_sampling"]) == \
        ("rawframes", 1, True)
    assert (fields["num_clips"], fields["crop"], fields["num_segments"]) == (25, "three", None)
    tpn = summarize_config(load_config(tree / "tpn" / "tpn_slowonly_kinetics400.py"))
    assert architecture_of(tpn) == ("tpn_slowonly_r50", {})
    f = data_config_fields(tpn, "tpn_slowonly_r50")
    assert (f["clip_len"], f["frame_interval"], f["num_clips"], f["input_format"]) == \
        (8, 8, 10, "NCTHW")


@pytest.mark.parametrize("change, message", [
    ("cls_head=dict(consensus=dict(type='TRNConsensus'))", "consensus 'TRNConsensus'"),
    ("backbone=dict(type='ResNet', depth=18), cls_head=dict(type='TSNHead')", "depth 18"),
    ("backbone=dict(type='timm.swin_base_patch4_window7_224')", "no videozoo architecture"),
    ("backbone=dict(temporal_pool=True)", "temporal_pool"),
])
def test_what_videozoo_cannot_build_is_refused(tree, change, message):
    child = write(tree, "tsm/changed.py", f"""
        _base_ = 'tsm_r50_1x1x8_kinetics400.py'
        model = dict({change})
    """)
    with pytest.raises(ConfigError, match=message):
        videozoo.from_mmaction(child)


def test_unsupported_test_pipeline_is_refused(tree):
    child = write(tree, "tsm/bgr.py", """
        _base_ = 'tsm_r50_1x1x8_kinetics400.py'
        test_dataloader = dict(dataset=dict(pipeline=[
            dict(type='UntrimmedSampleFrames', clip_len=1, frame_interval=16)]))
    """)
    with pytest.raises(ConfigError, match="test sampler 'UntrimmedSampleFrames'"):
        videozoo.from_mmaction(child)


def test_from_mmaction_builds_the_model_and_loads_a_checkpoint(tree, tmp_path):
    model, data_cfg = videozoo.from_mmaction(tree / "tsn" / "tsn_r50_1x1x3_75e_ucf101_rgb.py")
    assert type(model).__name__ == "TSNResNet" and model.num_classes == 101
    assert data_cfg.crop == "three" and data_cfg.average is None
    # a checkpoint in MMAction2's layout loads strictly, and gives the same logits
    ckpt = tmp_path / "lab_run_epoch_75.pth"
    torch.save({"meta": {"epoch": 75}, "state_dict": model.export_mmaction_state_dict()}, ckpt)
    loaded, _ = videozoo.from_mmaction(tree / "tsn" / "tsn_r50_1x1x3_75e_ucf101_rgb.py", ckpt)
    x = torch.randn(1, 3, 2, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    # text works as well as a path
    text = (tree / "tsn" / "tsn_r50_1x1x3_75e_ucf101_rgb.py").read_text()
    assert videozoo.from_mmaction(text)[1].num_clips == 25


def test_from_mmaction_refuses_a_checkpoint_of_another_class_count(tree, tmp_path):
    model = videozoo.create_model("tsn_r50", num_classes=7)
    ckpt = tmp_path / "seven.pth"
    torch.save({"state_dict": model.export_mmaction_state_dict()}, ckpt)
    with pytest.raises(videozoo.CheckpointError, match="7 classes but the config says 101"):
        videozoo.from_mmaction(tree / "tsn" / "tsn_r50_1x1x3_75e_ucf101_rgb.py", ckpt)


def test_tpn_neck_options_follow_the_config(tree):
    child = write(tree, "tpn/tpn_changed.py", """
        _base_ = ['tpn_slowonly_kinetics400.py']
        model = dict(neck=dict(temporal_modulation_cfg=dict(downsample_scales=(4, 4)),
                               aux_head_cfg=dict(out_channels=200)))
    """)
    arch, kwargs = architecture_of(summarize_config(load_config(child)))
    assert arch == "tpn_slowonly_r50"
    assert kwargs == {"neck_kwargs": {"temporal_scales": (4, 4)}, "aux_num_classes": 200}
    bad = write(tree, "tpn/tpn_bad.py", """
        _base_ = ['tpn_slowonly_kinetics400.py']
        model = dict(neck=dict(level_fusion_cfg=dict(mid_channels=(512, 512))))
    """)
    with pytest.raises(ConfigSummaryError, match="mid_channels"):
        architecture_of(summarize_config(load_config(bad)))


def test_non_local_tsm_maps_mode_and_options(tree):
    nl = write(tree, "tsm/tsm_nl.py", """
        _base_ = 'tsm_r50_1x1x8_kinetics400.py'
        model = dict(backbone=dict(
            non_local=((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0)),
            non_local_cfg=dict(sub_sample=True, use_scale=False, mode='dot_product')))
    """)
    assert architecture_of(summarize_config(load_config(nl))) == \
        ("tsm_r50_nl_dot_product", {"num_segments": 8, "shift_div": 8})
    odd = write(tree, "tsm/tsm_nl_odd.py", """
        _base_ = 'tsm_nl.py'
        model = dict(backbone=dict(non_local=((1, 1, 1), (0, 0, 0, 0), (0,) * 6, (0, 0, 0))))
    """)
    with pytest.raises(ConfigError, match="non_local stages"):
        videozoo.from_mmaction(odd)
