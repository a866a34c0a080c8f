"""Fine-tuning building blocks: parameter groups, schedules, losses, a few optimisation steps."""
from __future__ import annotations

import pytest
import torch

import videozoo
from videozoo._pretrained import TrainProtocol
from videozoo.training import (
    classification_loss,
    lr_lambda,
    lr_scheduler,
    multilabel_loss,
    param_groups,
)


def _ids(groups):
    return [id(p) for g in groups for p in g["params"]]


@pytest.mark.parametrize("arch", videozoo.list_architectures())
def test_param_groups_cover_every_parameter_once(arch):
    model = videozoo.create_model(arch, num_classes=5)
    for recipe in ("tsm", "default"):
        groups = param_groups(model, lr=0.01, weight_decay=1e-4, recipe=recipe)
        ids = _ids(groups)
        assert len(ids) == len(set(ids)), "a parameter is in two groups"
        assert set(ids) == {id(p) for p in model.parameters()}


def test_tsm_recipe_matches_mmaction2_constructor():
    model = videozoo.create_model("tsm_r50", num_classes=7)
    groups = {g["name"]: g for g in param_groups(model, lr=0.1, weight_decay=1e-4, recipe="tsm")}
    fc = model.get_classifier()
    assert [id(p) for p in groups["fc_weight"]["params"]] == [id(fc.weight)]
    assert groups["fc_weight"]["lr"] == pytest.approx(0.5)
    assert groups["fc_bias"]["lr"] == pytest.approx(1.0) and groups["fc_bias"]["weight_decay"] == 0
    assert groups["bias"]["lr"] == pytest.approx(0.2) if "bias" in groups else True
    assert groups["norm"]["weight_decay"] == 0
    assert len(groups["first_conv_weight"]["params"]) == 1
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert groups["first_conv_weight"]["params"][0] is first_conv.weight
    without = {g["name"] for g in param_groups(model, lr=0.1, recipe="tsm", fc_lr5=False)}
    assert "fc_weight" not in without


def test_frozen_parameters_are_left_out():
    model = videozoo.create_model("tsm_r50", num_classes=3, frozen_stages=1)
    groups = param_groups(model, lr=0.1, recipe="tsm")
    ids = set(_ids(groups))
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert ids == trainable and len(trainable) < len(list(model.parameters()))


def test_step_and_cosine_schedules():
    step = lr_lambda(TrainProtocol(schedule="step", lr_milestones=(2, 4), epochs=5), 10)
    assert [step(i) for i in (0, 19, 20, 39, 40)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    cos = lr_lambda(TrainProtocol(schedule="cosine", epochs=2, warmup_epochs=1,
                                  warmup_ratio=0.1), 10)
    assert cos(0) == pytest.approx(0.1)
    assert cos(10) == pytest.approx(0.5)
    assert cos(20) == pytest.approx(0.0, abs=1e-12)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = lr_scheduler(opt, TrainProtocol(schedule="step", lr_milestones=(1,)), 2)
    lrs = []
    for _ in range(3):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1.0, 1.0, 0.1])
    with pytest.raises(ValueError):
        lr_lambda(TrainProtocol(schedule="poly"), 1)(0)


def test_losses():
    logits = torch.randn(4, 5)
    hard = torch.tensor([0, 1, 2, 3])
    soft = torch.nn.functional.one_hot(hard, 5).float()
    assert classification_loss(logits, hard) == pytest.approx(float(classification_loss(logits, soft)))
    with pytest.raises(ValueError):
        classification_loss(logits, torch.zeros(4, 3))
    multi = torch.zeros(4, 5)
    multi[0, [1, 2]] = 1
    expected = 160 * torch.nn.functional.binary_cross_entropy_with_logits(logits, multi)
    assert multilabel_loss(logits, multi) == pytest.approx(float(expected))


@pytest.mark.slow
@pytest.mark.parametrize("arch", videozoo.list_architectures())
def test_a_few_steps_reduce_the_loss(arch):
    torch.manual_seed(0)
    model = videozoo.create_model(arch, num_classes=4, dropout=0.0)
    model.train()
    in_chans = model.in_chans
    x = torch.randn(4, in_chans, 8, 64, 64)
    y = torch.tensor([0, 1, 2, 3])
    opt = torch.optim.SGD(param_groups(model, lr=0.01, weight_decay=0.0), momentum=0.9)
    losses = []
    for _ in range(6):
        loss = classification_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
