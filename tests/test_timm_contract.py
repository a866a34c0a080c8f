"""The timm contract, for every registered architecture (parametrised over
``videozoo.list_architectures()``, so a new family is covered without editing this file).

num_classes=0 / reset_classifier(0) -> pooled features; forward_features / forward_head;
features_only + feature_info; set_grad_checkpointing; the shared core kwargs and their
validation; input shape checks.
"""
from __future__ import annotations

import copy
import functools

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import videozoo

HEAVY = ("tpn_", "_r101")  # > a few seconds per test on 2 cores: marked slow
ARCHS = [pytest.param(a, marks=pytest.mark.slow) if any(h in a for h in HEAVY) else a
         for a in videozoo.list_architectures()]
T = 8  # TPN needs 8 frames; MobileOne-S4 shifts in groups of 8
B = 2


def frame_size(arch: str) -> int:
    return 64 if arch.startswith("tpn_") else 32  # TPN's neck needs stride-32 maps of 2x2


def make_input(model: nn.Module, arch: str, t: int = T, seed: int = 1) -> torch.Tensor:
    s = frame_size(arch)
    return torch.randn(B, model.in_chans, t, s, s, generator=torch.Generator().manual_seed(seed))


def perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Move BN statistics/affines and biases off their init so every branch carries signal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            elif t.dim() <= 1:
                t.add_(torch.randn(t.shape, generator=g) * 0.1)
    return model


@functools.cache
def built(arch: str, num_classes: int = 7) -> nn.Module:
    """A shared, perturbed eval-mode model (tests copy it before changing it)."""
    return perturb(videozoo.create_model(arch, num_classes=num_classes)).eval()


def head_dropouts(model: nn.Module) -> list[nn.Dropout]:
    """Dropouts of the main head (TPN's auxiliary head keeps MMAction2's fixed 0.5)."""
    head = model.get_submodule(model.classifier_names[0].rpartition(".")[0])
    return [m for m in head.modules() if isinstance(m, nn.Dropout)]


@pytest.mark.parametrize("arch", ARCHS)
def test_num_classes_zero_gives_pooled_features(arch):
    model = copy.deepcopy(built(arch))
    x = make_input(model, arch)
    with torch.no_grad():
        logits = model(x)
        feats = model.forward_features(x)
        pooled = model.forward_head(feats, pre_logits=True)
        fc = model.get_classifier()
        assert isinstance(fc, nn.Linear) and fc.out_features == 7
        # the head is linear after pooling: the logits are the classifier of the pooled features
        torch.testing.assert_close(fc(pooled), logits, rtol=1e-4, atol=1e-5)
        assert pooled.shape == (B, model.num_features) and isinstance(model.num_features, int)

        model.reset_classifier(0)
        assert model.num_classes == 0
        for name in model.classifier_names:
            assert isinstance(model.get_submodule(name), nn.Identity), name
        torch.testing.assert_close(model(x), pooled, rtol=1e-5, atol=1e-6)

        model.reset_classifier(3)  # and back: Identity -> Linear keeps the feature width
        assert model(x).shape == (B, 3) and model.get_classifier().in_features == fc.in_features

    fresh = videozoo.create_model(arch, num_classes=0).eval()
    assert fresh.num_classes == 0
    assert not any(isinstance(fresh.get_submodule(n), nn.Linear) for n in fresh.classifier_names)
    with torch.no_grad():
        assert fresh(x).shape == (B, fresh.num_features)


@pytest.mark.parametrize("arch", ARCHS)
def test_timm_attributes(arch):
    model = built(arch)
    assert model.default_cfg is model.pretrained_cfg and isinstance(model.pretrained_cfg, dict)
    assert model.get_classifier() is model.get_submodule(model.classifier_names[0])
    info = model.feature_info
    assert info and all({"num_chs", "reduction", "module"} <= set(d) for d in info)
    for d in info:  # every listed module exists
        model.get_submodule(d["module"])


@pytest.mark.parametrize("arch", ARCHS)
def test_features_only(arch):
    full = built(arch)
    x = make_input(full, arch)
    with torch.no_grad():
        stages = full.forward_stages(x)
    feat = videozoo.create_model(arch, features_only=True)
    info = feat.feature_info
    assert len(stages) == len(info.channels()) == len(full.feature_info)
    assert not any(k.startswith(tuple(f"{h}." for h in full.head_names))
                   for k in feat.state_dict()), "features_only keeps no head"
    for m, chs, red in zip(stages, info.channels(), info.reduction()):
        assert m.dim() == 5 and m.shape[:2] == (B, chs)
        if not full.is_3d:
            assert m.shape[2] == T  # the time axis is kept: (B*T) folded back to (B, T)
        assert m.shape[-1] == frame_size(arch) // red
    # stage maps are the maps the classifier path uses
    with torch.no_grad():
        ff = full.forward_features(x)
    last = stages[-1] if full.is_3d else stages[-1].transpose(1, 2)
    if not full.is_3d and ff.shape == last.shape:
        torch.testing.assert_close(last, ff, rtol=1e-5, atol=1e-5)

    picked = videozoo.create_model(arch, features_only=True, out_indices=(0, -1))
    assert picked.feature_info.out_indices == (0, len(stages) - 1)
    with pytest.raises(ValueError, match="out_indices"):
        videozoo.create_model(arch, features_only=True, out_indices=(99,))


@pytest.mark.parametrize("arch", ["tsm_r50", "tsm_mobilenetv2", "tpn_slowonly_r50",
                                  "tsm_convnext_tiny"])
