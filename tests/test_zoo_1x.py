"""The 1.x TSN and TPN README rows as zoo entries: present, resolvable, buildable, and with the
data configs their configs (at the checkpoint's date) describe."""
from __future__ import annotations

import re

import pytest
import torch

import videozoo
from videozoo._registry import get_entry, list_entries
from videozoo.data.sampling import sample_frame_indices
from videozoo.zoo import ENTRIES, tpn_1x, tsn_1x
from videozoo.zoo._common import MMACTION2_1X

# (config, architecture, top-1, top-5, checkpoint hash) as the two READMEs print them
ROWS = [
    ("tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb", "tsn_r50", 72.83, 90.65,
     "cd10898e"),
    ("tsn_imagenet-pretrained-r50_8xb32-1x1x5-100e_kinetics400-rgb", "tsn_r50", 73.80, 91.21,
     "65d68713"),
    ("tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb", "tsn_r50", 74.12, 91.34,
     "2692d16c"),
    ("tsn_imagenet-pretrained-r50_8xb32-dense-1x1x5-100e_kinetics400-rgb", "tsn_r50", 71.37,
     89.67, "dcbc6e01"),
    ("tsn_imagenet-pretrained-r101_8xb32-1x1x8-100e_kinetics400-rgb", "tsn_r101", 75.89, 92.07,
     "23cff032"),
    ("tsn_imagenet-pretrained-r50_8xb32-1x1x8-50e_sthv2-rgb", "tsn_r50", 35.51, 67.09,
     "06ad7d03"),
    ("tsn_imagenet-pretrained-r50_8xb32-1x1x16-50e_sthv2-rgb", "tsn_r50", 36.91, 68.77,
     "85bcc1c3"),
    ("tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_kinetics400-rgb",
     "tsn_resnext101_32x4d", 72.95, 90.36, "de2d5615"),
    ("tsn_imagenet-pretrained-dense161_8xb32-1x1x3-100e_kinetics400-rgb", "tsn_densenet161",
     72.07, 90.15, "5f4c0daf"),
    ("tsn_imagenet-pretrained-swin-transformer_8xb32-1x1x3-100e_kinetics400-rgb",
     "tsn_swin_base_patch4_window7_224", 77.03, 92.61, "65ed814e"),
    ("tsn_imagenet-pretrained-swin-transformer_32xb8-1x1x8-50e_kinetics400-rgb",
     "tsn_swin_base_patch4_window7_224", 79.22, 94.20, "428f0064"),
    ("tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb",
     "tsn_mobileone_s4", 73.65, 91.32, "2da3c1f7"),
    ("tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb", "tpn_slowonly_r50", 74.20, 91.48,
     "97d0835d"),
    ("tpn-slowonly_imagenet-pretrained-r50_8xb8-8x8x1-150e_kinetics400-rgb", "tpn_slowonly_r50",
     76.74, 92.57, "fed3f4c1"),
    ("tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb", "tpn_tsm_r50", 51.87, 79.67,
     "940a3615"),
]
NEW = tsn_1x.ENTRIES + tpn_1x.ENTRIES
# checkpoints tested while tsn_r50.py set average_clips=None (before 2022-11-18)
RAW_LOGITS = {r[0] for r in ROWS[:5]} | {ROWS[8][0], ROWS[9][0]}


def test_every_row_is_an_entry_with_its_numbers():
    assert len(NEW) == len(ROWS) and all(e in ENTRIES for e in NEW)
    for config, arch, top1, top5, sha in ROWS:
        e = get_entry(config)
        assert e is not None and e.name == config and e.config == config
        assert e.arch == arch and e.sha256_prefix == sha and e.url.endswith(f"-{sha}.pth")
        assert e.url.startswith("https://download.openmmlab.com/mmaction/v1.0/recognition/")
        assert e.metrics["top1"] == top1 and e.metrics["top5"] == top5
        assert e.mmaction_version == "1.x" and e.has_weights
        assert get_entry(e.url.rsplit("/", 1)[1][:-4]) is e  # checkpoint stem is an alias
    assert set(videozoo.list_pretrained(["tsn_imagenet-*", "tpn-*"])) == {r[0] for r in ROWS}


