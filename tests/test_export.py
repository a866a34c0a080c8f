"""Export of every architecture: torch.compile and ONNX (onnxruntime parity), random weights.

- ``torch.compile`` of every architecture goes through TorchDynamo's graph capture and
  AOTAutograd (``backend="aot_eager"``): that is where a model fails to compile (graph breaks,
  unsupported ops, the in-place inference shift). The default **inductor** backend, which also
  generates and builds C++ kernels (about a minute per network on 2 cores, too slow to repeat for
  all of them in CI), compiles one representative of each kind of block (``INDUCTOR_CASES``).
  Both in float64, so "within 1e-5 of eager" checks the graph, not float32 round-off (inductor
  reorders reductions: ~4e-5 relative on TPN in float32).
- ONNX uses torch's TorchScript-based exporter (``dynamo=False``, opset 17): it writes one
  self-contained file (the dynamo exporter splits weights into external data) and needs only
  ``onnx``; onnxruntime's CPU logits within 1e-4 of eager, measured against the logit scale
  (plus 1e-3 relative per element: the calibrated random nets amplify float32 round-off), and
  the exported graph of a temporal model (shift, non-local, 3D convs) still depends on the
  order of the frames.
- MobileOne's deploy form (``reparameterize()``) goes through both, as ``tsm_mobileone_s4-deploy``.
"""
from __future__ import annotations

import copy
import functools
import io
import warnings

import numpy as np
import pytest
import torch
from timm.models.byobnet import MobileOneBlock
from torch import nn

import videozoo
from videozoo.models.layers import TemporalShift

pytestmark = pytest.mark.slow  # every case exports or compiles a whole network: 10 s to minutes

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

T = 8
DEPLOY = "tsm_mobileone_s4-deploy"
CASES = videozoo.list_architectures() + [DEPLOY]


def frame_size(arch: str) -> int:
    if "swin" in arch:  # its native size: at 32x32 timm pads the 7x7 windows, which the
        return 224      # traced graph does not reproduce exactly (5e-3 relative)
    return 64 if arch.startswith("tpn_") else 32


def video(arch: str, in_chans: int, seed: int = 0) -> torch.Tensor:
    s = frame_size(arch)
    return torch.randn(1, in_chans, T, s, s, generator=torch.Generator().manual_seed(seed))


@functools.cache
def model_for(case: str) -> nn.Module:
    """An eval-mode model whose every branch carries signal: BatchNorm statistics calibrated on
    random video, affines moved off their init (zero-init residual BNs and ConvNeXt's 1e-6 layer
    scale would otherwise hide the shift). MobileOne keeps its unit statistics: calibrated, its
    random blocks (no residual, SE at 2x2 maps) lose the input's signal."""
    arch = case.removesuffix("-deploy")
    model = videozoo.create_model(arch, num_classes=5)
    g = torch.Generator().manual_seed(0)
    multi_branch = [m for m in model.modules() if isinstance(m, MobileOneBlock)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if not multi_branch:
                    m.reset_running_stats()
                    m.momentum = None
                m.weight.copy_(1 + torch.randn(m.weight.shape, generator=g) * 0.1)
                m.bias.add_(torch.randn(m.bias.shape, generator=g) * 0.1)
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.fill_(1.0)
        if not multi_branch:
            model.train()(video(arch, model.in_chans, seed=5))
    model.eval()
    if case.endswith("-deploy"):
        model.reparameterize()
        assert model.deploy
    return model


def is_temporal(model: nn.Module) -> bool:
    """Does the output depend on frame order (shift, non-local, 3D convs)?"""
    return model.is_3d or any(isinstance(m, TemporalShift) for m in model.modules()) \
        or "nl_" in model.pretrained_cfg.get("architecture", "")


def export_onnx(model: nn.Module, x: torch.Tensor) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings / exporter deprecation notes
        torch.onnx.export(model, (x,), f, dynamo=False, opset_version=17,
                          input_names=["video"], output_names=["logits"],
                          dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}})
    return f.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_onnx_matches_eager_and_keeps_frame_order(case):
    model = model_for(case)
    arch = case.removesuffix("-deploy")
    x = video(arch, model.in_chans)
    x2 = torch.cat([x, x.flip(2)])  # the same clip, then its frames reversed
    with torch.no_grad():
        ref = model(x2).numpy()
    data = export_onnx(model, x)
    onnx.checker.check_model(onnx.load_from_string(data))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"video": x2.numpy()})[0]
    # Calibrated random nets are ill-conditioned (EfficientNet: float32 noise reaches ~3e-4 of
    # the logit scale); trained weights agree to ~1e-7. MobileOne's random logits reach ~1e3.
    scale = max(1.0, float(np.abs(ref).max()))
    print(f"{case}: onnxruntime max |diff| / scale = {np.abs(out - ref).max() / scale:.2e}")
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * scale)
    if is_temporal(model):  # the exported graph still looks at the order of the frames
        gap = np.abs(out[0] - out[1]).max()
        assert gap > 1e-2 * np.abs(out).max(), f"frame order lost in ONNX ({gap})"


# Residual 2D with the shift (ResNet), inverted residuals (MobileNetV2), reparameterised MobileOne.
INDUCTOR_CASES = ["tsm_r50", "tsm_mobilenetv2", DEPLOY]


@pytest.mark.parametrize("backend,case", [("aot_eager", c) for c in CASES]
                         + [("inductor", c) for c in INDUCTOR_CASES])
def test_torch_compile_matches_eager(backend, case):
    # float64: the compiled graph must compute the eager function, not just come close in
    # float32, where inductor's reordered reductions differ by ~4e-5 relative on TPN
    torch._dynamo.reset()
    model = copy.deepcopy(model_for(case)).double()
    x = video(case.removesuffix("-deploy"), model.in_chans).double()
    x2 = torch.cat([x, x.flip(2)])
    with torch.no_grad():
        ref = model(x2)
        out = torch.compile(model, backend=backend, fullgraph=False)(x2)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    if is_temporal(model):
        assert (out[0] - out[1]).abs().max() > 1e-2 * out.abs().max()
