"""TSM MobileNetV2 / MobileOne-S4: key layouts, shift placement, the 8-frame shift groups,
re-parameterisation (deploy form) and deploy checkpoints.

The MMAction2 key lists are rebuilt here from the architecture settings in the facts (§4.1,
§4.2), independently of the model code; the train-form lists are also compared with the parity
fixtures, and the deploy form is checked against MMAction2's golden logits.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _helpers import save_mmaction_checkpoint

import videozoo
from videozoo._checkpoint import CheckpointError
from videozoo.models.layers import TemporalShift
from videozoo.models.tsm_mobile import TSMMobileNetV2, TSMMobileOne

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


# -- references written from the facts ----------------------------------------------------------
def _bn(keys: dict, name: str, c: int) -> None:
    for p in BN:
        keys[f"{name}.{p}"] = () if p == "num_batches_tracked" else (c,)


def mobilenetv2_mmaction_keys(num_classes: int = 400) -> dict[str, tuple[int, ...]]:
    """MMAction2 Recognizer2D(MobileNetV2TSM) + TSMHead keys and shapes (facts §4.1)."""
    keys: dict[str, tuple[int, ...]] = {}

    def conv_module(name: str, cout: int, cin_per_group: int, k: int) -> None:
        keys[f"{name}.conv.weight"] = (cout, cin_per_group, k, k)
        _bn(keys, f"{name}.bn", cout)

    conv_module("backbone.conv1", 32, 3, 3)
    cin = 32
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    for layer, (expand, cout, n, stride) in enumerate(settings, start=1):
        for b in range(n):
            s = stride if b == 0 else 1
            hidden = cin * expand
            p = f"backbone.layer{layer}.{b}.conv"
            if expand == 1:
                conv_module(f"{p}.0", hidden, 1, 3)
                conv_module(f"{p}.1", cout, hidden, 1)
            else:
                shifted = s == 1 and cin == cout
                conv_module(f"{p}.0" + (".net" if shifted else ""), hidden, cin, 1)
                conv_module(f"{p}.1", hidden, 1, 3)
                conv_module(f"{p}.2", cout, hidden, 1)
            cin = cout
    conv_module("backbone.conv2", 1280, 320, 1)
    keys["cls_head.fc_cls.weight"] = (num_classes, 1280)
    keys["cls_head.fc_cls.bias"] = (num_classes,)
    return keys


def mobileone_s4_mmaction_keys(deploy: bool, num_classes: int = 400
                               ) -> dict[str, tuple[int, ...]]:
    """MMAction2 Recognizer2D(MobileOneTSM s4) + TSMHead keys and shapes (facts §4.2)."""
    keys: dict[str, tuple[int, ...]] = {}

    def block(name: str, cin: int, cout: int, k: int, stride: int, groups: int, se: bool) -> None:
        p = f"{name}.net"
        if se:
            squeeze = cout // 16  # 56 and 128: already multiples of 8
            keys[f"{p}.se.conv1.conv.weight"] = (squeeze, cout, 1, 1)
            keys[f"{p}.se.conv1.conv.bias"] = (squeeze,)
            keys[f"{p}.se.conv2.conv.weight"] = (cout, squeeze, 1, 1)
            keys[f"{p}.se.conv2.conv.bias"] = (cout,)
        if deploy:
            keys[f"{p}.branch_reparam.weight"] = (cout, cin // groups, k, k)
            keys[f"{p}.branch_reparam.bias"] = (cout,)
            return
        if cin == cout and stride == 1:
            _bn(keys, f"{p}.branch_norm", cout)
        if k > 1:
            keys[f"{p}.branch_scale.conv.weight"] = (cout, cin // groups, 1, 1)
            _bn(keys, f"{p}.branch_scale.norm", cout)
        keys[f"{p}.branch_conv_list.0.conv.weight"] = (cout, cin // groups, k, k)
        _bn(keys, f"{p}.branch_conv_list.0.norm", cout)

    block("backbone.stage0", 3, 64, 3, 2, 1, False)
    cin = 64
    for s, (n, width, base, n_se) in enumerate(
            zip((2, 8, 10, 1), (3.0, 3.5, 3.5, 4.0), (64, 128, 256, 512), (0, 0, 5, 1)), start=1):
        planes = int(base * width)
        for i in range(n):
            se = i >= n - n_se
            block(f"backbone.stage{s}.{2 * i}", cin, cin, 3, 2 if i == 0 else 1, cin, se)
            block(f"backbone.stage{s}.{2 * i + 1}", cin, planes, 1, 1, 1, se)
            cin = planes
    keys["cls_head.fc_cls.weight"] = (num_classes, 2048)
    keys["cls_head.fc_cls.bias"] = (num_classes,)
    return keys


def shapes(sd: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in sd.items()}


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights with non-trivial BN affine and statistics, activations kept O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif name.endswith(".weight") and t.dim() == 1:  # BN scale: keep sums of branches O(1)
                t.copy_(torch.rand(t.shape, generator=g) * 0.4 + 0.3)
            elif t.dim() == 1:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * (1.0 / t[0].numel()) ** 0.5)
    return model.eval()


def video(b: int = 1, t: int = 8, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, t, size, size, generator=g)


@pytest.fixture(scope="module")
def mobileone() -> TSMMobileOne:
    return randomise(videozoo.create_model("tsm_mobileone_s4"), seed=1)


@pytest.fixture(scope="module")
def mobilenetv2() -> TSMMobileNetV2:
    return randomise(videozoo.create_model("tsm_mobilenetv2"), seed=2)


# -- structure ------------------------------------------------------------------------------------
def test_registered():
    assert {"tsm_mobilenetv2", "tsm_mobileone_s4"} <= set(videozoo.list_models("tsm_mobile*"))


def test_mobilenetv2_shifted_blocks(mobilenetv2):
    exported = mobilenetv2.export_mmaction_state_dict()
    shifted = {k.split(".conv.0.net.")[0][len("backbone."):] for k in exported
               if ".conv.0.net." in k}
    assert shifted == {"layer2.1", "layer3.1", "layer3.2", "layer4.1", "layer4.2", "layer4.3",
                       "layer5.1", "layer5.2", "layer6.1", "layer6.2"}
    shifts = [m for m in mobilenetv2.modules() if isinstance(m, TemporalShift)]
    assert len(shifts) == 10
    assert all(isinstance(m.net, torch.nn.Conv2d) and m.net.kernel_size == (1, 1) for m in shifts)
    assert all(m.fixed_segments is None and m.shift_div == 8 for m in shifts)


def test_mobileone_shift_wraps_every_block(mobileone):
    shifts = [m for m in mobileone.modules() if isinstance(m, TemporalShift)]
    assert len(shifts) == 43  # stem + 4 + 16 + 20 + 2
    assert all(m.fixed_segments == 8 and m.shift_div == 8 for m in shifts)
    assert mobileone.backbone.stem.net.conv_kxk[0].conv.in_channels == 3  # fold 3 // 8 == 0
    free = videozoo.create_model("tsm_mobileone_s4", shift_segments=None)
    assert all(m.fixed_segments is None for m in free.modules() if isinstance(m, TemporalShift))


@pytest.mark.parametrize("arch, deploy, n_keys, n_params", [
    ("tsm_mobilenetv2", False, 314, 2_736_272),
    ("tsm_mobileone_s4", False, 610, 13_721_848),
    ("tsm_mobileone_s4", True, 136, 13_608_952),
])
def test_keys_and_params(arch, deploy, n_keys, n_params):
    kwargs = {"deploy": True} if deploy else {}
    model = videozoo.create_model(arch, **kwargs)
    exported = model.export_mmaction_state_dict()
    if arch == "tsm_mobilenetv2":
        expected = mobilenetv2_mmaction_keys()
    else:
        expected = mobileone_s4_mmaction_keys(deploy)
    assert shapes(exported) == expected
    assert len(exported) == len(model.state_dict()) == n_keys
    assert sum(p.numel() for p in model.parameters()) == n_params
    assert model.get_classifier() is model.head.fc
    assert model.export_mmaction_state_dict().keys() == exported.keys()


def test_key_layout_matches_parity_fixtures(parity_dir):
    with open(parity_dir / "fixtures" / "models.json") as f:
        cases = {c["case"]: c for c in json.load(f)["cases"]}
    for arch in ("tsm_mobilenetv2", "tsm_mobileone_s4"):
        fixture = {k: tuple(s) for k, s, _ in cases[arch]["keys"]}
        assert shapes(videozoo.create_model(arch).export_mmaction_state_dict()) == fixture


@pytest.mark.parametrize("arch", ["tsm_mobilenetv2", "tsm_mobileone_s4"])
def test_convert_is_exact_inverse_of_export(arch):
    model = randomise(videozoo.create_model(arch), seed=3)
    if arch == "tsm_mobileone_s4":
        model.reparameterize()  # also check the deploy map
    exported = model.export_mmaction_state_dict()
    back = model.convert_mmaction_state_dict(exported)
    own = model.state_dict()
    assert len(back) == len(exported) == len(own) and back.keys() == own.keys()
    assert all(torch.equal(back[k], own[k]) for k in own)
    assert model.export_mmaction_state_dict().keys() == exported.keys()


def test_checkpoint_roundtrip_and_mismatch_errors(tmp_path, mobileone):
    path = save_mmaction_checkpoint(mobileone.export_mmaction_state_dict(), tmp_path / "t.pth")
    loaded = videozoo.create_model("tsm_mobileone_s4", checkpoint_path=path).eval()
    x = video(1, 8, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), mobileone(x), rtol=0, atol=0)
    with pytest.raises(CheckpointError, match="deploy=False"):
        videozoo.create_model("tsm_mobileone_s4", deploy=True, checkpoint_path=path)
    bad = mobileone.export_mmaction_state_dict()
    bad["backbone.stage9.0.net.branch_norm.weight"] = torch.ones(3)
    save_mmaction_checkpoint(bad, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="unexpected"):
        videozoo.create_model("tsm_mobileone_s4", checkpoint_path=tmp_path / "bad.pth")


# -- forward --------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch, t, channels", [("tsm_mobilenetv2", 8, 1280),
                                               ("tsm_mobileone_s4", 8, 2048)])
def test_forward_surface(arch, t, channels):
    model = videozoo.create_model(arch, num_classes=7).eval()
    x = video(2, t, 32)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, t, channels, 1, 1)
        assert model.forward_head(feats, pre_logits=True).shape == (2, channels)
        logits = model(x)
    assert logits.shape == (2, 7)
    torch.testing.assert_close(logits, model.head.fc(feats.mean((-2, -1))).mean(1))
    model.reset_classifier(5)
    assert model.num_classes == 5 and model.get_classifier().out_features == 5
    assert float(model.head.fc.weight.detach().std()) < 0.01  # TSMHead init_std 0.001
    with pytest.raises(ValueError, match=r"\(B, C=3, T, H, W\)"):
        model(torch.randn(2, 3, 32, 32))


def test_mobileone_needs_whole_shift_groups(mobileone):
    with pytest.raises(ValueError, match="shift_segments=8"):
        mobileone(video(1, 12, 32))
    free = videozoo.create_model("tsm_mobileone_s4", shift_segments=None).eval()
    with torch.no_grad():
        assert free(video(1, 12, 32)).shape == (1, 400)
    with pytest.raises(ValueError, match="shift_segments"):
        videozoo.create_model("tsm_mobileone_s4", shift_segments=0)


def test_mobileone_shifts_16_frames_as_two_groups_of_8(mobileone):
    """MMAction2's 1x1x16 config: frames 0-7 and 8-15 are shifted as separate clips."""
    x = video(1, 16, 32, seed=4)
    x2 = x.clone()
    x2[:, :, 8] += 1.0  # change frame 8 only
    seen = []
    first_shifted = mobileone.backbone.stages[0][0]  # fold 64 // 8 = 8 channels each way
    handle = first_shifted.net.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()))
    with torch.no_grad():
        f1, f2 = mobileone.forward_features(x), mobileone.forward_features(x2)
    handle.remove()
    before, after = seen
    # the first block's shifted input: frame 7 would take channels [0, 8) from frame 8 in a
    # 16-frame shift, but at the group edge it is zero-padded instead
    torch.testing.assert_close(before[7], after[7], rtol=0, atol=0)
    assert torch.count_nonzero(after[7, :8]) == 0
    assert not torch.equal(before[9, 8:16], after[9, 8:16])  # within the group it does move
    # end to end: frames 0-7 never see frames 8-15 (BN is per frame at eval)
    torch.testing.assert_close(f1[:, :8], f2[:, :8], rtol=0, atol=0)
    assert not torch.equal(f1[:, 8:], f2[:, 8:])

    free = videozoo.create_model("tsm_mobileone_s4", shift_segments=None)
    free.load_state_dict(mobileone.state_dict())
    free.eval()
    with torch.no_grad():
        g1, g2 = free.forward_features(x), free.forward_features(x2)
    assert not torch.equal(g1[:, 7], g2[:, 7])


