"""Forward time of videozoo against MMAction2 1.2.0, side by side in one process, same weights.

For each case the MMAction2 model is built from its own config (shipped in the mmaction2
wheel), given seeded non-trivial BatchNorm statistics, and its state dict is loaded into the
videozoo model through the model's ``convert_mmaction_state_dict``. Outputs are compared first
(exact equality is reported, the run fails beyond 1e-4 of the logits' scale); then MMAction2,
videozoo and ``videozoo.optimize_for_inference(model)`` run in interleaved rounds, and the
ratios videozoo / MMAction2 (paired per round) are printed as min/median/max, at 1 and 2
threads.

    PYTHONPATH=. /path/to/mmaction2-1.2.0-venv/bin/python benchmarks/compare_mmaction2.py \
        [--cases tsm_r50,tsn_r50,tpn_slowonly_r50,tpn_tsm_r50] [--rounds 5] [--threads 1,2]

Where MMAction2 1.2.0 cannot be imported the script says so and exits 0 (nothing to compare).
With one thread the clock is process CPU time (robust to other processes on a shared machine);
with more threads it is wall time. Results: ``~/.cache/videozoo/benchmarks/compare_mmaction2.json``
(or ``--out``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    fmt,
    interleaved,
    machine_info,
    out_path,
    paired_ratios,
    summary,
    write_json,
)

# case -> (MMAction2 config under configs/recognition, videozoo arch, recognizer kind)
CASES = {
    "tsm_r50": ("tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
                "tsm_r50", "2d"),
    "tsn_r50": ("tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.py",
                "tsn_r50", "2d"),
    "tpn_slowonly_r50": (
        "tpn/tpn-slowonly_imagenet-pretrained-r50_8xb8-8x8x1-150e_kinetics400-rgb.py",
        "tpn_slowonly_r50", "3d"),
    "tpn_tsm_r50": ("tpn/tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb.py",
                    "tpn_tsm_r50", "2d"),
    "tsm_mobilenetv2": (
        "tsm/tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb.py",
        "tsm_mobilenetv2", "2d"),
}
DEFAULT_CASES = "tsm_r50,tsn_r50,tpn_slowonly_r50,tpn_tsm_r50"
TOLERANCE = 1e-4


def import_mmaction():
    """(MODELS registry, Config, configs folder) or None with the reason printed."""
    try:
        import mmaction
        from mmaction.registry import MODELS
        from mmaction.utils import register_all_modules
        from mmengine.config import Config
    except Exception as e:  # noqa: BLE001 - any import failure means: nothing to compare
        print(f"SKIP: MMAction2 is not importable here ({type(e).__name__}: {e}); run this "
              "with the python of an MMAction2 1.2.0 install (see ../shared/parity/SETUP.md)")
        return None
    if not mmaction.__version__.startswith("1.2"):
        print(f"SKIP: found MMAction2 {mmaction.__version__}, this comparison needs 1.2.x")
        return None
    register_all_modules()
    configs = Path(mmaction.__file__).parent / ".mim" / "configs" / "recognition"
    return MODELS, Config, configs


def seeded_bn_stats(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics, so folding them is really exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_((torch.rand(n, generator=g) - 0.5) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                    m.bias.copy_((torch.rand(n, generator=g) - 0.5) * 0.2)


def build_pair(case: str, mm_api):
    import videozoo

    models_reg, config_cls, configs = mm_api
    cfg_path, arch, kind = CASES[case]
    cfg = config_cls.fromfile(str(configs / cfg_path))
    mm = models_reg.build(cfg.model).eval()
    seeded_bn_stats(mm)
    num_classes = cfg.model.cls_head.num_classes
    vz = videozoo.create_model(arch, num_classes=num_classes).eval()
    vz.load_state_dict(vz.convert_mmaction_state_dict(mm.state_dict()), strict=True)
    return mm, vz, kind


def mm_forward(mm, kind: str):
    """MMAction2's test-time tensor path: extract_feat (backbone, neck) then the head."""
    def run(x: torch.Tensor) -> torch.Tensor:
        inputs = x.transpose(1, 2) if kind == "2d" else x.unsqueeze(1)
        feats, kwargs = mm.extract_feat(inputs, test_mode=True)
        return mm.cls_head(feats, **kwargs)
    return run