def test_features_only_loads_weights(arch, tmp_path):
    full = built(arch)
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(path),
              metadata={"architecture": arch})
    feat = videozoo.create_model(arch, checkpoint_path=path, features_only=True).eval()
    x = make_input(full, arch)
    with torch.no_grad():
        for a, b in zip(feat(x), full.forward_stages(x)):
            torch.testing.assert_close(a, b)


def _train_step(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    torch.manual_seed(3)  # same dropout mask in both runs
    out = model(x)
    out.square().sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                          if p.grad is not None}


@pytest.mark.parametrize("arch", ARCHS)
def test_grad_checkpointing_same_outputs_and_recomputes(arch):
    base = built(arch)
    x = make_input(base, arch)
    results, calls = [], []
    for enable in (False, True):
        model = copy.deepcopy(base).train()
        model.set_grad_checkpointing(enable)
        convs = [m for m in model.backbone.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
        probe = convs[len(convs) // 2]  # inside a stage, where checkpointing acts
        count = [0]
        probe.register_forward_hook(lambda *a, c=count: c.__setitem__(0, c[0] + 1))
        results.append(_train_step(model, x))
        calls.append(count[0])
    (out0, g0), (out1, g1) = results
    torch.testing.assert_close(out1, out0, rtol=1e-5, atol=1e-6)
    assert g0.keys() == g1.keys() and g0
    for k in g0:
        torch.testing.assert_close(g1[k], g0[k], rtol=1e-4, atol=1e-6, msg=k)
    assert calls[1] > calls[0], "checkpointing recomputes the forward in backward"


@pytest.mark.parametrize("arch", ARCHS)
def test_core_kwargs(arch):
    in_chans = 4
    model = videozoo.create_model(arch, num_classes=3, in_chans=in_chans, num_segments=4,
                                  drop_rate=0.25).eval()
    assert model.num_classes == 3 and model.in_chans == in_chans
    assert model.num_segments == 4
    assert [d.p for d in head_dropouts(model)] and all(d.p == 0.25 for d in head_dropouts(model))
    with torch.no_grad():
        assert model(make_input(model, arch)).shape == (B, 3)
    assert all(d.p == 0.1 for d in head_dropouts(videozoo.create_model(arch, dropout=0.1)))


@pytest.mark.parametrize("arch", ARCHS)
def test_input_shapes_refused_with_layout(arch):
    model = built(arch)
    c, s = model.in_chans, frame_size(arch)
    with torch.no_grad():
        for bad in (torch.randn(T, c, s, s), torch.randn(1, c + 1, T, s, s),
                    torch.randn(1, T, c, s, s)):
            with pytest.raises(ValueError, match=r"\(B, C"):
                model(bad)
        with pytest.raises(ValueError, match=r"T >= 1"):
            model(torch.randn(1, c, 0, s, s))
        with pytest.raises(ValueError, match=r"\(B, C"):
            model.forward_stages(torch.randn(1, c + 1, T, s, s))

    pinned = videozoo.create_model(arch, num_segments=4).eval()
    x6 = torch.randn(1, c, 6, s, s)
    with torch.no_grad():
        if pinned.segments_divide_input:  # the shift groups 4 frames: T=6 cannot be split
            with pytest.raises(ValueError, match="multiple"):
                pinned(x6)
        else:  # nothing depends on the segment count (TSN, 3D): any T goes
            assert torch.isfinite(pinned(x6)).all()


BAD_KWARGS = [
    ({"num_classes": -1}, "num_classes"), ({"num_classes": 2.5}, "num_classes"),
    ({"num_classes": "10"}, "num_classes"), ({"num_classes": True}, "num_classes"),
    ({"in_chans": 0}, "in_chans"), ({"in_chans": 2.0}, "in_chans"),
    ({"num_segments": 0}, "num_segments"), ({"dropout": 1.0}, "dropout"),
    ({"dropout": 0.1, "drop_rate": 0.2}, "drop_rate"), ({"bogus_option": 1}, "bogus_option"),
    ({"out_indices": (0,)}, "features_only"), ({"pretrained": "yes"}, "pretrained"),
]


@pytest.mark.parametrize("kwargs,word", BAD_KWARGS)
@pytest.mark.parametrize("arch", ["tsn_r50", "tsm_mobileone_s4", "tpn_slowonly_r50",
                                  "tsm_convnext_tiny"])
def test_bad_kwargs_one_clear_error(arch, kwargs, word):
    with pytest.raises(ValueError, match=word) as err:
        videozoo.create_model(arch, **kwargs)
    assert "\n" not in str(err.value)


def test_bad_model_names():
    for bad in (123, None, ["tsm_r50"]):
        with pytest.raises(TypeError, match="must be a str"):
            videozoo.create_model(bad)
    with pytest.raises(ValueError, match="Unknown model"):
        videozoo.create_model("tsm_not_a_model_anywhere")
    with pytest.raises(ValueError, match="unknown keyword argument 'bogus'.*accepts: .*num_segments"):
        videozoo.create_model("tsm_mobilenetv2", bogus=1)


def test_num_classes_zero_from_a_checkpoint_gives_its_pooled_features(tmp_path):
    import warnings

    full = built("tsm_mobilenetv2")
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(path),
              metadata={"architecture": "tsm_mobilenetv2"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # removing the classifier is no fine-tuning reset
        feats = videozoo.create_model("tsm_mobilenetv2", checkpoint_path=path,
                                      num_classes=0).eval()
    x = make_input(full, "tsm_mobilenetv2")
    with torch.no_grad():
        expected = full.forward_head(full.forward_features(x), pre_logits=True)
        torch.testing.assert_close(feats(x), expected)
    assert feats.pretrained_cfg["num_classes"] == 0
