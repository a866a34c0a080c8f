"""Export of every architecture: torch.compile and ONNX (onnxruntime parity), random weights.

- ``torch.compile`` uses the default **inductor** backend (it compiles on this CPU machine with
  the system C++ compiler); outputs within 1e-5 of eager (same scaling). Compilation takes minutes per model
  on 2 cores, so every compile case is marked slow.
- ONNX uses torch's TorchScript-based exporter (``dynamo=False``, opset 17): it writes one
  self-contained file (the dynamo exporter splits weights into external data) and needs only
  ``onnx``; onnxruntime's CPU logits within 1e-4 of eager (relative to the logit
  scale when it exceeds 1), and the exported graph of a temporal
  model (shift, non-local, 3D convs) still depends on the order of the frames.
- MobileOne's deploy form (``reparameterize()``) goes through both, as ``tsm_mobileone_s4-deploy``.
"""
from __future__ import annotations

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

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

T = 8
DEPLOY = "tsm_mobileone_s4-deploy"
HEAVY = ("tpn_", "_r101", "_nl_")  # ONNX export takes more than a few seconds on 2 cores
CASES = videozoo.list_architectures() + [DEPLOY]


def frame_size(arch: str) -> int:
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


def params(cases: list[str], heavy: tuple[str, ...] = HEAVY) -> list:
    return [pytest.param(c, marks=pytest.mark.slow) if any(h in c for h in heavy) else c
            for c in cases]


def export_onnx(model: nn.Module, x: torch.Tensor) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings / exporter deprecation notes
        torch.onnx.export(model, (x,), f, dynamo=False, opset_version=17,
                          input_names=["video"], output_names=["logits"],
                          dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}})
    return f.getvalue()


@pytest.mark.parametrize("case", params(CASES))
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
    scale = max(1.0, float(np.abs(ref).max()))  # random MobileOne logits reach ~1e3
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * scale)
    if is_temporal(model):  # the exported graph still looks at the order of the frames
        gap = np.abs(out[0] - out[1]).max()
        assert gap > 1e-2 * np.abs(out).max(), f"frame order lost in ONNX ({gap})"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_torch_compile_inductor_matches_eager(case):
    model = model_for(case)
    x = video(case.removesuffix("-deploy"), model.in_chans)
    x2 = torch.cat([x, x.flip(2)])
    with torch.no_grad():
        ref = model(x2)
        out = torch.compile(model, backend="inductor", fullgraph=False)(x2)
    scale = max(1.0, ref.abs().max().item())
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5 * scale)
    if is_temporal(model):
        assert (out[0] - out[1]).abs().max() > 1e-2 * out.abs().max()
