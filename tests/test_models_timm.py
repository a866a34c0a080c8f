"""TSN / TSM over timm 2D backbones: names, shift placement, frame order, FLOPs, weights path.

All random weights, no network: ``pretrained_backbone=True`` is checked by intercepting
``timm.create_model``.
"""
from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

import videozoo
from videozoo.models.layers import TemporalShift
from videozoo.models.timm_temporal import TimmTemporal, residual_branch_entry

T = 8
# timm backbones verified for residual shifting (one per supported block family)
SHIFTABLE = {
    "resnet18": "BasicBlock",
    "resnet26": "Bottleneck",
    "regnetx_002": "Bottleneck",
    "regnety_002": "Bottleneck",
    "convnext_atto": "ConvNeXtBlock",
    "efficientnet_b0": "InvertedResidual",
    "mobilenetv3_small_050": "InvertedResidual",
    "efficientnetv2_rw_t": "EdgeResidual",
}


def video(c: int = 3, t: int = T, s: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, c, t, s, s, generator=torch.Generator().manual_seed(seed))


def perturbed(model: nn.Module) -> nn.Module:
    """Calibrate every BatchNorm on random video (cumulative statistics) and move the affines
    off their init: random timm nets otherwise let the signal fade (EfficientNet: 1e-6 at the
    last stage), which would hide what the shift does."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
                m.weight.add_(torch.randn(m.weight.shape, generator=g) * 0.1)
                m.bias.add_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for name, p in model.named_parameters():
            if name.endswith("gamma"):  # ConvNeXt layer scale starts at 1e-6
                p.fill_(1.0)
        model.train()(video(seed=5))
    return model.eval()


def test_names_resolve_dynamically_and_explicitly():
    model = videozoo.create_model("tsm_resnet18", num_classes=5)
    assert isinstance(model, TimmTemporal) and model.kind == "tsm"
    assert model.backbone_name == "resnet18"
    assert model.pretrained_cfg["architecture"] == "tsm_resnet18"
    explicit = videozoo.create_model("tsm_timm", backbone="resnet18", num_classes=5)
    assert explicit.state_dict().keys() == model.state_dict().keys()
    tsn = videozoo.create_model("tsn_resnet18")
    assert tsn.kind == "tsn" and not tsn.shift_paths
    # registered names win over the dynamic form: tsm_r50 is MMAction2's, not timm's "r50"
    assert type(videozoo.create_model("tsm_r50")).__name__ == "TSMResNet"
    curated = set(videozoo.list_models("tsm_*")) | set(videozoo.list_models("tsn_*"))
    assert {"tsm_convnext_tiny", "tsn_convnext_tiny", "tsm_efficientnet_b0", "tsm_timm",
            "tsn_timm"} <= curated
    with pytest.raises(ValueError, match="Unknown model"):
        videozoo.create_model("tsm_no_such_timm_model")
    with pytest.raises(ValueError, match="already names the backbone"):
        videozoo.create_model("tsm_resnet18", backbone="resnet34")
    with pytest.raises(ValueError, match="pretrained_backbone"):
        videozoo.create_model("tsm_resnet18", pretrained=True)


@pytest.mark.parametrize("name,block", SHIFTABLE.items())
def test_shift_sits_at_the_start_of_every_residual_branch(name, block):
    model = videozoo.create_model(f"tsm_{name}")
    residual = [m for m in model.backbone.modules()
                if type(m).__name__ == block and residual_branch_entry(m) is not None]
    assert residual, f"{name} has no {block} with a residual"
    shifts = [m for m in model.backbone.modules() if isinstance(m, TemporalShift)]
    assert len(shifts) == len(model.shift_paths) >= len(residual)
    for path in model.shift_paths:  # each wrapper is the first op of a residual block
        block_path, _, attr = path.rpartition(".")
        blk = model.backbone.get_submodule(block_path)
        assert isinstance(getattr(blk, attr), TemporalShift)
        assert getattr(blk, "has_skip", True)
    # blocks without a residual (strided, channel-changing) stay unshifted
    for m in model.backbone.modules():
        if getattr(m, "has_skip", True) is False:
            assert not any(isinstance(c, TemporalShift) for c in m.children())


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "efficientnet_b0",
                                  "regnetx_002"])
def test_frame_order_matters_for_tsm_not_for_tsn(name):
    x = video()
    reversed_x = x.flip(2)
    with torch.no_grad():
        tsm = perturbed(videozoo.create_model(f"tsm_{name}", num_classes=4))
        out = tsm(x)
        assert (out - tsm(reversed_x)).abs().max() > 1e-2 * out.abs().max()
        tsn = perturbed(videozoo.create_model(f"tsn_{name}", num_classes=4))
        torch.testing.assert_close(tsn(x), tsn(reversed_x), rtol=1e-4, atol=1e-5)
        # without the shift the TSM network is the TSN one: frame-independent
        plain = perturbed(videozoo.create_model(f"tsm_{name}", num_classes=4))
        for m in plain.modules():
            if isinstance(m, TemporalShift):
                m.shift_div = 10 ** 6  # fold 0: shift off
        torch.testing.assert_close(plain(x), plain(reversed_x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["convnext_atto", "efficientnet_b0", "regnetx_002",
                                  "resnet18", "mobilenetv3_small_050"])
@pytest.mark.parametrize("kind", ["tsm", "tsn"])
def test_flops_are_the_bare_backbones_times_frames(kind, name):
    model = videozoo.create_model(f"{kind}_{name}", num_classes=10)
    bare = timm.create_model(name, num_classes=0)
    frame = videozoo.count_flops(bare, (3, 64, 64))
    assert frame > 0
    assert videozoo.count_flops(model, (3, T, 64, 64)) == T * frame
    fc = model.num_features * 10  # TSM: the FC per frame; TSN: once, on the averaged features
    with_head = videozoo.count_flops(model, (3, T, 64, 64), include_head=True)
    bare_head = videozoo.count_flops(bare, (3, 64, 64), include_head=True)
    assert with_head == T * bare_head + (T if kind == "tsm" else 1) * fc


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "deit_tiny_patch16_224"])
def test_backbones_without_residual_blocks_are_refused_for_tsm(name):
    with pytest.raises(ValueError, match=rf"{name}.*residual.*tsn_{name}"):
        videozoo.create_model(f"tsm_{name}")
    tsn = videozoo.create_model(f"tsn_{name}", num_classes=3, backbone_kwargs={"img_size": 32})
    with torch.no_grad():
        assert tsn.eval()(video()).shape == (2, 3)  # TSN works on any timm model


def test_pretrained_backbone_asks_timm_for_imagenet_weights(monkeypatch):
    calls = []
    real = timm.create_model

    def spy(name, pretrained=False, **kwargs):
        calls.append((name, pretrained))
        return real(name, pretrained=False, **kwargs)  # no network in tests

    monkeypatch.setattr(timm, "create_model", spy)
    model = videozoo.create_model("tsm_resnet18", pretrained_backbone=True)
    assert calls == [("resnet18", True)]
    assert model.shift_paths  # shifts are inserted after the weights are in
    assert model.pretrained_cfg["mean"] == pytest.approx((123.675, 116.28, 103.53))


def test_num_segments_pins_the_tsm_shift_group():
    model = perturbed(videozoo.create_model("tsm_resnet18", num_segments=4, num_classes=3))
    x = video(t=8)
    with torch.no_grad():
        out = model(x)
        # two independent groups of 4 frames: equal to running each half as its own view
        halves = torch.cat([x[:, :, :4], x[:, :, 4:]], 0)
        feats = model.forward_features(halves)
        pooled = model.backbone.forward_head(feats.flatten(0, 1), pre_logits=True)
        per_frame = model.head.fc(pooled).reshape(2, 2, 4, 3)  # (group, B, T/2, classes)
        torch.testing.assert_close(out, per_frame.permute(1, 0, 2, 3).flatten(1, 2).mean(1),
                                   rtol=1e-4, atol=1e-5)
        with pytest.raises(ValueError, match="multiple"):
            model(video(t=6))


def test_mmaction_keys_round_trip_and_drop_the_shift_wrapper():
    model = videozoo.create_model("tsm_resnet18", num_classes=3)
    exported = model.export_mmaction_state_dict()
    assert "backbone.layer1.0.conv1.weight" in exported  # timm's key, no ``.net``
    assert "cls_head.fc_cls.weight" in exported
    assert not any(".net." in k for k in exported)
    back = model.convert_mmaction_state_dict(exported)
    assert back.keys() == model.state_dict().keys()
