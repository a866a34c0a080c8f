#!/usr/bin/env python
"""Extract one feature vector per video (the classifier's input) with a zoo model.

Each video goes through the model's test protocol (``VideoDataset`` -> ``(V, C, T, H, W)``
views); ``forward_features`` + ``forward_head(pre_logits=True)`` give the pooled, frame-averaged
features of every view, which are averaged over the views. The result is an ``.npz`` with
``features`` (N, D) float32, ``video_ids`` (N,) and ``labels`` (N,) (-1 where the list has none),
ready for a linear probe, retrieval or clustering.

    python examples/extract_features.py --model tsm_r50_1x1x8_50e_kinetics400_rgb --pretrained \\
        --ann videos.txt --data-root videos/ --out features.npz
    python examples/extract_features.py --model tsm_r50 --checkpoint tsm_r50_....pth \\
        --ann videos.txt --data-root videos/ --out features.npz

WITHOUT --ann it writes a few synthetic videos to a temporary directory and, unless given
--checkpoint / --pretrained, uses RANDOM weights (mechanics only). ``--input-size 64`` shrinks the
protocol (short side and one centre crop) for a quick CPU run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

import videozoo
from videozoo.data import collate_videos
from videozoo.evaluation.views import average_view_features


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb",
                   help="zoo entry or architecture (default: %(default)s)")
    p.add_argument("--pretrained", action="store_true", help="download the entry's weights")
    p.add_argument("--checkpoint", default=None, help="local .pth / .safetensors weights")
    p.add_argument("--ann", default=None,
                   help="annotation list ('path label' per line; without it: synthetic videos)")
    p.add_argument("--data-root", default="", help="directory the list's paths start from")
    p.add_argument("--out", default="features.npz", help="output .npz (default: %(default)s)")
    p.add_argument("--protocol", default=None, help="a test protocol of the entry")
    p.add_argument("--input-size", type=int, default=None,
                   help="resize short side and centre-crop to this size (quick runs)")
    p.add_argument("--batch-size", type=int, default=2, help="videos per batch")
    p.add_argument("--workers", type=int, default=2, help="decoding processes")
    p.add_argument("--device", default=None, help="default: cuda when available")
    return p.parse_args(argv)


@torch.inference_mode()
def video_features(model: torch.nn.Module, views: torch.Tensor) -> torch.Tensor:
    """(B, V, C, T, H, W) views -> (B, D) features: the classifier's input, averaged over the
    views of each video."""
    feats = model.forward_head(model.forward_features(views.flatten(0, 1)), pre_logits=True)
    return average_view_features(feats, views.shape[0])


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from videozoo.evaluation.distributed import local_device

    tmp = None
    if args.ann is None:
        from videozoo.data.synthetic import make_synthetic_dataset

        tmp = tempfile.TemporaryDirectory(prefix="videozoo-features-")
        ds = make_synthetic_dataset(tmp.name, num_videos=4, num_classes=2, frames=24,
                                    size=(64, 80))
        args.ann, args.data_root = ds.ann_file, ds.root
        print(f"no --ann: 4 synthetic videos in {ds.root}")
    if not args.checkpoint and not args.pretrained:
        print("no --checkpoint or --pretrained: RANDOM weights (the features show the "
              "mechanics only)")

    device = local_device(args.device)
    model = videozoo.create_model(args.model, pretrained=args.pretrained,
                                  checkpoint_path=args.checkpoint).eval().to(device)
    cfg = videozoo.resolve_data_config(model, args.protocol)
    if cfg.decoder == "rawframes" and not os.path.isdir(
            os.path.join(args.data_root, open(args.ann).readline().split()[0])):
        cfg = cfg.replace(decoder="decord", filename_tmpl=None, start_index=0)
    if args.input_size:
        cfg = cfg.replace(resize=(-1, args.input_size), crop="center",
                          crop_size=args.input_size)
    dataset = videozoo.VideoDataset(args.ann, cfg, root=args.data_root,
                                    num_classes=model.num_classes)
    loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers,
                        collate_fn=collate_videos)
    feats, ids, labels = [], [], []
    start = time.perf_counter()
    for batch in loader:
        feats.append(video_features(model, batch["inputs"].to(device)).cpu())
        ids += batch["video_id"]
        labels.append(batch["label"])
    features = torch.cat(feats).numpy()
    np.savez(args.out, features=features, video_ids=np.array(ids),
             labels=torch.cat(labels).numpy())
    print(f"{len(ids)} videos -> {args.out}: features {features.shape} "
          f"({cfg.protocol} protocol, {time.perf_counter() - start:.1f} s)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
