"""Write tests/fixtures/mmaction2_1x/*.json: MMAction2 1.2.0 logits of the 3rd-party-backbone TSNs.

Runs only in an MMAction2 1.2.0 venv (see ../shared/parity/SETUP.md), never as part of videozoo:

    /path/to/mma12/bin/python tools/make_goldens_1x.py [--check]

For each case it builds the model from its real 1.x config (read from the wheel's own
``mmaction/.mim/configs``), fills the weights with the recipe of
``tests/fixtures/mmaction2_1x/recipe.py`` (BatchNorm scales calibrated in one forward pass), and
records ``cls_head(extract_feat(x, test_mode=True))`` for a seeded input. The fixture keeps only
the key set's hash, the scales, the seeds and the logits (a few KB), never the weights.
``--check`` also loads the same checkpoint into videozoo (PYTHONPATH=the checkout) and prints
the max difference.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import os.path as osp
import sys
import tempfile
import zlib

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FIXTURES = osp.join(ROOT, "tests", "fixtures", "mmaction2_1x")
sys.path.insert(0, FIXTURES)
import recipe  # noqa: E402

CFG = "recognition/tsn/custom_backbones/"


def _swap_backbone(cfg, **changes):
    bb = cfg.model.backbone
    for k, v in changes.items():
        if v is None:
            bb.pop(k, None)
        else:
            bb[k] = v


# case -> (arch, create kwargs, config, input (B, C, T, H, W), backbone edits, what was edited)
CASES = {
    "tsn_resnext101_32x4d": (
        "tsn_resnext101_32x4d", {}, CFG + "tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_"
        "kinetics400-rgb.py", (1, 3, 3, 64, 64), {"type": "mmpretrain.ResNeXt", "init_cfg": None},
        "backbone type mmcls.ResNeXt -> mmpretrain.ResNeXt (mmcls is not installable beside "
        "mmaction2 1.2.0; mmpretrain is its renamed successor with the same ResNeXt); no init_cfg"),
    "tsn_densenet161": (
        "tsn_densenet161", {}, CFG + "tsn_imagenet-pretrained-dense161_8xb32-1x1x3-100e_"
        "kinetics400-rgb.py", (1, 3, 3, 64, 64), {"pretrained": None}, "pretrained=True dropped"),
    "tsn_swin_base_patch4_window7_224": (
        "tsn_swin_base_patch4_window7_224", {}, CFG + "tsn_imagenet-pretrained-swin-transformer_"
        "8xb32-1x1x3-100e_kinetics400-rgb.py", (1, 3, 2, 224, 224), {"pretrained": False},
        "pretrained=True -> False"),
    "tsn_mobileone_s4": (
        "tsn_mobileone_s4", {}, CFG + "tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_"
        "kinetics400-rgb.py", (1, 3, 3, 64, 64), {"init_cfg": None}, "no init_cfg"),
    "tsn_r50_sthv2": (
        "tsn_r50", {"num_classes": 174}, "recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-"
        "1x1x8-50e_sthv2-rgb.py", (1, 3, 4, 64, 64), {"pretrained": None},
        "pretrained (torchvision ResNet-50 URL) dropped"),
    "tsn_mobileone_s4_deploy": (
        "tsn_mobileone_s4", {"deploy": True}, CFG + "tsn_imagenet-pretrained-mobileone-s4_deploy_"
        "8xb32-1x1x8-100e_kinetics400-rgb.py", (1, 3, 3, 64, 64), {"init_cfg": None},
        "no init_cfg"),
}


def config_root() -> str:
    import mmaction
    return osp.join(osp.dirname(mmaction.__file__), ".mim", "configs")


def build_mm(config: str, edits: dict):
    from mmaction.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(config_root(), config))
    _swap_backbone(cfg, **edits)
    model = MODELS.build(copy.deepcopy(cfg.model))
    return model.eval(), cfg


def mm_logits(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        feats, kwargs = model.extract_feat(x.permute(0, 2, 1, 3, 4).contiguous(), test_mode=True)
        return model.cls_head(feats, **kwargs)


def calibrate(model, shapes: dict, x: torch.Tensor) -> dict:
    """One forward pass; each BatchNorm's running stats are rescaled (before it runs) so that it
    sees its input's RMS / 0.5. Returns {module: c} rounded to 6 significant digits."""
    model.load_state_dict(recipe.build_state_dict(shapes, {}), strict=True)
    scales, hooks = {}, []

    def hook(name):
        def pre(mod, args):
            c = float(f"{float(args[0].double().pow(2).mean().sqrt()) / 0.5:.6g}")
            scales[name] = c
            mod.running_mean.mul_(c)
            mod.running_var.mul_(c * c)
        return pre

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            hooks.append(mod.register_forward_pre_hook(hook(name)))
    mm_logits(model, x)
    for h in hooks:
        h.remove()
    return scales


def weights_digest(sd) -> str:
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].numpy().tobytes())
    return h.hexdigest()


def make_case(name: str, check: bool) -> dict:
    arch, kwargs, config, shape, edits, edited = CASES[name]
    model, _ = build_mm(config, edits)
    sd0 = model.state_dict()
    shapes = {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in sd0.items()}
    seed = zlib.crc32(name.encode()) & 0xFFFFFFFF
    x = recipe.make_input(seed, shape)
    scales = calibrate(model, shapes, x)
    norms = recipe.norm_modules(shapes)
    scale_list = [scales.get(n, 1.0) for n in norms]
    sd = recipe.build_state_dict(shapes, dict(zip(norms, scale_list)))
    model.load_state_dict(sd, strict=True)
    logits = mm_logits(model, x)
    again = mm_logits(model, x)
    case = {
        "case": name, "arch": arch, "create_kwargs": kwargs, "mm_config": config,
        "mm_config_edits": edited, "input": {"seed": seed, "shape": list(shape),
                                             "layout": "B,C,T,H,W"},
        "num_keys": len(sd), "keys_sha256": recipe.keys_digest(sd0),
        "norm_scales": scale_list, "weights_sha256": weights_digest(sd),
        "logits": [[float(f"{v:.8g}") for v in row] for row in logits.tolist()],
        "rerun_max_abs_diff": float((logits - again).abs().max()),
    }
    if check:
        sys.path.insert(0, ROOT)
        import videozoo
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, "ckpt.pth")
            torch.save({"state_dict": sd, "meta": {}}, path)
            ours = videozoo.create_model(arch, checkpoint_path=path, **kwargs).eval()
            with torch.no_grad():
                got = ours(x)
        case["videozoo_max_abs_diff"] = float((got - logits).abs().max())
    return case


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", default=list(CASES))
    p.add_argument("--check", action="store_true", help="also compare videozoo's logits")
    args = p.parse_args()
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    from mmaction.utils import register_all_modules
    register_all_modules()
    import mmaction
    import mmengine
    import mmpretrain
    import timm
    import torchvision
    versions = {"mmaction": mmaction.__version__, "mmengine": mmengine.__version__,
                "mmpretrain": mmpretrain.__version__, "timm": timm.__version__,
                "torch": torch.__version__, "torchvision": torchvision.__version__,
                "numpy": np.__version__}
    for name in args.cases:
        case = make_case(name, args.check)
        case["versions"] = versions
        with open(osp.join(FIXTURES, f"{name}.json"), "w") as f:
            json.dump(case, f, indent=1)
            f.write("\n")
        print(name, {k: case[k] for k in ("num_keys", "rerun_max_abs_diff")},
              case.get("videozoo_max_abs_diff"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