def compare_case(case: str, mm_api, threads: list[int], rounds: int, frames: int,
                 size: int) -> dict:
    import videozoo

    mm, vz, kind = build_pair(case, mm_api)
    fast = videozoo.optimize_for_inference(vz)
    torch.manual_seed(0)
    x = torch.randn(1, 3, frames, size, size)
    mm_fn = mm_forward(mm, kind)
    with torch.no_grad():
        ref, ours, opt = mm_fn(x), vz(x), fast(x)
    scale = ref.abs().max().item()
    check = {"equal": bool(torch.equal(ref, ours)),
             "max_abs_diff": (ref - ours).abs().max().item(),
             "optimized_max_abs_diff": (ref - opt).abs().max().item(), "logit_absmax": scale}
    print(f"{case}: default equal={check['equal']} max|diff|={check['max_abs_diff']:.2e}; "
          f"optimized max|diff|={check['optimized_max_abs_diff']:.2e} "
          f"(logits up to {scale:.2f})", flush=True)
    if check["max_abs_diff"] > TOLERANCE * max(scale, 1.0) or \
            check["optimized_max_abs_diff"] > TOLERANCE * max(scale, 1.0):
        raise SystemExit(f"{case}: outputs differ from MMAction2 beyond {TOLERANCE} "
                         "relative; timings would compare different computations")
    row = {"case": case, "input": list(x.shape), "check": check, "threads": {}}
    for n in threads:
        torch.set_num_threads(n)
        clock = time.process_time if n == 1 else time.perf_counter
        with torch.no_grad():
            t = interleaved({"mmaction2": lambda: mm_fn(x), "videozoo": lambda: vz(x),
                             "optimized": lambda: fast(x)}, rounds, clock=clock)
        res = {"clock": "cpu" if n == 1 else "wall", "loadavg": os.getloadavg()[0],
               "seconds": {k: summary(v) for k, v in t.items()},
               "ratio_videozoo": paired_ratios(t["videozoo"], t["mmaction2"]),
               "ratio_optimized": paired_ratios(t["optimized"], t["mmaction2"])}
        row["threads"][str(n)] = res
        s = res["seconds"]
        print(f"  {n} thread(s), {res['clock']} s min/med/max: MMAction2 "
              f"{fmt(s['mmaction2'])}, videozoo {fmt(s['videozoo'])}, optimized "
              f"{fmt(s['optimized'])} | ratio videozoo/MMAction2 "
              f"{fmt(res['ratio_videozoo'])}, optimized/MMAction2 "
              f"{fmt(res['ratio_optimized'])} (load {res['loadavg']:.1f})", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=DEFAULT_CASES,
                    help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", default=None, help="result file or folder (default: outside "
                    "the checkout, ~/.cache/videozoo/benchmarks)")
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    threads = [int(n) for n in args.threads.split(",") if n]
    mm_api = import_mmaction()
    if mm_api is None:
        return 0
    print(f"torch {torch.__version__}, {os.cpu_count()} cpus, load "
          f"{os.getloadavg()[0]:.1f}; {args.rounds} interleaved rounds; B=1, "
          f"T={args.frames}, {args.size}x{args.size}")
    rows = [compare_case(c, mm_api, threads, args.rounds, args.frames, args.size)
            for c in cases]
    print("\nsummary: median time ratio vs MMAction2 1.2.0 (min/median/max of paired rounds)")
    for row in rows:
        for n, res in row["threads"].items():
            print(f"  {row['case']:18s} {n} thr  videozoo {fmt(res['ratio_videozoo'])}  "
                  f"optimize_for_inference {fmt(res['ratio_optimized'])}")
    path = write_json(out_path(args.out, "compare_mmaction2.json"),
                      {"machine": machine_info(), "rounds": args.rounds, "cases": rows})
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
