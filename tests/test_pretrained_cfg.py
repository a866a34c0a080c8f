"""One protocol type from entry to transform: ``model.pretrained_cfg`` is the data config, read
back without any lookup; training recipes are data; architectures list all their entries."""
from __future__ import annotations

import pytest
import torch

import videozoo
from videozoo import _registry
from videozoo._pretrained import Augment, TrainProtocol
from videozoo.cli import main
from videozoo.data import resolve_data_config
from videozoo.training import lr_scheduler, param_groups
from videozoo.zoo import ENTRIES

STH = "tsm_r50_1x1x8_50e_sthv1_rgb"


def test_pretrained_cfg_is_the_data_config_and_needs_no_lookup(monkeypatch):
    model = videozoo.create_model(STH)
    expected = {p: resolve_data_config(STH, p) for p in ("accurate", "efficient")}

    def no_lookup(name):
        raise AssertionError(f"looked up {name!r} by name")

    monkeypatch.setattr(_registry, "get_entry", no_lookup)
    monkeypatch.setattr(_registry, "resolve", no_lookup)
    assert resolve_data_config(model) == expected["efficient"]  # the default (zoo audit)
    assert resolve_data_config(model, "accurate") == expected["accurate"]
    assert resolve_data_config(model.pretrained_cfg) == expected["efficient"]
    with pytest.raises(KeyError, match="no test protocol"):
        resolve_data_config(model, "25x10")
    cfg = model.pretrained_cfg
    assert "label_names" in cfg and cfg["dataset"] == "sthv1" and cfg["metrics"]["top1"] == 45.58


def test_a_reset_head_no_longer_claims_the_entry_dataset_or_numbers():
    model = videozoo.create_model(STH, num_classes=5)
    cfg = model.pretrained_cfg
    assert model.num_classes == cfg["num_classes"] == 5
    assert cfg["dataset"] is None and cfg["label_names"] is None and cfg["metrics"] == {}
    assert cfg["name"] == "tsm_r50" and cfg["pretrained_from"] == STH
    # the data protocol and the recipe it was trained with still apply
    assert resolve_data_config(model).crop == "center"  # 'efficient', the default (zoo audit)
    assert cfg["train_protocol"]["weight_decay"] == 5e-4


def test_architecture_cfg_carries_its_family_recipe():
    model = videozoo.create_model("tsm_mobilenetv2", num_classes=3)
    assert model.pretrained_cfg["train_protocol"]["weight_decay"] == 2e-5
    assert {g["weight_decay"] for g in param_groups(model, 0.1)} == {0.0, 2e-5}


def test_scheduler_and_groups_take_the_recipe_as_it_is():
    model = videozoo.create_model("tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_"
                                  "kinetics400-rgb")
    recipe = model.pretrained_cfg["train_protocol"]
    assert isinstance(recipe, dict)
    opt = torch.optim.SGD(param_groups(model, lr=1.0), lr=1.0)
    assert {g["weight_decay"] for g in opt.param_groups} == {0.0, 2e-5}
    sched = lr_scheduler(opt, recipe, steps_per_epoch=1)
    lrs = []
    for _ in range(recipe["lr_milestones"][0] + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.1)
    # the whole pretrained_cfg works too, and a bad key is named
    assert lr_scheduler(opt, model.pretrained_cfg, 1).lr_lambdas[0](0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="warmup_epoch"):
        lr_scheduler(opt, {"warmup_epoch": 1}, 1)


def test_augmentation_is_data_and_its_prose_reads_back():
    for e in ENTRIES:
        a = e.train.augment
        assert isinstance(a, Augment) and a.crop in ("multiscale", "random_resized")
        assert Augment.from_text(a.describe()) == a
    tp = TrainProtocol(augment="MultiScaleCrop + Flip (left/right label swap) + MixUp alpha 0.4")
    assert tp.augment == Augment(crop="multiscale", flip=True, label_swap=True, mixup_alpha=0.4)
    with pytest.raises(ValueError, match="unknown augmentation"):
        Augment.from_text("MultiScaleCrop + Sharpen")


def test_list_pretrained_by_architecture_spans_both_naming_schemes():
    names = videozoo.list_pretrained(arch="tsm_r50")
    assert names == sorted(e.name for e in ENTRIES if e.arch == "tsm_r50")
    assert any(n.startswith("tsm_imagenet-pretrained-r50_") for n in names)
    assert any(n.startswith("tsm_r50_") for n in names)
    assert videozoo.list_pretrained("*sthv2*", arch="tsm_r*") == sorted(
        e.name for e in ENTRIES if e.arch in ("tsm_r50", "tsm_r101") and e.dataset == "sthv2")
    assert videozoo.list_pretrained(arch="no_such_arch") == []


def test_info_command(capsys):
    assert main(["info", STH]) == 0
    out = capsys.readouterr().out
    assert "efficient (default): top1 45.58, top5 75.02" in out and "accurate:" in out
    assert "[reference]" in out and "weight decay 0.0005" in out and "note:" in out
    assert main(["info", "tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb"]) == 0
    assert "FLOPs 32.88G, params 24.33M (as reported)" in capsys.readouterr().out
    assert main(["info", "tsn_r50_1x1x3_80e_ucf101_rgb"]) == 0
    assert "(computed, not reported" in capsys.readouterr().out
    assert main(["info", "tsm_r101"]) == 0
    assert "tsm_r101_1x1x8_50e_sthv1_rgb" in capsys.readouterr().out
    assert main(["info", "tsm_r50_1x1x8_50e_kinetics400"]) == 2
    assert "Did you mean: tsm_r50_1x1x8_50e_kinetics400_rgb" in capsys.readouterr().err
    assert main(["list", "--arch", "tpn_*"]) == 0
    tpn_entries = videozoo.list_pretrained(arch="tpn_*")
    assert capsys.readouterr().out.split() == tpn_entries and len(tpn_entries) == 6


def test_pretrained_cfg_survives_json():
    import json

    model = videozoo.create_model(STH)
    loaded = json.loads(json.dumps(model.pretrained_cfg, default=str))
    assert resolve_data_config(loaded) == resolve_data_config(model)
    assert resolve_data_config(loaded, "efficient") == resolve_data_config(STH, "efficient")