def test_mobilenetv2_shifts_over_the_input_frames(mobilenetv2):
    """No shift group spans two videos of a batch, for any T."""
    for t in (4, 8):
        x = video(2, t, 32, seed=t)
        x2 = x.clone()
        x2[1] += 1.0
        with torch.no_grad():
            a, b = mobilenetv2(x), mobilenetv2(x2)
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
        assert not torch.equal(a[1], b[1])
    x = video(1, 8, 32, seed=5)
    x2 = x.clone()
    x2[:, :, 0] += 1.0
    with torch.no_grad():
        f1, f2 = mobilenetv2.forward_features(x), mobilenetv2.forward_features(x2)
    assert not torch.equal(f1[:, 7], f2[:, 7])  # information travels along all 8 frames


def test_mobilenetv2_without_shift(mobilenetv2):
    """``is_shift=False``: the same weights without shifts (MMAction2 keys without ``.net``), a
    per-frame network, blind to frame order."""
    plain = videozoo.create_model("tsm_mobilenetv2", is_shift=False)
    assert not any(isinstance(m, TemporalShift) for m in plain.modules())
    sd = {k.replace(".net.", "."): v for k, v in mobilenetv2.export_mmaction_state_dict().items()}
    assert shapes(plain.export_mmaction_state_dict()) == shapes(sd)
    plain.load_state_dict(plain.convert_mmaction_state_dict(sd))
    plain.eval()
    x, perm = video(1, 4, 32, seed=12), [3, 1, 0, 2]
    with torch.no_grad():
        f, f_perm = plain.forward_features(x), plain.forward_features(x[:, :, perm])
    torch.testing.assert_close(f_perm, f[:, perm], rtol=0, atol=1e-6)


