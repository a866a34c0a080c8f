"""Family facts live with the architecture: a toy family registered from a test module shows up in
the model list, the cards, the data config and the optimiser groups, with nothing else edited."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import videozoo
from videozoo import _registry
from videozoo._cards import hub_model_card, render_model_cards
from videozoo._families import arch_facts, list_families, register_family
from videozoo.data import resolve_data_config
from videozoo.training import param_groups
from videozoo.zoo import ENTRIES
from videozoo.zoo._common import TSM_1X, entry


class ToyNet(nn.Module):
    """Conv stem + per-frame linear head, averaged over T (a TSM head in miniature)."""

    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = 3
        self.stem = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, num_classes)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.norm(self.stem(x.transpose(1, 2).reshape(b * t, c, h, w))).mean((2, 3))
        return self.fc(y).reshape(b, t, -1).mean(1)


@pytest.fixture
def toy():
    with _registry.temporary_registry():
        register_family("toy", title="Toy", optimizer="tsm",
                        test=dict(num_clips=4, crop="center", crop_size=32, num_segments=4),
                        train=dict(num_clips=4, num_fixed_crops=13),
                        train_protocol=dict(weight_decay=3e-5, fc_lr5=True))

        @_registry.register_model(family="toy", title="Toy, one conv")
        def toy_tiny(num_classes: int = 7, **kwargs) -> ToyNet:
            return ToyNet(num_classes)

        e = entry(name="toy_tiny_1x1x4_ucf101", arch="toy_tiny", version="1.x", dataset="ucf101",
                  url="https://example.invalid/toy/toy_tiny_1x1x4_ucf101_20240101-0123abcd.pth",
                  tests=("1x1",), segments=4, average="prob", top=(50.0, 80.0), source=TSM_1X,
                  section="UCF101", source_tables=(TSM_1X,), paper="@misc{toy}", data="videos",
                  decoder="decord", start_index=0,
                  train=dict(epochs=2, lr=0.1, lr_milestones=(1,), weight_decay=3e-5, fc_lr5=True,
                             batch_size="1 GPU x 2 videos"))
        _registry.register_pretrained(e)
        yield e
    assert "toy" not in list_families() and not _registry.is_model("toy_tiny")


def test_toy_family_reaches_every_reader(toy):
    assert "toy_tiny" in videozoo.list_models("toy*")
    assert videozoo.list_pretrained(arch="toy_tiny") == [toy.name]
    facts = arch_facts("toy_tiny")
    assert (facts.family, facts.title, facts.optimizer) == ("toy", "Toy, one conv", "tsm")
    # the cards
    cards = render_model_cards([toy])
    assert "## Toy" in cards and f"`{toy.name}`" in cards
    assert "Toy, one conv" in hub_model_card(toy)
    # the data config, from the architecture and from a model of the entry
    arch_cfg = resolve_data_config("toy_tiny")
    assert (arch_cfg.num_clips, arch_cfg.crop_size, arch_cfg.num_segments) == (4, 32, 4)
    assert arch_cfg.train.num_fixed_crops == 13
    model = videozoo.create_model(toy.name)
    cfg = resolve_data_config(model)
    assert (cfg.name, cfg.decoder, cfg.crop, cfg.crop_size) == (toy.name, "decord", "center", 224)
    assert model.pretrained_cfg["family"] == "toy"
    # the optimiser recipe, weight decay from the entry's training recipe
    groups = {g["name"]: g for g in param_groups(model, lr=0.1)}
    assert groups["fc_weight"]["lr"] == pytest.approx(0.5)
    assert groups["first_conv_weight"]["weight_decay"] == pytest.approx(3e-5)


def test_default_family_comes_from_the_module_and_unknown_facts_raise():
    assert arch_facts("tsm_mobilenetv2").family == "tsm"  # stated in models/tsm_mobile.py
    assert arch_facts("tpn_tsm_r50").family == "tpn"  # the module's family
    with _registry.temporary_registry(), pytest.raises(TypeError, match="unknown architecture"):
        @_registry.register_model(famly="tsn")
        def typo_net(**kwargs):  # pragma: no cover - never built
            return nn.Identity()


def test_every_zoo_architecture_states_its_facts():
    for arch in {e.arch for e in ENTRIES}:
        facts = arch_facts(arch)
        assert facts.family in ("tsn", "tsm", "tpn") and facts.title.startswith(
            facts.family_title + ", ")
        assert facts.family == arch.split("_")[0]  # today's names agree with the facts
    assert arch_facts("tpn_slowonly_r50").input_format == "NCTHW"
    assert arch_facts("tsn_r50_flow").input_format == "NCHW_Flow"
    assert arch_facts("tsm_r50").optimizer == "tsm" and arch_facts("tsn_r50").optimizer == "default"
