"""Data pipeline throughput and memory, against a decode-everything baseline in the same run.

For the test protocols TSN 25 clips x TenCrop, TSM 8 segments x TenCrop and TSM "efficient"
(8 segments x CenterCrop), one worker (one process, 1 torch / OpenCV thread, as in a DataLoader
worker) turns mp4 files into model-ready views:

* ``videozoo``: ``create_transform(cfg)(path)``: the default decoder (frames found by timestamp,
  seeking to the nearest keyframe, unwanted non-reference frames not decoded), cv2 resize, crops,
  views, normalise;
* ``mmaction2_compatible``: the same with decord's ``get_batch`` of the sampled frames, as
  MMAction2 calls it (``open_video(path, mmaction2_compatible=True)``);
* ``baseline``: decode every frame of the video (``get_batch(range(len))``), pick the sampled
  ones, then the same resize/crop/views.

The videos are H.264 with 3 B-frames between references and a keyframe every 250 frames.

Each (protocol, method) runs in a fresh process so its peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss``) is its own. Also measured: the resize backends (cv2, the
bit-exact torch port, ``F.interpolate``) and JPEG decoding with cv2 vs PIL.

    python benchmarks/data.py [--videos 3] [--frames 300] [--repeats 2]

Writes ``$TMPDIR/videozoo-benchmarks/data.json`` unless ``--out``. Figures are
machine-dependent; compare ratios.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(tempfile.gettempdir()) / "videozoo-benchmarks" / "data.json"
GOP250 = {"x264-params": "bframes=3:b-adapt=0:keyint=250"}


def _protocols():
    from videozoo.data import resolve_data_config

    tsn = resolve_data_config("tsn_r50")  # 25 clips x TenCrop 224: one view of 250 frames
    tsm = resolve_data_config("tsm_r50")  # 8 segments x TenCrop 224: 10 views
    return {
        "tsn_25x10": tsn,
        "tsm_8x10": tsm,
        "tsm_efficient_1x1": tsm.replace(crop="center", protocol="efficient"),
    }


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process from /proc, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _worker(args):
    """One DataLoader-like worker: process every video `repeats` times with one method."""
    protocol, method, paths, repeats, queue = args
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from videozoo.data import create_transform, make_views, open_video

    cfg = _protocols()[protocol]
    transform = create_transform(cfg)

    def run_once(path):
        if method == "videozoo":
            return transform(path)
        if method == "mmaction2_compatible":
            with open_video(path, mmaction2_compatible=True) as dec:
                return make_views(dec.get_frames(transform.sample(len(dec))), cfg)
        with open_video(path, mmaction2_compatible=True) as dec:
            every = dec.get_frames(np.arange(len(dec)))  # decode everything, then pick
            idx = transform.sample(len(dec))
            return make_views(every[idx], cfg)

    out = run_once(paths[0])  # warm-up (imports, caches)
    del out
    reset = _reset_peak()
    rss_ready = _status_mb("VmRSS")
    t0 = time.perf_counter()
    n = 0
    for _ in range(repeats):
        for p in paths:
            out = run_once(p)
            n += 1
    elapsed = time.perf_counter() - t0
    queue.put({"protocol": protocol, "method": method, "videos": n, "seconds": elapsed,
               "videos_per_s": n / elapsed, "views_shape": list(out.shape),
               "rss_before_mb": rss_ready,
               # VmHWM after a reset: the peak while processing (ru_maxrss would include the
               # parent's memory at fork time)
               "peak_rss_mb": _status_mb("VmHWM") if reset else
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "peak_rss_above_start_mb": (_status_mb("VmHWM") if reset else float("nan"))
               - rss_ready})


def bench_pipelines(paths, repeats):
    ctx = mp.get_context("spawn")
    results = []
    for protocol in _protocols():
        for method in ("baseline", "mmaction2_compatible", "videozoo"):
            q = ctx.Queue()
            p = ctx.Process(target=_worker, args=((protocol, method, paths, repeats, q),))
            p.start()
            res = q.get()
            p.join()
            results.append(res)
            print(f"{protocol:18s} {method:20s} {res['videos_per_s']:6.2f} videos/s  "
                  f"peak RSS {res['peak_rss_mb']:7.1f} MB (+{res['peak_rss_above_start_mb']:.1f}"
                  f" MB while working)  views {tuple(res['views_shape'])}", flush=True)
    summary = {}
    for protocol in _protocols():
        base, compat, ours = (next(r for r in results if r["protocol"] == protocol
                                   and r["method"] == m)
                              for m in ("baseline", "mmaction2_compatible", "videozoo"))
        summary[protocol] = {
            "speedup_vs_decode_all": ours["videos_per_s"] / base["videos_per_s"],
            "speedup_vs_mmaction2_decoding": ours["videos_per_s"] / compat["videos_per_s"],
            "peak_rss_ratio_vs_decode_all": ours["peak_rss_mb"] / base["peak_rss_mb"],
            "working_memory_ratio_vs_decode_all":
                ours["peak_rss_above_start_mb"] / base["peak_rss_above_start_mb"],
        }
    return results, summary


def bench_resize(frames, repeats=3):
    """cv2 vs the torch port vs F.interpolate, timing and pixel agreement (CPU, 1 thread)."""
    import torch

    from videozoo.data import resize_frames, resize_shape

    torch.set_num_threads(1)
    import cv2

    cv2.setNumThreads(1)
    x = torch.from_numpy(frames)
    size = resize_shape(x.shape[1], x.shape[2], (-1, 256))
    out = {"input": list(x.shape), "output_hw": list(size)}
    ref = resize_frames(x, size, "cv2")
    for backend in ("cv2", "torch", "interpolate"):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            y = resize_frames(x, size, backend)
            times.append(time.perf_counter() - t0)
        d = (y.int() - ref.int()).abs()
        out[backend] = {"ms_per_frame": 1e3 * min(times) / x.shape[0],
                        "max_abs_diff_vs_cv2": int(d.max()),
                        "fraction_values_differing_vs_cv2": float((d > 0).float().mean())}
    return out


def bench_jpeg(frames, tmp):
    """cv2.imdecode (MMAction2's decoder) vs PIL on the same JPEG files."""
    import cv2
    from PIL import Image

    from videozoo.data.synthetic import write_frame_folder

    folder = write_frame_folder(Path(tmp) / "jpeg", frames)
    files = sorted(Path(folder).glob("*.jpg"))
    t0 = time.perf_counter()
    a = [cv2.cvtColor(cv2.imdecode(np.fromfile(f, np.uint8), cv2.IMREAD_COLOR),
                      cv2.COLOR_BGR2RGB) for f in files]
    t_cv2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    t_pil = time.perf_counter() - t0
    d = np.abs(np.stack(a).astype(int) - np.stack(b))
    return {"frames": len(files), "cv2_ms_per_frame": 1e3 * t_cv2 / len(files),
            "pil_ms_per_frame": 1e3 * t_pil / len(files), "max_abs_diff": int(d.max()),
            "fraction_values_differing": float((d > 0).mean())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--frames", type=int, default=300, help="frames per video (Kinetics: ~300)")
    ap.add_argument("--size", type=int, nargs=2, default=(256, 340), metavar=("H", "W"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)

    from videozoo.data import open_video
    from videozoo.data.synthetic import numbered_frames, write_video

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = [write_video(os.path.join(tmp, f"v{i}.mp4"),
                             numbered_frames(args.frames, tuple(args.size), seed=i), fps=30,
                             codec="libx264", options=GOP250) for i in range(args.videos)]
        print(f"wrote {len(paths)} videos of {args.frames} frames at {args.size[0]}x"
              f"{args.size[1]} in {time.perf_counter() - t0:.1f}s", flush=True)
        pipelines, summary = bench_pipelines(paths, args.repeats)
        import cv2

        with open_video(paths[0]) as dec:  # 320x240 frames, resized to short side 256
            sample = np.stack([cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA)
                               for f in dec.get_frames(np.arange(16))])
        resize = bench_resize(sample)
        jpeg = bench_jpeg(sample, tmp)

    for k, v in summary.items():
        print(f"{k:18s} speed-up {v['speedup_vs_decode_all']:.2f}x over decode-everything, "
              f"{v['speedup_vs_mmaction2_decoding']:.2f}x over decord get_batch; peak memory "
              f"{v['peak_rss_ratio_vs_decode_all']:.2f}x (working memory "
              f"{v['working_memory_ratio_vs_decode_all']:.2f}x) of decode-everything")
    for b in ("cv2", "torch", "interpolate"):
        r = resize[b]
        print(f"resize {b:11s} {r['ms_per_frame']:7.2f} ms/frame  max diff {r['max_abs_diff_vs_cv2']}"
              f"  differing {100 * r['fraction_values_differing_vs_cv2']:.1f}%")
    print(f"jpeg: cv2 {jpeg['cv2_ms_per_frame']:.2f} ms/frame, PIL {jpeg['pil_ms_per_frame']:.2f} "
          f"ms/frame, max diff {jpeg['max_abs_diff']}, differing "
          f"{100 * jpeg['fraction_values_differing']:.1f}%")

    import decord
    import torch

    report = {
        "benchmark": "data pipeline: videos/s per worker vs decode-everything baseline",
        "settings": vars(args),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": os.cpu_count(), "torch": torch.__version__,
                    "opencv": cv2.__version__, "decord": decord.__version__},
        "pipelines": pipelines,
        "summary": summary,
        "resize_backends": resize,
        "jpeg_decoders": jpeg,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
