"""The in-place inference shift gives exactly the numbers of the out-of-place one it replaces."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import videozoo
from videozoo.models import layers
from videozoo.models.layers import TemporalShift, temporal_shift


def reference_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """The implementation before the in-place path (kept verbatim as the reference)."""
    nt, c, h, w = x.shape
    fold = c // shift_div
    if fold == 0:
        return x
    src = x.reshape(nt // num_segments, num_segments, c, h, w)
    out = torch.empty_like(src)
    out[:, :, 2 * fold:] = src[:, :, 2 * fold:]
    out[:, :-1, :fold] = src[:, 1:, :fold]
    out[:, -1, :fold] = 0
    out[:, 1:, fold:2 * fold] = src[:, :-1, fold:2 * fold]
    out[:, 0, fold:2 * fold] = 0
    return out.view(nt, c, h, w)


class Recorder(nn.Module):
    """Conv2d that also keeps a copy of what it was given."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.clone()
        return self.conv(x)


CASES = [  # (batch, num_segments, channels, shift_div, h, w)
    (1, 8, 64, 8, 7, 9),
    (2, 8, 256, 8, 5, 5),
    (3, 3, 10, 4, 4, 6),
    (2, 5, 7, 8, 3, 3),
    (1, 16, 48, 8, 2, 3),
    (2, 1, 32, 8, 4, 4),
    (1, 2, 9, 2, 6, 1),
    (1, 8, 128, 8, 32, 32),  # large enough for the frame-by-frame moves
    (2, 4, 64, 4, 33, 31),
]


