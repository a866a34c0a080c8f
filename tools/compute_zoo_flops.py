"""Compute FLOPs and parameters of the zoo rows whose table reports none, in the convention of
their era, and write them as data (``videozoo/_computed_flops.py``). Run once after adding such rows:

    python tools/compute_zoo_flops.py

Convention (MMAction2 0.x ``tools/analysis/get_flops.py``): mmcv's module counter with the head
(``forward_dummy``), one view of the entry's default test protocol at its crop size: a TSM clip of
``num_segments`` frames, every TSN frame of the protocol (25 frames, 80 for dense sampling, or flow stacks), a 3D clip of
``clip_len`` frames. This reproduces the TPN metafile numbers (66.01G / 54.20G).
"""
from __future__ import annotations

import sys
from pathlib import Path

import videozoo
from videozoo.flops import count_flops, count_params, format_count
from videozoo.zoo import ENTRIES

OUT = Path(__file__).resolve().parents[1] / "videozoo" / "_computed_flops.py"


def view_shape(entry) -> tuple[int, int, int, int]:
    """(C, T, H, W) of one test view of the entry's default protocol."""
    p = entry.protocol()
    if p.num_segments:
        frames = p.num_segments
    elif p.clip_len > 1 and entry.modality != "flow":
        frames = p.clip_len
    else:  # TSN: every sampled frame of every clip goes through the backbone
        frames = p.num_clips * (10 if p.dense else 1) * (2 if p.twice_sample else 1)
    return entry.in_chans, frames, p.crop_size, p.crop_size


def main() -> int:
    rows = []
    for e in ENTRIES:
        if e.flops is not None:
            continue
        model = videozoo.create_model(e.name)
        shape = view_shape(e)
        flops = count_flops(model, shape, convention="mmcv", include_head=True)
        rows.append((e.name, format_count(flops), format_count(count_params(model)), shape))
        print(*rows[-1], flush=True)
    lines = ['"""FLOPs and parameters computed by ``tools/compute_zoo_flops.py`` for the rows whose '
             'table\nreports none (MMAction2 0.x convention: mmcv counter, head included, one test '
             'view (C, T, H, W)).\nComputed, not reported: the cards mark them so."""', "",
             "CONVENTION = \"mmcv, head included, one test view\"", "",
             "# name: (FLOPs, params, view shape)", "COMPUTED = {"]
    lines += [f"    {n!r}: ({f!r}, {p!r}, {s!r})," for n, f, p, s in rows]
    lines += ["}", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
