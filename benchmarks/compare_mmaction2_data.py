"""Data path per worker, videozoo vs MMAction2 1.2.0 on the same H.264 file (B-frames, GOP 250).

For two test protocols, one process, one thread (torch, OpenCV, FFmpeg):

* ``tsm_8x1_center``: TSM 8 segments x CenterCrop 224 (MMAction2: DecordInit, SampleFrames(1, 1,
  8, test_mode), DecordDecode, Resize((-1, 256)), CenterCrop(224), FormatShape('NCHW'));
* ``tsn_25x10``: TSN 25 clips x TenCrop 224 (the same with 25 clips and TenCrop).

Both sides hand over what a DataLoader worker hands to the device: uint8 frames in the model's
layout (MMAction2 normalises in its data preprocessor, on the device; videozoo's
``make_views(..., normalize=False)`` stops at the same point). The outputs are compared first
(bit for bit); then rounds alternate between the two, and min/median/max per video and the time
ratio videozoo / MMAction2 are reported (target: <= 0.5), with the CPU-time ratio (steadier on a
busy machine). ``--b-pyramid none`` encodes every B-frame as a non-reference frame (as many
encoders do), ``normal`` (default, x264's) makes one in three a reference; videozoo's gain is
the B-frames it need not decode. Also timed: decoding only the pictures H.264 needs for the
sampled frames, nothing else (the floor for any exact decoder of the file). Measured on an idle
2-core machine, 10 rounds, median of per-round ratios: b-pyramid normal 0.61 (TSM) / 0.51
(TSN), floor 0.47 / 0.31; none 0.47 / 0.43, floor 0.35 / 0.23. TSM 8x1 is decode-bound: with
x264's reference B-frames the pictures it must decode alone take 0.47 of MMAction2's time. A
second file with open GOPs shows what each returns there (frame numbers are written into the
pictures).

Runs where MMAction2 1.2.0 is importable, e.g.
``PYTHONPATH=. /work/venv-mma12/bin/python benchmarks/compare_mmaction2_data.py``; skips with a
message (exit 0) elsewhere. Results go to ``$TMPDIR/videozoo-benchmarks/`` unless ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(tempfile.gettempdir()) / "videozoo-benchmarks" / "compare_mmaction2_data.json"
# 3 B-frames between references throughout (b-adapt=0; x264 would otherwise pick fewer on this
# easy synthetic motion), a keyframe every 250 frames (x264's default)
GOP250 = "bframes=3:b-adapt=0:keyint=250:b-pyramid={}"
OPEN_GOP = {"x264-params": "open_gop=1:bframes=3:keyint=32:min-keyint=32:scenecut=0"}


def _mmaction2():
    try:
        import mmaction
        from mmaction.datasets import transforms as T
    except Exception as e:  # not installed, or a broken install
        return None, f"MMAction2 is not importable here ({type(e).__name__}: {e})"
    if not mmaction.__version__.startswith("1.2"):
        return None, f"MMAction2 {mmaction.__version__} found, this compares with 1.2.x"
    return T, mmaction.__version__


def _mma_pipeline(T, protocol):
    clips, crop = {"tsm_8x1_center": (8, T.CenterCrop(crop_size=224)),
                   "tsn_25x10": (25, T.TenCrop(crop_size=224))}[protocol]
    steps = [T.DecordInit(), T.SampleFrames(clip_len=1, frame_interval=1, num_clips=clips,
                                            test_mode=True),
             T.DecordDecode(), T.Resize(scale=(-1, 256)), crop, T.FormatShape(input_format="NCHW")]

    def run(path):
        results = {"filename": path, "label": -1, "start_index": 0, "modality": "RGB"}
        for step in steps:
            results = step(results)
        return results["imgs"], results["frame_inds"]

    return run


def _videozoo_pipeline(protocol, num_threads=1):
    import torch

    from videozoo.data import create_transform, frame_index, make_views, resolve_data_config

    cfg = resolve_data_config("tsm_r50").replace(crop="center") if protocol == "tsm_8x1_center" \
        else resolve_data_config("tsn_r50")
    transform = create_transform(cfg)

    def run(path):
        frame_index.clear_cache()  # each video is new to an evaluation
        with transform.open(path, num_threads=num_threads) as dec:
            inds = transform.sample(len(dec))
            frames = dec.get_frames(inds)
        return make_views(frames, cfg, normalize=False), inds  # (V, C, T, h, w) uint8

    torch.set_num_threads(1)
    return run


def _decode_floor(path, inds):
    """Seconds to decode just the pictures H.264 needs for ``inds`` (from their keyframes,
    non-reference pictures nobody wants skipped) and nothing else: no RGB conversion, no
    views, the stream index already built. No exact decoder of this file can do less."""
    import av

    from videozoo.data import frame_index

    with av.open(path) as container:
        index = frame_index.probe_stream(path, container)
        start = time.perf_counter()
        frame_index.decode_frames(container, index, np.asarray(inds), to_rgb=lambda f: None)
        return time.perf_counter() - start


def _write_video(path, frames, options, size=(256, 340)):
    from videozoo.data.synthetic import numbered_frames, write_video

    return write_video(path, numbered_frames(frames, size), fps=30, codec="libx264",
                       options=options)


def _stats(times):
    ms = [1e3 * t for t in times]
    return {"min_ms": min(ms), "median_ms": statistics.median(ms), "max_ms": max(ms)}


def compare(T, path, protocol, rounds, threads=1):
    mma, ours = _mma_pipeline(T, protocol), _videozoo_pipeline(protocol, threads)
    a, a_inds = mma(path)
    b, b_inds = ours(path)
    v, c, t, h, w = b.shape  # -> MMAction2's layout, (crops x clips, C, h, w)
    b = b.permute(0, 2, 1, 3, 4).reshape(v * t, c, h, w)
    same = a.shape == tuple(b.shape) and np.array_equal(a, b.numpy())
    if not same:
        raise SystemExit(f"{protocol}: outputs differ (MMAction2 {a.shape}, videozoo "
                         f"{tuple(b.shape)}); timing would compare different work")
    times = {"mmaction2": [], "videozoo": []}
    cpu = {"mmaction2": [], "videozoo": []}
    for r in range(rounds):
        order = ("mmaction2", "videozoo") if r % 2 == 0 else ("videozoo", "mmaction2")
        for name in order:
            fn = mma if name == "mmaction2" else ours
            c0, t0 = time.process_time(), time.perf_counter()
            fn(path)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    floor = [_decode_floor(path, b_inds) for _ in range(rounds)]
    res = {k: _stats(v) for k, v in times.items()}
    res["decode_floor"] = _stats(floor)
    res["decode_floor"]["ratio_to_mmaction2"] = (res["decode_floor"]["median_ms"]
                                                 / res["mmaction2"]["median_ms"])
    res["cpu"] = {k: _stats(v) for k, v in cpu.items()}
    res["cpu"]["median_ratio"] = (res["cpu"]["videozoo"]["median_ms"]
                                  / res["cpu"]["mmaction2"]["median_ms"])
    ratio = {f"{s}_ratio": res["videozoo"][f"{s}_ms"] / res["mmaction2"][f"{s}_ms"]
             for s in ("min", "median", "max")}
    per_round = [v / m for v, m in zip(times["videozoo"], times["mmaction2"])]
    ratio.update(round_ratio_min=min(per_round), round_ratio_median=statistics.median(per_round),
                 round_ratio_max=max(per_round))
    return {"protocol": protocol, "videozoo_ffmpeg_threads": threads, "outputs_identical": True,
            "output_shape": list(a.shape),
            **res, **ratio}


def open_gop_frames(T, path):
    """Which frames each side returns from an open-GOP file (numbers read off the pictures)."""
    from videozoo.data import open_video
    from videozoo.data.synthetic import read_frame_number

    asked = [30, 33, 40, 53, 63, 96]  # sorted, as SampleFrames gives them
    mma = T.DecordDecode()(T.DecordInit()({"filename": path, "frame_inds": np.array(asked),
                                           "modality": "RGB"}))["imgs"]
    with open_video(path) as dec:
        ours = dec.get_frames(asked)
    with open_video(path, mmaction2_compatible=True) as dec:
        compat = dec.get_frames(asked)
    return {"asked": asked, "mmaction2": [read_frame_number(f) for f in mma],
            "videozoo": [read_frame_number(f) for f in ours],
            "videozoo_mmaction2_compatible": [read_frame_number(f) for f in compat]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=300, help="frames in the test video (~10 s)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--protocols", nargs="+", default=["tsm_8x1_center", "tsn_25x10"],
                    choices=["tsm_8x1_center", "tsn_25x10"])
    ap.add_argument("--b-pyramid", default="normal", choices=["normal", "none"],
                    help="x264 b-pyramid: 'normal' makes one B-frame in three a reference, "
                         "'none' none (as many encoders do)")
    ap.add_argument("--threads", type=int, default=1,
                    help="FFmpeg threads of videozoo's decoder (MMAction2's decord uses 1)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    if args.frames < 25 or args.rounds < 1 or args.threads < 0:
        ap.error("--frames must be >= 25, --rounds >= 1 and --threads >= 0")
    T, version = _mmaction2()
    if T is None:
        print(f"skipped: {version}")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    report = {"benchmark": "data path per worker, videozoo / MMAction2 time (uint8 model input)",
              "mmaction2": version, "settings": vars(args),
              "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                          "cpus": os.cpu_count()}, "results": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_video(os.path.join(tmp, "gop250.mp4"), args.frames,
                            {"x264-params": GOP250.format(args.b_pyramid)})
        for protocol in args.protocols:
            res = compare(T, path, protocol, args.rounds, args.threads)
            report["results"].append(res)
            print(f"{protocol:15s} MMAction2 {res['mmaction2']['median_ms']:7.1f} ms "
                  f"(min {res['mmaction2']['min_ms']:.1f}, max {res['mmaction2']['max_ms']:.1f})"
                  f"  videozoo {res['videozoo']['median_ms']:7.1f} ms (min "
                  f"{res['videozoo']['min_ms']:.1f}, max {res['videozoo']['max_ms']:.1f})  "
                  f"ratio per round min/median/max {res['round_ratio_min']:.2f}/"
                  f"{res['round_ratio_median']:.2f}/{res['round_ratio_max']:.2f} "
                  f"(target <= 0.5); CPU time ratio {res['cpu']['median_ratio']:.2f}; "
                  f"decoding only the pictures needed: {res['decode_floor']['median_ms']:.1f} ms"
                  f" = {res['decode_floor']['ratio_to_mmaction2']:.2f} of MMAction2",
                  flush=True)
        gop = _write_video(os.path.join(tmp, "open_gop.mp4"), 120, OPEN_GOP, (96, 128))
        report["open_gop"] = open_gop_frames(T, gop)
        print(f"open GOP, frames asked {report['open_gop']['asked']}: MMAction2 returned "
              f"{report['open_gop']['mmaction2']}, videozoo {report['open_gop']['videozoo']} "
              f"(mmaction2_compatible=True: "
              f"{report['open_gop']['videozoo_mmaction2_compatible']})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
