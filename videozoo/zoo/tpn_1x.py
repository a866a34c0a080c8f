"""TPN entries: every checkpoint row of MMAction2 1.x's TPN README (``configs/recognition/tpn/
README.md`` at ``MMACTION2_1X``; the table is not among ``shared/zoo-tables``).

The two SlowOnly checkpoints (2022-09-13) were tested before 1.x changed its test-time
SampleFrames for clips of 8 frames (2022-10-24, 908af8a1: clip starts spread linearly from the
first to the last possible start; until then 1.x used the 0.x formula, clips centred in equal
bins). Their default protocol ``10x3`` uses the formula of the checkpoint's date, and
``10x3-linear`` is what the current config samples. Params are the metafile's (the table has
no such column; videozoo's models have exactly those counts); the metafile's FLOPs, which count
one input clip rather than a test protocol's frames, are in the notes.
"""

from __future__ import annotations

from .._pretrained import Augment
from ._common import MMACTION2_1X, REFERENCE, TPN_PAPER, Recipe, accurate, entry, test, top

TPN_1X = f"mmaction2@{MMACTION2_1X[:8]}:configs/recognition/tpn/README.md"

_CURRENT = test(10, "three", 256, version="1.x", average="prob", clip_len=8, frame_interval=8)
SLOWONLY_PROTOCOLS = (
    _CURRENT.replace(legacy_sampling=True,
                     note="SampleFrames as MMAction2 1.x sampled at the checkpoint's date "
                          "(the 0.x formula: clips centred in 10 equal bins)"),
    _CURRENT.replace(name="10x3-linear",
                     note="the current config: clip starts spread linearly (1.x since "
                          "2022-10-24)"),
)
NOTE_FLOPS = "The metafile gives 66.01G FLOPs (66,014,576,640) for one 8x224x224 clip."
NOTE_SAMPLING = ("Checkpoint of 2022-09-13: its number was measured with the test SampleFrames "
                 "of that date (protocol '10x3'); the current config samples as '10x3-linear'.")
COLOR_JITTER = Augment(crop="random_resized", flip=True, color_jitter=True)

_TPN_1X = Recipe(version="1.x", source_tables=(TPN_1X,), source=TPN_1X, paper=TPN_PAPER,
                 url_base="https://download.openmmlab.com/mmaction/v1.0/recognition/tpn/",
                 log="{config}", gpu_memory_mb=6916,
                 train=dict(num_clips=1, epochs=150, lr=0.01, momentum=0.9, weight_decay=0.0001,
                            lr_milestones=(75, 125), augment=COLOR_JITTER, clip_grad=40.0,
                            note="Nesterov momentum"))
TPN_1X_SLOWONLY = _TPN_1X.but(
    arch="tpn_slowonly_r50", dataset="kinetics400", decoder="decord", start_index=0,
    data="videos, short side 320", test_protocols=SLOWONLY_PROTOCOLS, params="91.50M",
    section="Kinetics-400", notes=(NOTE_SAMPLING,), notes_last=(NOTE_FLOPS,),
    train=dict(clip_len=8, frame_interval=8))

PRETRAINED = "tpn-slowonly_imagenet-pretrained-r50_8xb8-8x8x1-150e_kinetics400-rgb"
OLD_FOLDER = "tpn_imagenet_pretrained_slowonly_r50_8x8x1_150e_kinetics_rgb"

ENTRIES = (
    entry(name="tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb", recipe=TPN_1X_SLOWONLY,
          url="{config}/{config}_20220913-97d0835d.pth", top=(74.20, 91.48),
          train=dict(pretrain="none", batch_size="16 GPUs x 8 videos"),
          notes=("Trained from scratch (the config sets backbone.pretrained=None); the "
                 "metafile says pretrained ImageNet and 32 GPUs, the table 'None' and 8x2 "
                 "GPUs.",)),
    entry(name=PRETRAINED, recipe=TPN_1X_SLOWONLY, url=f"{OLD_FOLDER}/{{config}}_20220913-fed3f4c1.pth",
          log=OLD_FOLDER, top=(76.74, 92.57),
          train=dict(pretrain="ImageNet", batch_size="8 GPUs x 8 videos"),
          more=(top(75.49, 92.05, kind=REFERENCE,
                    note="original TPN code: https://github.com/decisionforce/TPN/blob/"
                         "master/MODELZOO.md"),),
          notes=("The checkpoint lives under the 0.x-style folder name "
                 f"{OLD_FOLDER}/ with the 1.x file name; the metafile links the "
                 f"{PRETRAINED}/ folder instead.",
                 "The metafile says 32 GPUs; the table 8.")),
    entry(name="tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb", recipe=_TPN_1X,
          url="{config}/{config}_20230221-940a3615.pth", top=(51.87, 79.67),
          arch="tpn_tsm_r50", dataset="sthv1", decoder="rawframes", filename_tmpl="{:05}.jpg",
          start_index=1, data="rawframes, height 100", test_protocols=(accurate(8, version="1.x"),),
          section="Something-Something V1", params="82.45M", gpu_memory_mb=8828,
          train=dict(num_clips=8, weight_decay=0.0005, batch_size="48 GPUs x 8 videos",
                     pretrain="ImageNet", clip_grad=20.0),
          notes=(
              "The table's protocol reads '8 clips x 3 crop'; the config tests twice-sampled "
              "8-frame views (2 x 8 frames) x ThreeCrop 256 with fcn_test: 6 views, "
              "probabilities averaged ('accurate').",
              "The table's pretrain column says 'TSM'; the config initialises the TSM ResNet-50 "
              "from ImageNet (torchvision resnet50).",
              "The left/right label swap of the training Flip was added to the config on "
              "2023-04-06 (d3122480), after this checkpoint; the metafile's weights link starts "
              "with a stray '('.",
              "The metafile gives 54.20G FLOPs (54,202,822,656) for one 8-frame 224x224 view.")),
)