@pytest.mark.parametrize("arch, t", [("tsm_mobilenetv2", 8),
                                     pytest.param("tsm_mobileone_s4", 8, marks=pytest.mark.slow)])
def test_grad_checkpointing_same_gradients(arch, t):
    model = randomise(videozoo.create_model(arch, dropout=0.0), seed=6).train()
    x = video(1, t, 32, seed=7)

    def grads() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        out = model(x)
        out.square().mean().backward()
        return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    calls = []
    block = model.backbone.blocks[3][1] if arch == "tsm_mobilenetv2" else model.backbone.stages[2][3]
    handle = block.register_forward_pre_hook(lambda *_: calls.append(1))
    out_ref, ref = grads()
    n_plain = len(calls)
    model.set_grad_checkpointing(True)
    out_ckpt, ckpt = grads()
    assert n_plain == 1 and len(calls) - n_plain == 2  # run again during backward
    torch.testing.assert_close(out_ckpt, out_ref, rtol=0, atol=0)
    for name in ref:
        torch.testing.assert_close(ckpt[name], ref[name], rtol=1e-5, atol=1e-7, msg=name)
    calls.clear()
    with torch.no_grad():  # nothing to recompute without autograd
        model(x)
    handle.remove()
    assert len(calls) == 1


# -- re-parameterisation ----------------------------------------------------------------------------
@pytest.mark.slow
def test_reparameterize_same_function_fewer_params():
    model = randomise(videozoo.create_model("tsm_mobileone_s4"), seed=8)
    x = video(1, 8, 64, seed=9)
    with torch.no_grad():
        ref = model(x)
        feats_ref = model.forward_features(x)
    assert not model.deploy
    n_train = sum(p.numel() for p in model.parameters())
    assert model.reparameterize() is model
    assert model.deploy
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 43 + 2 * 12  # one fused conv per block, two per SE
    assert sum(p.numel() for p in model.parameters()) == n_train - 112_896
    with torch.no_grad():
        feats = model.forward_features(x)
        out = model(x)
    scale = float(feats_ref.abs().max())
    torch.testing.assert_close(feats, feats_ref, rtol=1e-4, atol=1e-4 * scale)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))

    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.reparameterize()  # idempotent
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert state.keys() == model.state_dict().keys()
    with torch.no_grad():
        torch.testing.assert_close(model(x), out, rtol=0, atol=0)
    exported = model.export_mmaction_state_dict()
    assert shapes(exported) == mobileone_s4_mmaction_keys(deploy=True)
    # the fused model trains as a plain CNN
    model.train()
    model(video(1, 8, 32)).sum().backward()
    assert model.backbone.stages[0][0].net.reparam_conv.weight.grad is not None


