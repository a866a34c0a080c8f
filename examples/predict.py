#!/usr/bin/env python
"""Classify videos with a zoo model, using the test protocol its table number was measured with.

The steps, in plain code: ``create_model`` -> ``resolve_data_config`` (the entry's sampling,
resize, crops) -> ``create_transform`` (a video file -> ``(V, C, T, H, W)`` float views) ->
the model on every view -> softmax averaged over the views -> the top classes, named by the
entry's label map (or ``--labels``).

    python examples/predict.py video1.mp4 video2.mp4 \\
        --model tsm_r50_1x1x8_50e_kinetics400_rgb --pretrained
    python examples/predict.py clip.mp4 --model tsm_r50_1x1x8_50e_kinetics400_rgb \\
        --checkpoint tsm_r50_1x1x8_50e_kinetics400_rgb_20200607-af7fb746.pth

WITHOUT VIDEOS it writes one synthetic video to a temporary directory and, unless given
--checkpoint / --pretrained, predicts with RANDOM weights: it shows the mechanics only, the
classes it prints mean nothing. ``--input-size 64`` shrinks the protocol for a quick CPU run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Optional

import torch

import videozoo
from videozoo.evaluation import video_probabilities


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="*", metavar="VIDEO",
                   help="video files (none: one synthetic video, see above)")
    p.add_argument("--model", default="tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb",
                   help="zoo entry or architecture (default: %(default)s)")
    p.add_argument("--pretrained", action="store_true", help="download the entry's weights")
    p.add_argument("--checkpoint", default=None, help="local .pth / .safetensors weights")
    p.add_argument("--num-classes", type=int, default=None,
                   help="class count of a fine-tuned --checkpoint (default: the file's)")
    p.add_argument("--labels", default=None, help="label map file, one class name per line")
    p.add_argument("--protocol", default=None, help="a test protocol of the entry")
    p.add_argument("--input-size", type=int, default=None,
                   help="resize short side and centre-crop to this size instead of the "
                        "protocol's crops (quick runs)")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--device", default=None, help="default: cuda when available")
    return p.parse_args(argv)


def class_names(model_name: str, labels: Optional[str], num_classes: int) -> list[str]:
    """``labels`` file, else the zoo entry's label map, else the class numbers."""
    names: list[str] = []
    try:
        names = videozoo.label_names(labels or model_name)
    except Exception as e:  # an architecture, no label map, offline...
        print(f"(no class names: {e})", file=sys.stderr)
    if names and len(names) != num_classes:
        print(f"(the label map has {len(names)} names for {num_classes} classes)",
              file=sys.stderr)
    return names + [f"class {i}" for i in range(len(names), num_classes)]


@torch.inference_mode()
def predict(model: torch.nn.Module, transform, video: str, device: torch.device,
            average: Optional[str]) -> torch.Tensor:
    """Class probabilities of one video: every view through the model, averaged as the
    protocol says (``videozoo.evaluation.video_probabilities``: softmax then mean, or the mean
    of the logits then softmax)."""
    views = transform(video).to(device)  # (V, C, T, H, W)
    return video_probabilities(model(views), 1, average)[0].cpu()


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from videozoo.evaluation.distributed import local_device

    videos = list(args.videos)
    tmp = None
    if not videos:
        from videozoo.data.synthetic import make_synthetic_video, write_video

        tmp = tempfile.TemporaryDirectory(prefix="videozoo-predict-")
        videos = [write_video(os.path.join(tmp.name, "synthetic.mp4"),
                              make_synthetic_video(0, 4, frames=32, size=(96, 128)))]
        print(f"no video given: using a synthetic one ({videos[0]})")
    if not args.checkpoint and not args.pretrained:
        print("no --checkpoint or --pretrained: RANDOM weights, the classes below mean nothing")
    missing = [v for v in videos if not os.path.exists(v)]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2

    device = local_device(args.device)
    model = videozoo.create_model(args.model, pretrained=args.pretrained,
                                  checkpoint_path=args.checkpoint,
                                  num_classes=args.num_classes).eval().to(device)
    cfg = videozoo.resolve_data_config(model, args.protocol)
    if cfg.decoder == "rawframes":  # the zoo read frame folders; here we read video files
        cfg = cfg.replace(decoder="decord", filename_tmpl=None, start_index=0)
    if args.input_size:
        cfg = cfg.replace(resize=(-1, args.input_size), crop="center",
                          crop_size=args.input_size)
    transform = videozoo.create_transform(cfg, is_training=False)
    if args.labels or args.checkpoint or args.pretrained:
        names = class_names(args.model, args.labels, model.num_classes)
    else:  # random weights: no point fetching the zoo's class names
        names = [f"class {i}" for i in range(model.num_classes)]
    print(f"{args.model}: {cfg.num_clips} clip(s) x {cfg.clip_len} frame(s), "
          f"{cfg.crop} crop {cfg.crop_size}, views averaged by {cfg.average or 'score'}")
    k = min(args.topk, model.num_classes)
    for video in videos:
        probs = predict(model, transform, video, device, cfg.average)
        top = torch.topk(probs, k)
        print(video)
        for rank, (p, c) in enumerate(zip(top.values.tolist(), top.indices.tolist()), 1):
            print(f"  {rank}. {p:6.1%}  {names[c]}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
