"""TSN / TSM ResNet families: key layouts, shift placement, shift and non-local maths.

The architectures without MMAction2 parity fixtures (``tsm_r101``, ``tsm_r50_nl_gaussian``) are
checked here against references written independently from the MMAction2 facts: the key list
derived from MMAction2's module tree, a functional forward over MMAction2-keyed weights (pure
``torch.nn.functional`` calls, loop-based shift, einsum non-local), and the shift placement.
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import videozoo
from videozoo._checkpoint import load_state_dict_strict
from videozoo.models.layers import TemporalShift, temporal_shift
from videozoo.models.non_local import NonLocal3d, NonLocalWrapper
from videozoo.models.resnet import (
    create_resnet_backbone,
    mmaction_resnet_key_to_videozoo,
    shifted_blocks,
    videozoo_resnet_key_to_mmaction,
)

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
STAGES = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
NL_BLOCKS = {(2, 0), (2, 2), (3, 0), (3, 2), (3, 4)}


# -- references written from the facts ----------------------------------------------------------
def mmaction_keys(depth: int, shift: bool, nl_mode: str | None = None, in_chans: int = 3,
                  num_classes: int = 400) -> dict[str, tuple[int, ...]]:
    """MMAction2 Recognizer2D(ResNet[TSM]) state-dict keys and shapes, from its module tree."""
    keys: dict[str, tuple[int, ...]] = {}

    def conv_module(name: str, cout: int, cin: int, k: int, net: bool = False) -> None:
        keys[f"{name}.conv.{'net.' if net else ''}weight"] = (cout, cin, k, k)
        for p in BN:
            keys[f"{name}.bn.{p}"] = () if p == "num_batches_tracked" else (cout,)

    conv_module("backbone.conv1", 64, in_chans, 7)
    inplanes = 64
    for stage, n in enumerate(STAGES[depth], start=1):
        planes = 64 * 2 ** (stage - 1)
        for b in range(n):
            nl = nl_mode is not None and (stage, b) in NL_BLOCKS
            prefix = f"backbone.layer{stage}.{b}." + ("block." if nl else "")
            shifted = shift and (b % 2 == 0 if depth == 101 else True)
            conv_module(prefix + "conv1", planes, inplanes, 1, net=shifted)
            conv_module(prefix + "conv2", planes, planes, 3)
            conv_module(prefix + "conv3", planes * 4, planes, 1)
            if b == 0:
                conv_module(prefix + "downsample", planes * 4, inplanes, 1)
            inplanes = planes * 4
            if nl:
                c, inter = inplanes, inplanes // 2
                p = f"backbone.layer{stage}.{b}.non_local_block."
                keys[p + "g.0.conv.weight"] = (inter, c, 1, 1, 1)
                keys[p + "g.0.conv.bias"] = (inter,)
                if nl_mode != "gaussian":
                    keys[p + "theta.conv.weight"] = (inter, c, 1, 1, 1)
                    keys[p + "theta.conv.bias"] = (inter,)
                    keys[p + "phi.0.conv.weight"] = (inter, c, 1, 1, 1)
                    keys[p + "phi.0.conv.bias"] = (inter,)
                keys[p + "conv_out.conv.weight"] = (c, inter, 1, 1, 1)
                for q in BN:
                    keys[p + f"conv_out.bn.{q}"] = () if q == "num_batches_tracked" else (c,)
    keys["cls_head.fc_cls.weight"] = (num_classes, 2048)
    keys["cls_head.fc_cls.bias"] = (num_classes,)
    return keys


def shift_reference(x: torch.Tensor, t: int, div: int) -> torch.Tensor:
    """Loop version of facts §3.3: fold 0 takes t+1 (zero last), fold 1 takes t-1 (zero first)."""
    nt, c = x.shape[:2]
    fold = c // div
    out = torch.zeros_like(x)
    for v in range(nt // t):
        for i in range(t):
            f = v * t + i
            out[f, 2 * fold:] = x[f, 2 * fold:]
            if i + 1 < t:
                out[f, :fold] = x[f + 1, :fold]
            if i > 0:
                out[f, fold:2 * fold] = x[f - 1, fold:2 * fold]
    return out


def pool_1x2x2(x: torch.Tensor) -> torch.Tensor:
    """MaxPool3d((1, 2, 2)), floor mode, by reshaping."""
    n, c, t, h, w = x.shape
    x = x[..., : h // 2 * 2, : w // 2 * 2]
    return x.reshape(n, c, t, h // 2, 2, w // 2, 2).amax(dim=(4, 6))


def non_local_reference(x: torch.Tensor, sd: dict[str, torch.Tensor], mode: str) -> torch.Tensor:
    """mmcv NonLocal3d (sub_sample, no scale) with MMAction2 keys, from the formulas in §3.5."""
    def conv(name: str, v: torch.Tensor) -> torch.Tensor:
        w = sd[name + ".weight"].flatten(1)
        out = torch.einsum("oc,nc...->no...", w, v)
        if name + ".bias" in sd:
            out = out + sd[name + ".bias"].view(1, -1, 1, 1, 1)
        return out

    n, c = x.shape[:2]
    g = pool_1x2x2(conv("g.0.conv", x)).flatten(2)  # (n, inter, Ns)
    if mode == "gaussian":
        theta, phi = x.flatten(2), pool_1x2x2(x).flatten(2)  # over all C channels
    else:
        theta, phi = conv("theta.conv", x).flatten(2), pool_1x2x2(conv("phi.0.conv", x)).flatten(2)
    logits = torch.einsum("nci,ncj->nij", theta, phi)
    attn = logits / logits.shape[-1] if mode == "dot_product" else logits.softmax(-1)
    y = torch.einsum("nij,ncj->nci", attn, g).reshape(n, -1, *x.shape[2:])
    y = conv("conv_out.conv", y)
    y = F.batch_norm(y, sd["conv_out.bn.running_mean"], sd["conv_out.bn.running_var"],
                     sd["conv_out.bn.weight"], sd["conv_out.bn.bias"], False, 0.0, 1e-5)
    return x + y


def functional_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, depth: int,
                       nl_mode: str | None, head: str) -> torch.Tensor:
    """MMAction2 Recognizer2D + ResNetTSM/ResNet + TSM/TSN head with F.* calls on MMAction2 keys."""
    b, _, t = x.shape[:3]
    x = x.transpose(1, 2).flatten(0, 1)

    def conv_bn(name: str, v: torch.Tensor, stride: int = 1, pad: int = 0, relu: bool = True,
                shifted: bool = False) -> torch.Tensor:
        w = sd.get(f"{name}.conv.weight", sd.get(f"{name}.conv.net.weight"))
        if shifted:
            v = shift_reference(v, t, 8)
        v = F.conv2d(v, w, stride=stride, padding=pad)
        v = F.batch_norm(v, sd[f"{name}.bn.running_mean"], sd[f"{name}.bn.running_var"],
                         sd[f"{name}.bn.weight"], sd[f"{name}.bn.bias"], False, 0.0, 1e-5)
        return F.relu(v) if relu else v

    x = conv_bn("backbone.conv1", x, stride=2, pad=3)
    x = F.max_pool2d(x, 3, 2, 1)
    for stage, n in enumerate(STAGES[depth], start=1):
        for i in range(n):
            nl = nl_mode is not None and (stage, i) in NL_BLOCKS
            p = f"backbone.layer{stage}.{i}." + ("block." if nl else "")
            stride = 2 if (i == 0 and stage > 1) else 1
            shifted = f"{p}conv1.conv.net.weight" in sd
            out = conv_bn(p + "conv1", x, shifted=shifted)
            out = conv_bn(p + "conv2", out, stride=stride, pad=1)
            out = conv_bn(p + "conv3", out, relu=False)
            identity = conv_bn(p + "downsample", x, stride=stride, relu=False) if i == 0 else x
            x = F.relu(out + identity)
            if nl:
                nt, c, h, w = x.shape
                q = f"backbone.layer{stage}.{i}.non_local_block."
                nl_sd = {k[len(q):]: v for k, v in sd.items() if k.startswith(q)}
                v5 = x.reshape(nt // t, t, c, h, w).transpose(1, 2)
                x = non_local_reference(v5, nl_sd, nl_mode).transpose(1, 2).reshape(nt, c, h, w)
    feats = x.mean(dim=(2, 3)).reshape(b, t, -1)
    fc_w, fc_b = sd["cls_head.fc_cls.weight"], sd["cls_head.fc_cls.bias"]
    if head == "tsn":
        return F.linear(feats.mean(1), fc_w, fc_b)
    return F.linear(feats, fc_w, fc_b).mean(1)


def randomise(model: torch.nn.Module, seed: int = 0, calib_shape: tuple | None = None) -> None:
    """Random weights with non-trivial BN affine and statistics (eval-mode numerics matter).

    With ``calib_shape``, BN running statistics are then set from one random batch (momentum 1)
    so activations stay O(1) through 50-100 layers, as trained statistics would keep them.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                t.fill_(3)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.dim() == 1:  # BN / bias
                base = 1.0 if "bn" in name or "norm" in name else 0.0
                t.copy_(base + torch.randn(t.shape, generator=g) * 0.1)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (1.0 / fan_in) ** 0.5)
        if calib_shape is not None:
            bns = [m for m in model.modules()
                   if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
            for m in bns:
                m.momentum = 1.0
            model.train()
            model(torch.randn(calib_shape, generator=g))
            for m in bns:
                m.momentum = 0.1
            model.eval()


# -- key layout -------------------------------------------------------------------------------
ARCH_LAYOUT = {
    "tsn_r50": (50, False, None, 3),
    "tsn_r101": (101, False, None, 3),
    "tsn_r50_flow": (50, False, None, 10),
    "tsm_r50": (50, True, None, 3),
    "tsm_r101": (101, True, None, 3),
    "tsm_r50_nl_embedded_gaussian": (50, True, "embedded_gaussian", 3),
    "tsm_r50_nl_gaussian": (50, True, "gaussian", 3),
    "tsm_r50_nl_dot_product": (50, True, "dot_product", 3),
}


@pytest.mark.parametrize("arch", sorted(ARCH_LAYOUT))
def test_mmaction_key_layout(arch):
    depth, shift, nl, in_chans = ARCH_LAYOUT[arch]
    model = videozoo.create_model(arch, num_classes=400)
    exported = model.export_mmaction_state_dict()
    expected = mmaction_keys(depth, shift, nl, in_chans)
    assert set(exported) == set(expected)
    assert {k: tuple(v.shape) for k, v in exported.items()} == expected
    n_nl = 0 if nl is None else len(NL_BLOCKS) * (8 if nl == "gaussian" else 12)
    assert len(exported) == {50: 320, 101: 626}[depth] + n_nl
    assert all(v.dtype == torch.int64 for k, v in exported.items()
               if k.endswith("num_batches_tracked"))
    # the inverse map gives the model's own keys back, one to one
    assert model.convert_mmaction_state_dict(exported).keys() == model.state_dict().keys()


def test_key_layout_matches_parity_fixtures(parity_dir):
    with open(parity_dir / "fixtures" / "models.json") as f:
        cases = {c["arch"]: c for c in json.load(f)["cases"]}
    checked = 0
    for arch, (depth, shift, nl, in_chans) in ARCH_LAYOUT.items():
        if arch not in cases:
            continue
        case = cases[arch]
        fixture = {k: tuple(s) for k, s, _ in case["keys"]}
        assert mmaction_keys(depth, shift, nl, in_chans, case["num_classes"]) == fixture, arch
        checked += 1
    assert checked == 6


def test_key_maps_are_inverse():
    for key in mmaction_keys(101, True, None) | mmaction_keys(50, True, "embedded_gaussian"):
        if not key.startswith("backbone."):
            continue
        k = key[len("backbone."):]
        vz = mmaction_resnet_key_to_videozoo(k)
        assert vz != k
        assert videozoo_resnet_key_to_mmaction(vz) == k
    assert mmaction_resnet_key_to_videozoo("layer1.0.conv1.conv.net.weight") == \
        "layer1.0.conv1.net.weight"
    assert mmaction_resnet_key_to_videozoo("layer2.2.non_local_block.conv_out.bn.running_var") \
        == "layer2.2.non_local.norm_out.running_var"
    assert mmaction_resnet_key_to_videozoo("not.a.resnet.key") == "not.a.resnet.key"


# -- shift placement and maths ------------------------------------------------------------------
def shifted_names(backbone) -> list[str]:
    return [n for n, m in backbone.named_modules() if isinstance(m, TemporalShift)]


def test_r101_shifts_even_blocks_only():
    assert shifted_blocks((3, 4, 23, 3)) == [[0, 2], [0, 2], list(range(0, 23, 2)), [0, 2]]
    model = videozoo.create_model("tsm_r101")
    names = shifted_names(model.backbone)
    assert len(names) == 18
    assert names[:4] == ["layer1.0.conv1", "layer1.2.conv1", "layer2.0.conv1", "layer2.2.conv1"]
    assert "layer3.22.conv1" in names and "layer3.1.conv1" not in names
    assert names[-2:] == ["layer4.0.conv1", "layer4.2.conv1"]


def test_r50_shifts_every_block():
    backbone = create_resnet_backbone(50, shift_div=8)
    assert len(shifted_names(backbone)) == 16
    assert not shifted_names(create_resnet_backbone(50))


def test_shift_arange_example():
    # facts §3.3: T=3, C=4, shift_div=4 -> channel 0 [x1, x2, 0], channel 1 [0, x0, x1]
    x = torch.arange(3 * 4, dtype=torch.float32).reshape(3, 4, 1, 1)  # x[t, c] = 4t + c
    out = temporal_shift(x, 3, 4)[:, :, 0, 0]
    assert out[:, 0].tolist() == [4.0, 8.0, 0.0]
    assert out[:, 1].tolist() == [0.0, 1.0, 5.0]
    assert out[:, 2:].tolist() == x[:, 2:, 0, 0].tolist()


@pytest.mark.parametrize("t,div,c", [(8, 8, 64), (3, 4, 10), (5, 8, 7)])
def test_shift_matches_loop_reference(t, div, c):
    x = torch.randn(2 * t, c, 5, 6)
    ref = shift_reference(x, t, div)
    assert torch.equal(temporal_shift(x, t, div), ref)
    cl = x.contiguous(memory_format=torch.channels_last)
    out = temporal_shift(cl, t, div)
    assert torch.equal(out, ref)
    assert out.is_contiguous(memory_format=torch.channels_last) or c // div == 0
    with pytest.raises(ValueError, match="multiple"):
        temporal_shift(x[:-1], t, div)


def test_shift_sits_on_conv1_input_only():
    model = videozoo.create_model("tsm_r50").eval()
    block = model.backbone.layer2[1]
    seen = {}
    block.register_forward_pre_hook(lambda m, a: seen.__setitem__("block_in", a[0].clone()))
    block.conv1.net.register_forward_pre_hook(lambda m, a: seen.__setitem__("conv_in", a[0]))
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        model(x)
    assert torch.equal(seen["conv_in"], shift_reference(seen["block_in"], 4, 8))


# -- non-local ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["embedded_gaussian", "gaussian", "dot_product"])
def test_non_local_matches_formula(mode):
    nl = NonLocal3d(16, mode=mode).eval()
    randomise(nl, seed=1)
    mm_sd = {}
    from videozoo.models.non_local import NON_LOCAL_KEY_MAP

    for k, v in nl.state_dict().items():
        for vz, mm in NON_LOCAL_KEY_MAP:
            if k.startswith(vz):
                mm_sd[mm + k[len(vz):]] = v
    assert len(mm_sd) == len(nl.state_dict())
    assert ("theta.conv.weight" in mm_sd) == (mode != "gaussian")
    x = torch.randn(2, 16, 3, 7, 9)  # odd H, W: floor pooling
    with torch.no_grad():
        torch.testing.assert_close(nl(x), non_local_reference(x, mm_sd, mode), rtol=1e-5,
                                   atol=1e-5)


def test_non_local_starts_as_identity_and_rejects_unknown_mode():
    nl = NonLocal3d(8, mode="gaussian").eval()
    x = torch.randn(1, 8, 2, 4, 4)
    assert torch.equal(nl(x), x)
    with pytest.raises(ValueError, match="mode"):
        NonLocal3d(8, mode="concatenation")


def test_non_local_wrapper_groups_frames_by_view():
    nl = NonLocal3d(4, mode="embedded_gaussian").eval()
    randomise(nl, seed=2)
    wrapper = NonLocalWrapper(torch.nn.Identity(), nl)
    wrapper.num_segments = 3
    x = torch.randn(6, 4, 4, 4)
    with torch.no_grad():
        out = wrapper(x)
        ref = nl(x.reshape(2, 3, 4, 4, 4).transpose(1, 2)).transpose(1, 2).reshape(6, 4, 4, 4)
    torch.testing.assert_close(out, ref)
    with pytest.raises(ValueError, match="multiple"):
        wrapper(x[:5])


# -- whole models against the functional reference --------------------------------------------
@pytest.mark.parametrize("arch,t", [
    ("tsn_r50", 3),
    pytest.param("tsm_r50_nl_gaussian", 4, marks=pytest.mark.slow),
    pytest.param("tsm_r101", 4, marks=pytest.mark.slow),
])
def test_model_matches_functional_reference(arch, t):
    depth, _, nl, in_chans = ARCH_LAYOUT[arch]
    model = videozoo.create_model(arch, num_classes=7)
    x = torch.randn(2, in_chans, t, 48, 64)  # layer3 3x4: odd size, floor pooling in NL
    randomise(model, seed=3, calib_shape=x.shape)
    sd = model.export_mmaction_state_dict()
    with torch.no_grad():
        out = model(x)
        ref = functional_forward(sd, x, depth, nl, "tsn" if arch.startswith("tsn") else "tsm")
    assert out.shape == (2, 7)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    # and the reference really depends on the shift / non-local: without them it differs
    if arch.startswith("tsm"):
        plain = {k.replace(".conv.net.", ".conv."): v for k, v in sd.items()}
        with torch.no_grad():
            unshifted = functional_forward(plain, x, depth, nl, "tsm")
        assert not torch.allclose(unshifted, ref, rtol=1e-3, atol=1e-3)


def test_views_are_independent():
    """Shift and non-local must group frames per batch item: item 0 ignores item 1."""
    model = videozoo.create_model("tsm_r50_nl_dot_product", num_classes=5)
    x = torch.randn(2, 3, 4, 32, 32)
    randomise(model, seed=4, calib_shape=x.shape)
    with torch.no_grad():
        both = model(x)
        first = model(x[:1])
    torch.testing.assert_close(both[:1], first, rtol=1e-5, atol=1e-5)


def test_num_segments_pins_the_shift():
    model = videozoo.create_model("tsm_r50", num_segments=4, num_classes=5)
    x = torch.randn(1, 3, 8, 32, 32)
    randomise(model, seed=5, calib_shape=(2, 3, 8, 32, 32))
    with torch.no_grad():
        pinned = model(x)
    assert all(m.num_segments == 4 for m in model.modules() if isinstance(m, TemporalShift))
    assert pinned.shape == (1, 5)
    free = videozoo.create_model("tsm_r50", num_classes=5).eval()
    free.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert not torch.allclose(free(x), pinned, atol=1e-5)
        # pinned to 4 == two independent 4-frame views, logits averaged over all 8 frames
        split = (free(x[:, :, :4]) + free(x[:, :, 4:])) / 2
    torch.testing.assert_close(pinned, split, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="num_segments"):
        model(torch.randn(1, 3, 6, 32, 32))


# -- training flags ---------------------------------------------------------------------------
def test_frozen_stages_norm_eval_partial_bn():
    model = videozoo.create_model("tsn_r50", frozen_stages=2)
    bb = model.backbone
    assert not any(p.requires_grad for m in (bb.conv1, bb.bn1, bb.layer1, bb.layer2)
                   for p in m.parameters())
    assert all(p.requires_grad for p in bb.layer3.parameters())
    model.train()
    assert not bb.layer2.training and not bb.bn1.training and bb.layer3.training

    model = videozoo.create_model("tsm_r50_nl_gaussian", norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert model.backbone.layer1.training

    model = videozoo.create_model("tsn_r50", partial_bn=True).train()
    bn2d = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn2d[0] is model.backbone.bn1 and bn2d[0].training and bn2d[0].weight.requires_grad
    assert not any(m.training or m.weight.requires_grad for m in bn2d[1:])
    assert all(p.requires_grad for n, p in model.named_parameters() if "conv" in n)


def test_dropout_defaults_follow_mmaction():
    tsn, tsm = videozoo.create_model("tsn_r50"), videozoo.create_model("tsm_r50")
    assert tsn.head.drop.p == 0.4 and tsm.head.drop.p == 0.5
    assert videozoo.create_model("tsn_r50", dropout=0.0).head.drop.__class__.__name__ == \
        "Identity"
    torch.manual_seed(0)
    w = videozoo.create_model("tsm_r50", init_std=0.5).head.fc.weight
    assert 0.4 < float(w.detach().std()) < 0.6


@pytest.mark.slow
def test_grad_checkpointing_recomputes_stages():
    model = videozoo.create_model("tsm_r50", num_classes=3, dropout=0.0).train()
    calls = []
    model.backbone.layer3[0].register_forward_hook(lambda *a: calls.append(1))
    x = torch.randn(1, 3, 2, 32, 32)
    model(x).sum().backward()
    assert len(calls) == 1
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    calls.clear()
    model.set_grad_checkpointing(True)
    # train-mode BN uses batch statistics, so recomputation reproduces the forward exactly
    model(x).sum().backward()
    assert len(calls) == 2  # forward + recomputation in backward
    for n, p in model.named_parameters():
        if n in grads:
            torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-5)


def test_backbone_out_indices_for_tpn():
    backbone = create_resnet_backbone(50, shift_div=8, out_indices=(2, 3)).eval()
    x = torch.randn(8, 3, 64, 64)
    with torch.no_grad():
        c4, c5 = backbone(x)
        only = backbone.forward_stages(x, (3,))[0]
    assert c4.shape == (8, 1024, 4, 4) and c5.shape == (8, 2048, 2, 2)
    assert torch.equal(c5, only)
    with pytest.raises(ValueError, match="out_indices"):
        create_resnet_backbone(50, out_indices=(4,))


def test_strict_checkpoint_roundtrip_through_mmaction_keys():
    model = videozoo.create_model("tsm_r50_nl_gaussian", num_classes=6)
    randomise(model, seed=6)
    other = videozoo.create_model("tsm_r50_nl_gaussian", num_classes=6)
    sd = other.convert_mmaction_state_dict(model.export_mmaction_state_dict())
    load_state_dict_strict(other, sd)
    for k, v in model.state_dict().items():
        assert torch.equal(other.state_dict()[k], v), k
