"""Every registered architecture: the timm-like model surface, checkpoint I/O and strict loading.

Parametrised over ``videozoo.list_architectures()``, so a family file that registers a model is
covered without editing this file.
"""
from __future__ import annotations

import copy
import functools
from typing import NamedTuple

import pytest
import torch
from _helpers import save_mmaction_checkpoint
from safetensors.torch import save_file

import videozoo
from videozoo._checkpoint import CheckpointError

ARCHS = videozoo.list_architectures()
T = 8  # TPN needs 8 frames; MobileOne-S4 shifts in groups of 8
# Checkpoint I/O tests skip the ResNet-101 twins of ResNet-50 archs (same code, 2x the bytes);
# their key layout and strict round trip are checked in test_models_resnet.py.
IO_ARCHS = [a for a in ARCHS if a not in ("tsn_r101", "tsm_r101")]


def frame_size(arch: str) -> int:
    return 64 if arch.startswith("tpn_") else 32  # TPN's neck needs stride-32 maps of 2x2


def make_input(model: torch.nn.Module, arch: str, batch: int = 1) -> torch.Tensor:
    s = frame_size(arch)
    return torch.randn(batch, model.in_chans, T, s, s, generator=torch.Generator().manual_seed(1))


def perturb(model: torch.nn.Module, seed: int = 0) -> None:
    """Move BN affine/statistics and biases away from their init (zero-init last BNs, unit
    stats), deterministically. Conv/FC weights are already random at init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                t.fill_(7)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            elif t.dim() <= 1:
                t.add_(torch.randn(t.shape, generator=g) * 0.1)


def build(arch: str, **kwargs) -> torch.nn.Module:
    model = videozoo.create_model(arch, **kwargs)
    perturb(model)
    return model.eval()


class Reference(NamedTuple):
    model: torch.nn.Module  # shared between tests: never mutate it
    state_dict: dict[str, torch.Tensor]  # MMAction2 keys
    x: torch.Tensor  # (2, C, T, s, s)
    out: torch.Tensor  # model(x)


@functools.cache
def reference(arch: str) -> Reference:
    """One perturbed 11-class model per architecture, its MMAction2 weights and logits."""
    model = build(arch, num_classes=11)
    x = make_input(model, arch, batch=2)
    with torch.no_grad():
        out = model(x)
    return Reference(model, model.export_mmaction_state_dict(), x, out)


def load_and_run(arch: str, path, **kwargs) -> tuple[torch.nn.Module, torch.Tensor]:
    model = videozoo.create_model(arch, checkpoint_path=path, **kwargs).eval()
    with torch.no_grad():
        return model, model(reference(arch).x)


@pytest.mark.parametrize("arch", ARCHS)
def test_model_surface(arch):
    """Forward, features/head split, bad inputs, MMAction2 key round trip, reset_classifier."""
    model, _, x, out = reference(arch)
    with torch.no_grad():
        feats = model.forward_features(x)
        pre = model.forward_head(feats, pre_logits=True)
        again = model.forward_head(feats)
    assert out.shape == (2, 11) and torch.isfinite(out).all()
    torch.testing.assert_close(again, out)
    assert pre.shape == (2, model.num_features)
    assert model.num_classes == 11 and model.in_chans == x.shape[1]
    assert isinstance(model.pretrained_cfg, dict)
    assert model.pretrained_cfg["architecture"] == arch
    assert model.get_classifier() is model.get_submodule(model.classifier_names[0])

    # bad input layouts name the expected one
    c, s = model.in_chans, frame_size(arch)
    bad = [torch.randn(T, c, s, s),  # frames, not a video batch
           torch.randn(1, c + 1, T, s, s),  # wrong channels
           torch.randn(1, T, c, s, s)]  # (B, T, C, H, W)
    with torch.no_grad():
        for b in bad:
            with pytest.raises(ValueError, match=r"\(B, C"):
                model(b)
        with pytest.raises(ValueError, match="float"):
            model(torch.zeros(1, c, T, s, s, dtype=torch.uint8))

    # export -> convert is the identity, every tensor accounted for once
    sd = model.state_dict()
    exported = model.export_mmaction_state_dict()
    assert len(exported) == len(sd)
    assert all(k.startswith(("backbone.", "cls_head.", "neck.")) for k in exported)
    back = model.convert_mmaction_state_dict(exported)
    assert set(back) == set(sd)
    for k, v in sd.items():
        assert torch.equal(back[k], v), k

    # every classifier is replaced (on a copy: the reference model is shared)
    model = copy.deepcopy(model)
    model.reset_classifier(5)
    assert model.num_classes == 5
    for name in model.classifier_names:
        assert model.get_submodule(name).out_features == 5, name
    with torch.no_grad():
        assert model.forward_head(feats).shape == (2, 5)


@pytest.mark.parametrize("arch", IO_ARCHS)
def test_checkpoint_1x_and_safetensors(arch, tmp_path):
    """MMAction2 1.x .pth -> model -> videozoo safetensors -> model: same logits throughout."""
    ref = reference(arch)
    path = save_mmaction_checkpoint(ref.state_dict, tmp_path / "ckpt.pth", "1x")
    model, out = load_and_run(arch, path)
    assert model.num_classes == 11  # from the checkpoint
    torch.testing.assert_close(out, ref.out, rtol=1e-5, atol=1e-5)

    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"architecture": arch})
    model, out = load_and_run(arch, path)
    assert model.num_classes == 11
    torch.testing.assert_close(out, ref.out, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["0x", "bare", "ddp"])
@pytest.mark.parametrize("arch", ["tsm_r50", "tsm_mobilenetv2"])
def test_load_mmaction_checkpoint_layouts(arch, layout, tmp_path):
    ref = reference(arch)
    path = save_mmaction_checkpoint(ref.state_dict, tmp_path / "ckpt.pth", layout)
    _, out = load_and_run(arch, path)
    torch.testing.assert_close(out, ref.out, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", IO_ARCHS)
def test_strict_loading_errors(arch, tmp_path):
    """A missing key, an unexpected key and a wrong shape are all reported, by name."""
    sd = reference(arch).state_dict
    weights = [k for k in sd if k.startswith("backbone.") and sd[k].dim() > 1]
    gone, bent = weights[0], weights[-1]
    broken = {k: v for k, v in sd.items() if k != gone}
    broken["backbone.bogus_layer.weight"] = torch.zeros(3)
    broken[bent] = torch.zeros(*sd[bent].shape[:-1], sd[bent].shape[-1] + 1)
    path = save_mmaction_checkpoint(broken, tmp_path / "broken.pth")
    with pytest.raises(CheckpointError) as err:
        videozoo.create_model(arch, checkpoint_path=path)
    msg = str(err.value)
    assert "missing in checkpoint (1)" in msg and "unexpected in checkpoint (1)" in msg
    assert "shape mismatch (1)" in msg and "bogus_layer" in msg


@pytest.mark.parametrize("arch", ["tsn_r50", "tsm_r50_nl_gaussian", "tpn_tsm_r50"])
def test_num_classes_change_warns_and_resets(arch, tmp_path):
    sd = reference(arch).state_dict
    path = save_mmaction_checkpoint(sd, tmp_path / "ckpt.pth")
    with pytest.warns(UserWarning, match="re-initialised"):
        model = videozoo.create_model(arch, checkpoint_path=path, num_classes=3)
    assert model.num_classes == 3
    for name in model.classifier_names:
        assert model.get_submodule(name).out_features == 3
    exported = model.export_mmaction_state_dict()
    key = "backbone.conv1.conv.weight"
    assert torch.equal(exported[key], sd[key])  # the backbone still holds the checkpoint


def test_channels_last_matches_contiguous():
    ref = reference("tsm_r50")
    model = copy.deepcopy(ref.model).to(memory_format=torch.channels_last)
    with torch.no_grad():
        out = model(ref.x)
    torch.testing.assert_close(out, ref.out, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_torch_compile():
    ref = reference("tsm_r50")
    compiled = torch.compile(copy.deepcopy(ref.model))
    with torch.no_grad():
        out = compiled(ref.x)
    torch.testing.assert_close(out, ref.out, rtol=1e-4, atol=1e-4)