@pytest.mark.parametrize("b,t,c,div,h,w", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_inference_shift_is_bit_exact_and_restores_input(b, t, c, div, h, w, dtype,
                                                         channels_last):
    torch.manual_seed(b * 100 + t * 10 + c)
    x = torch.randn(b * t, c, h, w, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(c, 5, 1, bias=False).to(dtype)
    shift = TemporalShift(conv, shift_div=div)
    shift.num_segments = t
    before = x.clone()
    with torch.no_grad():
        out = shift(x)
        expected = conv(reference_shift(x, t, div))
    assert torch.equal(out, expected)
    assert torch.equal(x, before)  # the residual branch sees the input unshifted
    assert torch.equal(temporal_shift(x, t, div), reference_shift(x, t, div))


@pytest.mark.parametrize("b,t,c,div,h,w", CASES[:4])
def test_conv_sees_the_reference_shift(b, t, c, div, h, w):
    x = torch.randn(b * t, c, h, w)
    rec = Recorder(nn.Conv2d(c, 3, 1))
    shift = TemporalShift(nn.Conv2d(c, 3, 1), shift_div=div)
    shift.net = rec.conv
    shift.num_segments = t
    with torch.inference_mode():
        rec(reference_shift(x, t, div))
        expected = rec.seen
        # force a net the fast path does not know (goes out of place) and the conv (in place)
        assert torch.equal(shift(x), rec.conv(expected))
        shift.net = rec
        assert torch.equal(shift(x), rec.conv(expected))
        assert torch.equal(rec.seen, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("t,div", [(8, 8), (3, 4)])
def test_gradients_match_reference(t, div, dtype):
    x = torch.randn(2 * t, 16, 4, 5, dtype=dtype)
    conv = nn.Conv2d(16, 6, 1).to(dtype)
    shift = TemporalShift(conv, shift_div=div)
    shift.num_segments = t
    x1 = x.clone().requires_grad_()
    shift(x1).square().sum().backward()
    g_ours, gw_ours = x1.grad, conv.weight.grad.clone()
    conv.weight.grad = None
    x2 = x.clone().requires_grad_()
    conv(reference_shift(x2, t, div)).square().sum().backward()
    assert torch.equal(g_ours, x2.grad)
    assert torch.equal(gw_ours, conv.weight.grad)


def test_input_restored_when_the_net_raises():
    class Boom(nn.Conv2d):
        def forward(self, x):
            raise RuntimeError("boom")

    x = torch.randn(8, 16, 3, 3)
    before = x.clone()
    shift = TemporalShift(Boom(16, 4, 1))
    with torch.no_grad(), pytest.raises(RuntimeError, match="boom"):
        shift(x)
    assert torch.equal(x, before)


def test_unknown_net_never_sees_a_mutated_input():
    # an in-place net must get a fresh tensor, as before: the caller's input stays intact
    x = torch.randn(8, 16, 3, 3)
    before = x.clone()
    shift = TemporalShift(nn.ReLU(inplace=True))
    with torch.no_grad():
        out = shift(x)
    assert torch.equal(x, before)
    assert torch.equal(out, torch.relu(reference_shift(before, 8)))


@pytest.fixture
def out_of_place(monkeypatch):
    def use():
        monkeypatch.setattr(layers, "_can_shift_in_place", lambda x, net: False)
    return use


@pytest.mark.parametrize("arch,kwargs,t", [
    ("tsm_r50", {}, 8),
    ("tsm_mobilenetv2", {}, 4),
    ("tsm_mobileone_s4", {}, 16),
])
def test_whole_models_bit_identical(arch, kwargs, t, out_of_place):
    torch.manual_seed(0)
    model = _lively(videozoo.create_model(arch, num_classes=7, **kwargs)).eval()
    x = torch.randn(2, 3, t, 64, 64)
    with torch.no_grad():
        fast = model(x)
        out_of_place()
        slow = model(x)
    assert torch.equal(fast, slow)


def test_hooked_conv_keeps_the_shifted_input():
    # a forward hook may store the conv's input; it must not be un-shifted behind its back
    x = torch.randn(8, 16, 3, 3)
    conv = nn.Conv2d(16, 4, 1)
    seen = {}
    conv.register_forward_pre_hook(lambda m, a: seen.__setitem__("x", a[0]))
    with torch.no_grad():
        TemporalShift(conv)(x)
    assert torch.equal(seen["x"], reference_shift(x, 8))


def test_inference_tensor_under_no_grad():
    with torch.inference_mode():
        x = torch.randn(8, 16, 3, 3)
    conv = nn.Conv2d(16, 4, 1)
    with torch.no_grad():
        out = TemporalShift(conv)(x)  # writing x here would raise; it falls back
        assert torch.equal(out, conv(reference_shift(x, 8)))


# -- stage runners: a block that is the only holder of its input shifts it for good ----------
@pytest.mark.parametrize("b,t,c,div,h,w", [case for case in CASES if case[2] // case[3]])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_shift_for_good_then_add_unshifted_is_the_residual_add(b, t, c, div, h, w, dtype):
    torch.manual_seed(0)
    x = torch.randn(b * t, c, h, w).to(dtype)
    out = torch.randn(b * t, c, h, w).to(dtype)
    fold = c // div
    shifted = x.clone()
    boundary = layers._shift_for_good(shifted, t, fold)
    assert torch.equal(shifted, reference_shift(x, t, div))
    got = layers.add_unshifted_(out.clone(), shifted, boundary, t, fold)
    assert torch.equal(got, out + x)


def _lively(model: nn.Module) -> nn.Module:
    """Random BatchNorm scales and statistics: timm zero-initialises each block's last BN, which
    would make every residual branch (and so what its shifted conv saw) invisible."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=g) + 0.5
            m.bias.data = torch.randn(c, generator=g) * 0.1
            m.running_mean = torch.randn(c, generator=g) * 0.1
            m.running_var = torch.rand(c, generator=g) + 0.5
    return model


def _count_consuming(monkeypatch):
    from videozoo.models import resnet, tsm_mobile

    seen = {"n": 0}
    for mod, name in [(resnet, "_bottleneck_consuming"),
                      (tsm_mobile, "_inverted_residual_consuming"),
                      (tsm_mobile, "_shifted_block_consuming")]:
        original = getattr(mod, name)

        def counted(*args, _original=original):
            out = _original(*args)
            seen["n"] += out is not None
            return out
        monkeypatch.setattr(mod, name, counted)
    return seen


@pytest.mark.parametrize("arch,t", [("tsm_r50", 8), ("tsm_r101", 8), ("tsm_mobilenetv2", 4),
                                    ("tsm_mobileone_s4", 16), ("tpn_tsm_r50", 8)])
def test_consuming_blocks_run_and_change_nothing(arch, t, monkeypatch):
    torch.manual_seed(0)
    model = _lively(videozoo.create_model(arch, num_classes=5)).eval()
    x = torch.randn(1, 3, t, 64, 64)
    before = x.clone()
    with torch.no_grad():
        seen = _count_consuming(monkeypatch)
        fast, fast_maps = model(x), model.forward_stages(x)
        assert seen["n"] > 0, "no block took the in-place path"
        monkeypatch.setattr(layers, "_can_shift_in_place", lambda x, net: False)
        slow, slow_maps = model(x), model.forward_stages(x)
    assert torch.equal(x, before)
    assert torch.equal(fast, slow)
    assert len(fast_maps) == len(slow_maps)
    assert all(torch.equal(a, b) for a, b in zip(fast_maps, slow_maps))


@pytest.mark.parametrize("where", ["block", "last submodule", "stage"])
def test_a_hook_that_keeps_a_block_output_sees_it_unshifted(where):
    # a feature hook stores an output that the next shifted block would otherwise shift in place
    torch.manual_seed(0)
    model = _lively(videozoo.create_model("tsm_r50", num_classes=5)).eval()
    bb = model.backbone
    target = {"block": bb.layer1[1], "last submodule": bb.layer1[1].act3,
              "stage": bb.layer1}[where]
    kept = []
    target.register_forward_hook(lambda m, a, out: kept.append(out))
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        model(x)
        assert len(kept) == 1  # the hook ran
        stem = bb.forward_stem(model.frames(x))
        expected = bb.layer1(stem) if where == "stage" else bb.layer1[1](bb.layer1[0](stem))
    assert torch.equal(kept[0], expected)


def test_grad_checkpointing_and_training_do_not_consume(monkeypatch):
    model = videozoo.create_model("tsm_mobilenetv2", num_classes=5)
    seen = _count_consuming(monkeypatch)
    x = torch.randn(1, 3, 4, 32, 32)
    model(x).sum().backward()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    assert seen["n"] == 0
