#!/usr/bin/env python
"""Temporal modelling in one run: TSM learns which way an object moves, TSN cannot.

The same as ``videozoo demo`` (see :mod:`videozoo.demo` for the task and the set-up): synthetic
videos of a square moving left or right, where single frames carry no information about the
label; TSM and its shift-free twin (a TSN) are fine-tuned from the same weights with the same
budget and evaluated on held-out videos. Runs on a CPU in a few minutes, unchanged on a GPU.

    python examples/demo_temporal_order.py               # TSM vs TSN (MobileNetV2)
    python examples/demo_temporal_order.py --with-tpn    # and TPN
    python examples/demo_temporal_order.py --backbone r50 --device cuda   # tsm_r50 vs tsn_r50
"""
import sys

from videozoo.demo import main

if __name__ == "__main__":
    sys.exit(main())
