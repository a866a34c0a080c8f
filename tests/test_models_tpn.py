"""TPN (SlowOnly and TSM backbones) against MMAction2's structure and test-time maths.

``tpn_slowonly_r50`` also has a parity fixture (``check_project.py --filter tpn``); ``tpn_tsm_r50``
has none, so it is held here to the same standard: MMAction2 key names and shapes, parameter
count, the fcn-test path rebuilt step by step, the neck shared with SlowOnly, and stale
``new_cls`` copies ignored.
"""
from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from _helpers import save_mmaction_checkpoint
from torch import nn

import videozoo
from videozoo._checkpoint import CheckpointError, load_state_dict_strict, to_model_state_dict
from videozoo.models.layers import set_num_segments
from videozoo.models.resnet3d import (
    ResNet3dSlowOnly,
    resnet3d_key_from_mmaction,
    resnet3d_key_to_mmaction,
)
from videozoo.models.tpn import TPNTSM, TPNNeck, TPNSlowOnly, tpn_slowonly_r50, tpn_tsm_r50

H = W = 64


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm affine parameters and statistics (a fresh model's are 1/0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.num_batches_tracked.fill_(7)
    return model


def clip(b: int = 2, t: int = 8, h: int = H, w: int = W, seed: int = 1) -> torch.Tensor:
    return torch.randn(b, 3, t, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def slowonly() -> TPNSlowOnly:
    return randomize_bn(tpn_slowonly_r50(num_classes=400), 1).eval()


@pytest.fixture(scope="module")
def tsm() -> TPNTSM:
    return randomize_bn(tpn_tsm_r50(num_classes=174), 2).eval()


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- registry / construction ------------------------------------------------------------------
def test_registered():
    assert {"tpn_slowonly_r50", "tpn_tsm_r50"} <= set(videozoo.list_models("tpn_*"))


def test_param_counts_match_metafile(slowonly, tsm):
    # Whole recognizer incl. neck, aux head and cls head (MMAction2 metafile / facts 7.4).
    assert n_params(slowonly) == 91_498_336
    assert n_params(tsm) == 82_445_724


def test_create_model_options():
    m = videozoo.create_model("tpn_tsm_r50", num_classes=10, dropout=0.0, init_std=0.5)
    assert isinstance(m.head.drop, nn.Identity)
    assert m.aux_head.fc.out_features == 10 and m.get_classifier() is m.head.fc
    assert 0.3 < m.head.fc.weight.std().item() < 0.7 and m.head.fc.bias.abs().sum() == 0
    d = tpn_slowonly_r50(num_classes=5)
    assert d.head.drop.p == 0.5 and 0.005 < d.head.fc.weight.std().item() < 0.02


# -- MMAction2 key layout -----------------------------------------------------------------------
def _shapes(sd: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in sd.items()}


def _fixture_keys(parity_dir, case: str) -> dict[str, tuple[int, ...]]:
    data = json.loads((parity_dir / "fixtures" / "models.json").read_text())
    (c,) = [c for c in data["cases"] if c["case"] == case]
    return {k: tuple(s) for k, s, _ in c["keys"]}


def test_slowonly_keys_match_mmaction(slowonly, parity_dir):
    assert _shapes(slowonly.export_mmaction_state_dict()) == _fixture_keys(parity_dir,
                                                                          "tpn_slowonly_r50")


def test_tsm_keys_match_mmaction(tsm, parity_dir):
    """MMAction2's TPN-TSM = ResNetTSM keys (as in the tsm_r50 model) + TPN neck keys (as in the
    SlowOnly model) + the head, with the aux and main classifiers at 174 classes."""
    backbone = {k: s for k, s in _fixture_keys(parity_dir, "tsm_r50").items()
                if k.startswith("backbone.")}
    rest = {k: s for k, s in _fixture_keys(parity_dir, "tpn_slowonly_r50").items()
            if not k.startswith("backbone.")}
    for k in ("neck.aux_head.fc.weight", "cls_head.fc_cls.weight"):
        rest[k] = (174, 2048)
    for k in ("neck.aux_head.fc.bias", "cls_head.fc_cls.bias"):
        rest[k] = (174,)
    assert _shapes(tsm.export_mmaction_state_dict()) == {**backbone, **rest}


def test_tsm_key_spot_checks(tsm):
    """Key facts from MMAction2's sources, without the fixture files."""
    sd = _shapes(tsm.export_mmaction_state_dict())
    assert len(sd) == 379
    assert sd["backbone.conv1.conv.weight"] == (64, 3, 7, 7)
    assert sd["backbone.layer1.0.conv1.conv.net.weight"] == (64, 64, 1, 1)  # shift in conv1
    assert sd["backbone.layer4.2.conv3.bn.num_batches_tracked"] == ()
    assert sd["backbone.layer3.0.downsample.conv.weight"] == (1024, 512, 1, 1)
    assert sd["neck.spatial_modulation.spatial_modulation.0.0.conv.weight"] == (2048, 1024, 1, 3, 3)
    assert sd["neck.temporal_modulation_ops.1.conv.conv.weight"] == (1024, 64, 3, 1, 1)
    assert sd["neck.downsample_ops.0.conv.conv.weight"] == (1024, 1024, 3, 1, 1)
    assert sd["neck.level_fusion_2.downsamples.1.conv.conv.weight"] == (1024, 32, 1, 1, 1)
    assert sd["neck.level_fusion_1.fusion_conv.conv.weight"] == (2048, 2048, 1, 1, 1)
    assert sd["neck.pyramid_fusion.conv.weight"] == (2048, 4096, 1, 1, 1)
    assert sd["neck.aux_head.conv.conv.weight"] == (2048, 1024, 1, 3, 3)
    assert sd["neck.aux_head.fc.weight"] == (174, 2048)
    assert sd["cls_head.fc_cls.bias"] == (174,)
    assert not any(k.startswith(("neck.upsample_ops", "cls_head.new_cls")) for k in sd)


@pytest.mark.parametrize("name", ["slowonly", "tsm"])
def test_convert_is_exact_inverse_of_export(name, request):
    model = request.getfixturevalue(name)
    own = model.state_dict()
    exported = model.export_mmaction_state_dict()
    assert len(exported) == len(own)
    back = model.convert_mmaction_state_dict(exported)
    assert list(back) == list(own)
    # every key maps to exactly one tensor (same storage, not merely equal values)
    assert all(back[k].data_ptr() == own[k].data_ptr() for k in own)


def test_resnet3d_key_maps_are_inverse(slowonly):
    for key in slowonly.backbone.state_dict():
        mm = resnet3d_key_to_mmaction(key)
        assert resnet3d_key_from_mmaction(mm) == key
    with pytest.raises(KeyError):
        resnet3d_key_to_mmaction("layer1.0.nonsense.weight")


def test_unknown_mmaction_key_is_reported(tsm):
    sd = tsm.export_mmaction_state_dict()
    sd["neck.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="neck.extra.weight"):
        load_state_dict_strict(copy.deepcopy(tsm), to_model_state_dict(tsm, sd))


# -- stale fcn-test ``new_cls`` -------------------------------------------------------------------
def _with_stale_new_cls(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    w = sd["cls_head.fc_cls.weight"]
    stale = dict(sd)
    stale["cls_head.new_cls.weight"] = torch.randn(*w.shape, 1, 1, 1) * 3 + 0.5
    stale["cls_head.new_cls.bias"] = torch.randn(w.shape[0]) * 3 + 0.5
    return stale


def test_tsm_stale_new_cls_is_ignored(tsm):
    x = clip(1)
    with torch.no_grad():
        expected = tsm(x)
    fresh = tpn_tsm_r50(num_classes=174).eval()
    stale = _with_stale_new_cls(tsm.export_mmaction_state_dict())
    load_state_dict_strict(fresh, to_model_state_dict(fresh, stale))
    with torch.no_grad():
        assert torch.equal(fresh(x), expected)


@pytest.mark.slow
def test_tsm_checkpoint_file_roundtrip(tsm, tmp_path):
    """create_model reads an MMAction2 1.x file with stale new_cls and infers 174 classes."""
    path = save_mmaction_checkpoint(_with_stale_new_cls(tsm.export_mmaction_state_dict()),
                                    tmp_path / "tpn_tsm.pth", layout="1x")
    model = videozoo.create_model("tpn_tsm_r50", checkpoint_path=path).eval()
    assert model.num_classes == 174
    x = clip(1)
    with torch.no_grad():
        assert torch.equal(model(x), tsm(x))


# -- MMAction2's test-time maths ----------------------------------------------------------------
def _fcn_head(model, neck_out: torch.Tensor) -> torch.Tensor:
    """MMAction2 TPNHead with fcn_test: 3D avg pool, then ``new_cls`` (a 1x1x1 Conv3d copied
    from ``fc_cls``), then a flat view."""
    fc = model.head.fc
    new_cls = nn.Conv3d(fc.in_features, fc.out_features, 1)
    with torch.no_grad():
        new_cls.weight.copy_(fc.weight[..., None, None, None])
        new_cls.bias.copy_(fc.bias)
    y = new_cls(nn.AdaptiveAvgPool3d((1, 1, 1))(neck_out))
    return y.view(y.size(0), -1)


def test_tsm_matches_recognizer2d_fcn_test(tsm):
    """Rebuild MMAction2's Recognizer2D + fcn_test step by step: (N, T, C, H, W) frames folded to
    (N*T, C, H, W), backbone with num_segments 8, each output reshaped (-1, 8, C, h, w) and
    transposed to (-1, C, 8, h, w), neck, fcn head."""
    x = clip(2)
    inputs = x.permute(0, 2, 1, 3, 4)  # what MMAction2's NCHW format gives: (N, M, C, H, W)
    with torch.no_grad():
        frames = inputs.reshape((-1,) + inputs.shape[2:])
        set_num_segments(tsm.backbone, 8)  # ResNetTSM's num_segments
        c3, c4 = tsm.backbone(frames)
        feats = [f.reshape((-1, 8) + f.shape[1:]).transpose(1, 2).contiguous() for f in (c3, c4)]
        expected = _fcn_head(tsm, tsm.neck(feats))
        out = tsm(x)
    assert out.shape == (2, 174)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert expected.abs().max() > 1e-3  # not a degenerate all-zero comparison


def test_slowonly_fc_path_equals_fcn_path(slowonly):
    x = clip(2)
    with torch.no_grad():
        feats = slowonly.forward_features(x)
        torch.testing.assert_close(slowonly.forward_head(feats), _fcn_head(slowonly, feats),
                                   atol=1e-5, rtol=1e-5)


def test_tsm_neck_equals_slowonly_neck(slowonly, tsm):
    """Both variants share one neck: with the same weights and (C3, C4) they agree exactly."""
    neck = copy.deepcopy(tsm.neck)
    neck.load_state_dict(slowonly.neck.state_dict())
    g = torch.Generator().manual_seed(3)
    c3 = torch.randn(2, 1024, 8, 4, 4, generator=g)
    c4 = torch.randn(2, 2048, 8, 2, 2, generator=g)
    with torch.no_grad():
        a, b = slowonly.neck((c3, c4)), neck((c3, c4))
    assert a.shape == (2, 2048, 1, 2, 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, tsm.neck((c3, c4)).detach())  # the weights do matter


def test_neck_cascade_flow_by_hand(slowonly):
    """Facts 7.5: O0 = T0 + up(T1), O1 = T1; TD = LF1(O0, O1); O1' = O1 + down(O0) (cascade);
    BU = LF2(O0, O1'); out = fuse(TD, BU)."""
    neck = slowonly.neck
    g = torch.Generator().manual_seed(4)
    c3, c4 = torch.randn(1, 1024, 8, 4, 4, generator=g), torch.randn(1, 2048, 8, 2, 2, generator=g)
    with torch.no_grad():
        s0 = neck.spatial_modulation[0](c3)
        t0, t1 = neck.temporal_modulation[0](s0), neck.temporal_modulation[1](c4)
        assert t0.shape == t1.shape == (1, 1024, 1, 2, 2)
        o0 = t0 + F.interpolate(t1, scale_factor=(1.0, 1.0, 1.0), mode="nearest")
        top_down = neck.level_fusion_1([o0, t1])
        bottom_up = neck.level_fusion_2([o0, t1 + neck.downsample[0](o0)])
        expected = neck.pyramid_fusion(torch.cat([top_down, bottom_up], 1))
        torch.testing.assert_close(neck((c3, c4)), expected, atol=0, rtol=0)


def test_neck_rejects_bad_config_and_input():
    with pytest.raises(ValueError, match="flow_type"):
        TPNNeck(flow_type="zigzag")
    with pytest.raises(ValueError, match="spatial_out_chs"):
        TPNNeck(spatial_out_chs=1024)


# -- shapes, training surface ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["slowonly", "tsm"])
def test_shapes(name, request):
    """Facts 7.5: at 64x64, C3 (B, 1024, 8, 4, 4), C4 (B, 2048, 8, 2, 2), neck (B, 2048, 1, 2, 2).
    """
    model = request.getfixturevalue(name)
    x = clip(1)
    with torch.no_grad():
        c3, c4 = model.forward_backbone(x)
        assert c3.shape == (1, 1024, 8, 4, 4) and c4.shape == (1, 2048, 8, 2, 2)
        feats = model.forward_features(x)
        assert feats.shape == (1, 2048, 1, 2, 2)
        assert model.forward_head(feats, pre_logits=True).shape == (1, 2048)
        logits, aux = model.forward_train(x)
    k = model.num_classes
    assert logits.shape == aux.shape == (1, k)
    with torch.no_grad():
        torch.testing.assert_close(logits, model(x), atol=0, rtol=0)  # eval: same as forward
        torch.testing.assert_close(aux, model.aux_head(c3), atol=0, rtol=0)  # aux sees C3


def test_longer_clip_pools_over_time(slowonly):
    with torch.no_grad():
        assert slowonly.forward_features(clip(1, t=16, h=32, w=32)).shape == (1, 2048, 2, 1, 1)


def test_rejects_non_video_input(tsm):
    with pytest.raises(ValueError, match=r"\(B, C=3, T, H, W\)"):
        tsm(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="float"):
        tsm(torch.zeros(1, 3, 8, 32, 32, dtype=torch.uint8))


def test_reset_classifier_resets_both_heads(tsm):
    model = copy.deepcopy(tsm)
    model.reset_classifier(7)
    assert model.num_classes == 7
    assert model.head.fc.out_features == 7 and model.aux_head.fc.out_features == 7
    assert model.get_classifier() is model.head.fc
    exported = _shapes(model.export_mmaction_state_dict())
    assert exported["cls_head.fc_cls.weight"] == exported["neck.aux_head.fc.weight"] == (7, 2048)
    with torch.no_grad():
        assert model(clip(1, h=32, w=32)).shape == (1, 7)


@pytest.mark.slow
def test_forward_train_backward_reaches_both_heads():
    model = tpn_slowonly_r50(num_classes=6, layers=(1, 1, 1, 1)).train()  # small, same wiring
    x, y = clip(2, h=32, w=32), torch.tensor([1, 4])
    logits, aux = model.forward_train(x)
    loss = F.cross_entropy(logits, y) + model.aux_loss_weight * F.cross_entropy(aux, y)
    loss.backward()
    for p in (model.head.fc.weight, model.aux_head.fc.weight, model.aux_head.conv.weight,
              model.neck.pyramid_fusion.conv.weight, model.backbone.conv1.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 6)


@pytest.mark.slow
@pytest.mark.parametrize("arch, kwargs", [("tpn_slowonly_r50", {"layers": (1, 2, 2, 1)}),
                                          ("tpn_tsm_r50", {})])
def test_grad_checkpointing_really_checkpoints(arch, kwargs, monkeypatch):
    model = randomize_bn(videozoo.create_model(arch, num_classes=5, **kwargs)).eval()
    x = clip(1, h=32, w=32)

    def grads() -> dict[str, torch.Tensor]:
        model.zero_grad()
        model(x).sum().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain = grads()
    calls = []
    original = torch.utils.checkpoint.checkpoint

    def counting(fn, *args, **kwargs):
        calls.append(fn)
        return original(fn, *args, **kwargs)

    monkeypatch.setattr(torch.utils.checkpoint, "checkpoint", counting)
    model.set_grad_checkpointing(True)
    checkpointed = grads()
    assert calls, "set_grad_checkpointing(True) did not route through torch.utils.checkpoint"
    assert checkpointed.keys() == plain.keys()
    for n in plain:
        torch.testing.assert_close(checkpointed[n], plain[n], atol=1e-5, rtol=1e-4)
    calls.clear()
    model.set_grad_checkpointing(False)
    with torch.no_grad():
        model(x)
    assert not calls


@pytest.mark.parametrize("arch", ["tpn_slowonly_r50", "tpn_tsm_r50"])
def test_frozen_stages_and_norm_eval(arch):
    model = videozoo.create_model(arch, num_classes=3, frozen_stages=1, norm_eval=True).train()
    bb = model.backbone
    for part in (bb.conv1, bb.bn1, bb.layer1):
        assert not any(p.requires_grad for p in part.parameters())
    assert all(p.requires_grad for p in bb.layer2.parameters())
    assert all(p.requires_grad for p in model.neck.parameters())
    bns = [m for m in bb.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and not any(m.training for m in bns)  # norm_eval: backbone BN frozen
    assert model.neck.pyramid_fusion.bn.training and model.aux_head.bn.training

    plain = videozoo.create_model(arch, num_classes=3).train()
    assert all(p.requires_grad for p in plain.parameters())
    assert all(m.training for m in plain.modules())


# -- ResNet3d-SlowOnly backbone ---------------------------------------------------------------
def test_slowonly_backbone_layout(slowonly):
    bb = slowonly.backbone
    assert bb.conv1.weight.shape == (64, 3, 1, 7, 7) and bb.conv1.stride == (1, 2, 2)
    assert bb.maxpool.kernel_size == (1, 3, 3)
    assert bb.layer2[0].conv1.kernel_size == (1, 1, 1)  # not inflated
    assert bb.layer3[5].conv1.kernel_size == (3, 1, 1) and bb.layer3[5].conv1.padding == (1, 0, 0)
    assert bb.layer4[0].conv2.stride == (1, 2, 2) and bb.layer4[0].conv2.kernel_size == (1, 3, 3)
    assert bb.layer4[0].downsample[0].stride == (1, 2, 2)
    with pytest.raises(ValueError, match="frozen_stages"):
        ResNet3dSlowOnly(frozen_stages=5)


def test_inflate_2d_state_dict():
    """ImageNet 2D weights -> 3D: kernels repeated over time / kT, so on a static clip the
    non-inflated stages give the 2D network's features frame by frame."""
    import timm

    net2d = randomize_bn(timm.create_model("resnet50", pretrained=False), 5).eval()
    bb = ResNet3dSlowOnly().eval()
    sd = bb.inflate_2d_state_dict(net2d.state_dict())
    bb.load_state_dict(sd)
    torch.testing.assert_close(sd["layer3.0.conv1.weight"].sum(2),
                               net2d.state_dict()["layer3.0.conv1.weight"])
    frame = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = net2d.layer2(net2d.layer1(net2d.maxpool(net2d.act1(net2d.bn1(net2d.conv1(frame))))))
        out = bb.layer2(bb.layer1(bb.stem(frame.unsqueeze(2).expand(-1, -1, 4, -1, -1))))
    for t in range(4):
        torch.testing.assert_close(out[:, :, t], ref, atol=1e-5, rtol=1e-5)
