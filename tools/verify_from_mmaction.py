"""Check ``videozoo.from_mmaction`` against MMAction2 itself on real configs (not part of the tests).

    PYTHONPATH=. OMP_NUM_THREADS=2 /work/venv-mma12/bin/python tools/verify_from_mmaction.py

For each config (the installed mmaction's shipped ``.mim/configs``) MMAction2 builds its model with
random weights and random BatchNorm statistics; the state dict is saved as a 1.x checkpoint; then
``videozoo.from_mmaction(config, checkpoint)`` builds videozoo's model from the same config file
(read without running it) and both score one random view. The data config is checked against the
config's test pipeline as mmengine parses it. Prints one line per config and the largest logit
difference.
"""
from __future__ import annotations

import os
import sys
import tempfile

import torch

CONFIGS = [
    "tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py",
    "tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
    "tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_kinetics400-rgb.py",
    "tsm/tsm_imagenet-pretrained-r50-nl-dot-product_8xb16-1x1x8-50e_kinetics400-rgb.py",
    "tsm/tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb.py",
    "tsm/tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb.py",
    "tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py",
    "tsn/tsn_imagenet-pretrained-r50_8xb32_5x1x3-110e_kinetics400-flow.py",
    "tpn/tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb.py",
    "tpn/tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb.py",
]


def _randomize(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.3 + 0.2)  # keeps activations O(1)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def check(path: str, tmp: str) -> float:
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    import videozoo

    register_all_modules()
    cfg = Config.fromfile(path)
    ref = MODELS.build(cfg.model)  # PyTorch's random init; init_weights would download weights
    _randomize(ref, 0)
    ref.eval()
    ckpt = os.path.join(tmp, "ckpt.pth")
    torch.save({"meta": {"cfg": cfg.pretty_text}, "state_dict": ref.state_dict()}, ckpt)

    model, data_cfg = videozoo.from_mmaction(path, ckpt)
    head = cfg.model.cls_head
    is_3d = cfg.model.type == "Recognizer3D"
    frames = data_cfg.clip_len if is_3d else (
        data_cfg.num_segments or cfg.model.backbone.get("num_segments", 3))
    chans = 3 if data_cfg.modality == "rgb" else 2 * data_cfg.clip_len
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, chans, frames, 64, 64, generator=g)  # videozoo: (B, C, T, H, W)
    # MMAction2: 2D (N, T, C, H, W), 3D (N, views, C, T, H, W); head output before view averaging
    inputs = x.unsqueeze(1) if is_3d else x.permute(0, 2, 1, 3, 4).contiguous()
    with torch.no_grad():
        got = model(x)
        want = ref.extract_feat(inputs, stage="head", test_mode=True)[0]
        if want.dim() > 2:  # Recognizer3D stops at the neck: apply its head as predict does
            want = ref.cls_head(want)
    if want.shape != got.shape:
        raise AssertionError(f"shapes differ: MMAction2 {tuple(want.shape)}, videozoo {tuple(got.shape)}")
    pipeline = cfg.test_dataloader.dataset.pipeline
    sampler = next(s for s in pipeline if "SampleFrames" in s["type"])
    assert data_cfg.num_clips == sampler["num_clips"], (data_cfg.num_clips, sampler)
    assert data_cfg.average == head.get("average_clips"), (data_cfg.average, head)
    if not torch.isfinite(want).all() or float(want.std()) == 0.0:
        raise AssertionError(f"degenerate reference logits (std {float(want.std()):.3g})")
    return float((want - got).abs().max() / want.abs().max())


def main() -> int:
    import mmaction

    root = os.path.join(os.path.dirname(mmaction.__file__), ".mim", "configs", "recognition")
    worst, failed = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for rel in CONFIGS:
            try:
                diff = check(os.path.join(root, rel), tmp)
            except Exception as e:  # report and go on
                failed += 1
                print(f"FAIL {rel}: {type(e).__name__}: {e}")
                continue
            worst = max(worst, diff)
            print(f"{'PASS' if diff < 1e-4 else 'FAIL'} {rel}: max |logit diff| / max |logit| {diff:.2e}")
            failed += not diff < 1e-4
    print(f"{len(CONFIGS) - failed}/{len(CONFIGS)} agree; largest difference {worst:.2e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