def test_deploy_checkpoint_loads(tmp_path):
    """A model re-parameterised here, written in MMAction2's deploy layout, loads into
    ``deploy=True`` and computes what the fused model computes."""
    fused = randomise(videozoo.create_model("tsm_mobileone_s4", num_classes=10), seed=10)
    fused.reparameterize()
    sd = fused.export_mmaction_state_dict()
    assert len(sd) == 136 and sum(".branch_reparam." in k for k in sd) == 86
    path = save_mmaction_checkpoint(sd, tmp_path / "deploy.pth")
    model = videozoo.create_model("tsm_mobileone_s4", deploy=True, checkpoint_path=path).eval()
    assert model.deploy and model.num_classes == 10
    x = video(1, 8, 32, seed=11)
    with torch.no_grad():
        torch.testing.assert_close(model(x), fused(x), rtol=0, atol=0)
    with pytest.raises(CheckpointError, match="deploy=True"):
        videozoo.create_model("tsm_mobileone_s4", checkpoint_path=path)


@pytest.mark.slow
def test_deploy_form_matches_mmaction2_golden(tmp_path, parity_dir, parity_recipe):
    """Fixture weights (train form) -> reparameterize -> MMAction2 deploy checkpoint ->
    ``deploy=True`` model: still MMAction2's logits."""
    with open(parity_dir / "fixtures" / "models.json") as f:
        case = next(c for c in json.load(f)["cases"] if c["case"] == "tsm_mobileone_s4")
    sd = parity_recipe.build_state_dict(case["keys"], case.get("bn_scales"))
    train = videozoo.create_model("tsm_mobileone_s4")
    train.load_state_dict(train.convert_mmaction_state_dict(dict(sd)))
    path = save_mmaction_checkpoint(train.reparameterize().export_mmaction_state_dict(),
                                    tmp_path / "deploy.pth")
    model = videozoo.create_model("tsm_mobileone_s4", deploy=True, checkpoint_path=path).eval()
    x = torch.from_numpy(parity_recipe.make_input(case["input"]["seed"], case["input"]["shape"]))
    expected = torch.from_numpy(np.load(parity_dir / "fixtures" / case["logits_file"]))
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
