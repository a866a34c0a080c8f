"""optimize_for_inference: same logits to round-off (stated tolerance 1e-4 of their scale), the
rewrites really happen, and the original model is left alone."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import videozoo
from videozoo.models._inference import FoldedConv3d, FusedBottleneck, FusedConv2d

TOL = 1e-4  # max |difference| <= TOL * max(1, max |logit|): MMAction2's parity tolerance


def seeded_bn_stats(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_((torch.rand(n, generator=g) - 0.5) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                m.bias.copy_((torch.rand(n, generator=g) - 0.5) * 0.2)


def close(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference in units of max(1, largest |a|)."""
    return ((a - b).abs().max() / a.abs().max().clamp_min(1.0)).item()


@pytest.mark.parametrize("arch,t,size", [
    ("tsn_r50", 3, 64),
    ("tsm_r50", 8, 64),
    ("tsm_mobilenetv2", 8, 64),
    pytest.param("tsm_r50_nl_embedded_gaussian", 8, 64, marks=pytest.mark.slow),
    pytest.param("tsm_mobileone_s4", 16, 64, marks=pytest.mark.slow),
    pytest.param("tpn_slowonly_r50", 8, 64, marks=pytest.mark.slow),
    pytest.param("tpn_tsm_r50", 8, 64, marks=pytest.mark.slow),
])
def test_logits_match_default_forward(arch, t, size):
    torch.manual_seed(0)
    model = videozoo.create_model(arch, num_classes=11).eval()
    seeded_bn_stats(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = videozoo.optimize_for_inference(model)
    x = torch.randn(2, 3, t, size, size)
    with torch.no_grad():
        ref = model(x)
        out = fast(x)
    assert out.shape == ref.shape
    assert close(ref, out) < TOL
    # the original is untouched (a copy was rewritten)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(isinstance(m, (FusedConv2d, FoldedConv3d)) for m in model.modules())
    # no BatchNorm is left in the fused backbones (MobileOne folds via reparameterize;
    # non-local blocks keep their own norm)
    bns = [n for n, m in fast.named_modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm) and "non_local" not in n
           and "aux_head" not in n]
    assert bns == []
    # and with autograd enabled the fallback ops give the same numbers as the fused ones
    with torch.enable_grad():
        out_grad_mode = fast(x)
    assert close(out, out_grad_mode) < TOL


def test_rewrites_resnet_blocks_and_3d_convs():
    tsm = videozoo.optimize_for_inference(videozoo.create_model("tsm_r50", num_classes=5))
    blocks = [m for m in tsm.modules() if isinstance(m, FusedBottleneck)]
    assert len(blocks) == 16
    # the shift wrapper stays around conv1 (set_num_segments still finds it)
    from videozoo.models.layers import TemporalShift
    shifts = [m for m in tsm.modules() if isinstance(m, TemporalShift)]
    assert len(shifts) == 16 and all(isinstance(s.net, FusedConv2d) for s in shifts)
    assert not any(isinstance(m, nn.Dropout) for m in tsm.modules())
    tpn = videozoo.optimize_for_inference(videozoo.create_model("tpn_slowonly_r50",
                                                                num_classes=5))
    assert not any(type(m) is nn.Conv3d for n, m in tpn.named_modules()
                   if not n.startswith("aux_head"))
    assert any(isinstance(m, FoldedConv3d) and not m.frames for m in tpn.modules())


@pytest.mark.parametrize("kernel,stride,padding,groups", [
    ((1, 3, 3), (1, 2, 2), (0, 1, 1), 1),
    ((1, 1, 1), (1, 2, 2), 0, 1),
    ((3, 1, 1), 1, (1, 0, 0), 4),
    ((3, 1, 1), (2, 1, 1), (1, 0, 0), 1),
    ((1, 7, 7), (1, 2, 2), (0, 3, 3), 1),
])
@pytest.mark.parametrize("act", ["none", "relu"])
def test_folded_conv3d_matches_conv3d_bn(kernel, stride, padding, groups, act):
    torch.manual_seed(1)
    conv = nn.Conv3d(8, 16, kernel, stride, padding, groups=groups, bias=False)
    bn = nn.BatchNorm3d(16)
    seeded_bn_stats(bn)
    bn.eval()
    x = torch.randn(2, 8, 5, 9, 10)
    res = torch.randn_like(conv(x))
    with torch.no_grad():
        ref = bn(conv(x)) + res
        ref = ref.relu() if act == "relu" else ref
        folded = FoldedConv3d(conv, bn, act)
        out = folded(x, res)
        ncthw = folded(x.contiguous(memory_format=torch.channels_last_3d), res)
    assert out.shape == ref.shape
    assert close(ref, out) < 1e-5 and close(ref, ncthw) < 1e-5
    assert out.is_contiguous(memory_format=torch.channels_last_3d)


def test_fused_conv2d_relu6_and_residual():
    torch.manual_seed(2)
    conv = nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False)
    bn = nn.BatchNorm2d(6)
    seeded_bn_stats(bn)
    bn.eval()
    x = torch.randn(3, 6, 7, 7) * 4
    with torch.no_grad():
        fused = FusedConv2d(conv, bn, "relu6")
        assert close(torch.clamp(bn(conv(x)), 0, 6), fused(x)) < 1e-5
        add = FusedConv2d(conv, bn, "none")
        assert close(bn(conv(x)) + x, add(x, x)) < 1e-5


def test_bad_inputs():
    with pytest.raises(TypeError, match="nn.Module"):
        videozoo.optimize_for_inference("tsm_r50")
    with pytest.raises(ValueError, match="act"):
        FusedConv2d(nn.Conv2d(2, 2, 1), act="gelu")
    with pytest.raises(ValueError, match="2D conv"):
        FoldedConv3d(nn.Conv3d(2, 2, 3))


def test_idempotent_and_segment_aware():
    torch.manual_seed(3)
    model = videozoo.create_model("tsm_r50", num_classes=4).eval()
    seeded_bn_stats(model)
    fast = videozoo.optimize_for_inference(model)
    again = videozoo.optimize_for_inference(fast)
    with torch.no_grad():
        for t in (4, 8):  # the shift follows the input's T after the rewrite too
            x = torch.randn(1, 3, t, 32, 32)
            ref = model(x)
            assert close(ref, fast(x)) < TOL
            assert torch.equal(fast(x), again(x))


def test_wide_conv_takes_the_gemm_path():
    torch.manual_seed(4)
    conv = nn.Conv2d(1024, 16, 3, stride=2, padding=1, bias=False)
    bn = nn.BatchNorm2d(16)
    seeded_bn_stats(bn)
    bn.eval()
    fused = FusedConv2d(conv, bn, "relu")
    assert fused.use_gemm and not FusedConv2d(nn.Conv2d(512, 8, 3)).use_gemm
    x = torch.randn(2, 1024, 9, 7)
    with torch.no_grad():
        ref = bn(conv(x)).relu()
        assert close(ref, fused(x)) < 1e-5
        with_residual = fused(x, torch.ones_like(ref))
        assert close((bn(conv(x)) + 1).relu(), with_residual) < 1e-5