@pytest.mark.parametrize("entry", NEW, ids=lambda e: e.name)
def test_entry_schema(entry):
    source = entry.source_tables[0]
    assert entry.source_tables == (source,) and MMACTION2_1X[:8] in source
    assert re.fullmatch(r"mmaction2@[0-9a-f]{8}:configs/recognition/(tsn|tpn)/README\.md", source)
    assert all(r.source == source and r.protocol in [p.name for p in entry.test_protocols]
               for r in entry.reported)
    folder = "tsn/custom_backbones" if entry.arch in (
        "tsn_resnext101_32x4d", "tsn_densenet161", "tsn_swin_base_patch4_window7_224",
        "tsn_mobileone_s4") else entry.arch.split("_")[0]
    assert entry.config_url == (f"https://github.com/open-mmlab/mmaction2/blob/{MMACTION2_1X}/"
                                f"configs/recognition/{folder}/{entry.config}.py")
    assert re.fullmatch(r"\d+\.\d+M", entry.params)
    if entry.arch.startswith("tsn"):  # the TSN table has FLOPs; TPN's are in the notes
        assert re.fullmatch(r"\d+(\.\d+)?G", entry.flops)
    else:
        assert entry.flops is None and any("FLOPs" in n for n in entry.notes)
    assert entry.notes and entry.paper.startswith("@")
    t = entry.train
    assert t.epochs and t.lr and t.batch_size and t.pretrain
    assert all(0 < m <= t.epochs for m in t.lr_milestones)
    names = [p.name for p in entry.test_protocols]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("config", [r[0] for r in ROWS])
def test_builds_with_random_weights(config):
    model = videozoo.create_model(config)
    e = get_entry(config)
    assert model.num_classes == e.num_classes == {"kinetics400": 400, "sthv2": 174,
                                                  "sthv1": 174}[e.dataset]
    assert model.pretrained_cfg["name"] == config
    assert model.pretrained_cfg["test_protocol"]["name"] == e.test_protocols[0].name


def test_the_issue_example_runs():
    model = videozoo.create_model(
        "tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 3, 64, 64)).shape == (1, 400)


@pytest.mark.parametrize("config", [r[0] for r in ROWS[:12]])
def test_tsn_data_configs(config):
    cfg = videozoo.resolve_data_config(config)
    assert (cfg.decoder, cfg.start_index, cfg.clip_len, cfg.num_clips) == ("decord", 0, 1, 25)
    assert cfg.num_segments is None and cfg.input_format == "NCHW"
    assert cfg.mean == (123.675, 116.28, 103.53) and cfg.std == (58.395, 57.12, 57.375)
    if "-dense-" in config:
        assert cfg.dense and (cfg.crop, cfg.crop_size) == ("center", 224)
    else:
        assert not cfg.dense and (cfg.crop, cfg.crop_size) == ("ten", 224)
    assert cfg.average == (None if config in RAW_LOGITS else "prob")
    if config in RAW_LOGITS:
        prob = get_entry(config).test_protocols[1]
        assert prob.name.endswith("-prob")
        assert videozoo.resolve_data_config(config, prob.name).average == "prob"
    train = get_entry(config).train
    assert train.num_clips == int(re.search(r"1x1x(\d+)", config).group(1))


@pytest.mark.parametrize("config", [r[0] for r in ROWS[12:14]])
def test_tpn_slowonly_protocols(config):
    then = videozoo.resolve_data_config(config)
    now = videozoo.resolve_data_config(config, "10x3-linear")
    for cfg in (then, now):
        assert (cfg.clip_len, cfg.frame_interval, cfg.num_clips) == (8, 8, 10)
        assert (cfg.crop, cfg.crop_size, cfg.average) == ("three", 256, "prob")
        assert cfg.decoder == "decord" and cfg.input_format == "NCTHW"
    assert then.legacy_sampling and not now.legacy_sampling
    a = sample_frame_indices(300, 8, 8, 10, legacy=True)
    b = sample_frame_indices(300, 8, 8, 10, legacy=False)
    assert not (a == b).all()  # the two protocols really see different frames


def test_tpn_tsm_data_config():
    cfg = videozoo.resolve_data_config(ROWS[14][0])
    assert cfg.protocol == "accurate" and cfg.twice_sample and cfg.num_segments == 8
    assert (cfg.crop, cfg.crop_size, cfg.num_clips) == ("three", 256, 8)
    assert (cfg.decoder, cfg.filename_tmpl, cfg.start_index) == ("rawframes", "{:05}.jpg", 1)


def test_architecture_queries_cover_both_schemes():
    tsn_r50 = [e.name for e in list_entries() if e.arch == "tsn_r50"]
    assert {r[0] for r in ROWS if r[1] == "tsn_r50"} <= set(tsn_r50)
    assert any(n.startswith("tsn_r50_") for n in tsn_r50)  # and the 0.x names
