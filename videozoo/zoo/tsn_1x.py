"""TSN entries: every checkpoint row of MMAction2 1.x's TSN README (``configs/recognition/tsn/
README.md`` at ``MMACTION2_1X``; the table is not among ``shared/zoo-tables``), the
3rd-party-backbone rows included.

Test protocols follow the history of the configs, not only their current text:

- The Kinetics-400 checkpoints of 2022-09-06 were tested while ``_base_/models/tsn_r50.py`` set
  ``average_clips=None`` (changed to ``'prob'`` on 2022-11-18, 5a7ab0c9). TSNHead averages the
  features of all 250 frames into one view, so the two give the same accuracy but different
  scores: the default protocol ``25x10`` returns raw logits as the number was produced, and
  ``25x10-prob`` is the current config (softmax).
- 1.x test-time SampleFrames spread clip starts linearly from 2022-10-24 (908af8a1) to
  2022-12-22 (ec1eecb7) also for ``clip_len=1``; only the ResNeXt checkpoint (2022-12-09) falls
  in that window (see its note: videozoo's sampler has the formula before and after only).

FLOPs and params are the table's; its FLOPs count the backbone on 25 frames of 224x224.
"""

from __future__ import annotations

from .._pretrained import Augment, TestProtocol
from ._common import MMACTION2_1X, TSN_PAPER, Recipe, entry, test

TSN_1X = f"mmaction2@{MMACTION2_1X[:8]}:configs/recognition/tsn/README.md"
K400 = "tsn_imagenet-pretrained-{}_8xb32-{}-100e_kinetics400-rgb"
CUSTOM = "Using backbones from 3rd-party in TSN"


def protocols(*, raw_logits: bool, dense: bool = False) -> tuple[TestProtocol, ...]:
    """The config's test pipeline: 25 frames x TenCrop 224 (dense: 25 frames at each of 10
    DenseSampleFrames positions x CenterCrop 224), averaged into one view by TSNHead."""
    crop = "center" if dense else "ten"
    current = test(25, crop, 224, version="1.x", average="prob", dense=dense)
    if not raw_logits:
        return (current,)
    at_checkpoint = current.replace(
        average=None, note="average_clips=None, as the config set at the checkpoint's date")
    return (at_checkpoint, current.replace(name=f"{current.name}-prob",
                                           note="the current config: softmax of the one view"))


NOTE_DATE = ("Checkpoint of 2022-09-06: tested while the config set average_clips=None (raw "
             "logits of the mean feature); the current config averages probabilities. The "
             "accuracy is the same, the scores are not, hence the two protocols.")
NOTE_FLOPS = "The table's FLOPs count the backbone on 25 frames of 224x224 (one test clip each)."
PARAMS_174 = ("The table's params (24.33M) is the 400-class count; with 174 classes TSN-R50 "
              "has 23,864,558 parameters (23.87M), as the metafile says.")
MULTISCALE_13 = Augment(crop="multiscale", num_fixed_crops=13, flip=True)

# Kinetics-400 checkpoints of 2022-09-06 (raw logits at their date); the ``_NOW`` recipes are for
# checkpoints tested under the current config (softmax).
TSN_1X_K400 = Recipe(
    arch="tsn_r50", version="1.x", dataset="kinetics400", decoder="decord", start_index=0,
    data="videos", source_tables=(TSN_1X,), paper=TSN_PAPER, source=TSN_1X,
    section="Kinetics-400", url_base="https://download.openmmlab.com/mmaction/v1.0/recognition/tsn/",
    log="{config}", test_protocols=protocols(raw_logits=True), notes=(NOTE_DATE,),
    notes_last=(NOTE_FLOPS,), flops="102.7G", params="24.33M",
    train=dict(clip_len=1, frame_interval=1, num_clips=3, epochs=100, lr=0.01, momentum=0.9,
               weight_decay=0.0001, lr_milestones=(40, 80), batch_size="8 GPUs x 32 videos",
               augment=Augment(crop="multiscale", flip=True), pretrain="ImageNet",
               clip_grad=40.0))
TSN_1X_STHV2 = TSN_1X_K400.but(
    dataset="sthv2", section="Something-Something V2", test_protocols=protocols(raw_logits=False),
    arch_kwargs={"dropout": 0.5}, params="23.87M", notes=(PARAMS_174,),
    train=dict(num_clips=8, epochs=50, lr_milestones=(20, 40),
               augment=Augment(crop="multiscale", flip=True, label_swap=True)))
TSN_1X_CUSTOM = TSN_1X_K400.but(section=CUSTOM, config_folder="tsn/custom_backbones")
TSN_1X_CUSTOM_NOW = TSN_1X_CUSTOM.but(test_protocols=protocols(raw_logits=False), notes=())
SWIN = dict(arch="tsn_swin_base_patch4_window7_224", flops="386.7G", params="87.15M",
            train=dict(pretrain="ImageNet (timm swin_base_patch4_window7_224)"))

ENTRIES = (
    entry(name=K400.format("r50", "1x1x3"), recipe=TSN_1X_K400, top=(72.83, 90.65),
          url="{config}/{config}_20220906-cd10898e.pth"),
    entry(name=K400.format("r50", "1x1x5"), recipe=TSN_1X_K400, top=(73.80, 91.21),
          url="{config}/{config}_20220906-65d68713.pth", train=dict(num_clips=5)),
    entry(name=K400.format("r50", "1x1x8"), recipe=TSN_1X_K400, top=(74.12, 91.34),
          url="{config}/{config}_20220906-2692d16c.pth", train=dict(num_clips=8)),
    entry(name=K400.format("r50", "dense-1x1x5"), recipe=TSN_1X_K400, top=(71.37, 89.67),
          url="{config}/{config}_20220906-dcbc6e01.pth",
          test_protocols=protocols(raw_logits=True, dense=True),
          arch_kwargs={"dropout": 0.5, "init_std": 0.001},
          train=dict(num_clips=5, dense=True, lr=0.06, augment=MULTISCALE_13),
          notes=("The table's protocol reads '25 clips x 10 crop'; the config (also at the "
                 "checkpoint's date) tests DenseSampleFrames(25 frames, 10 positions) with "
                 "CenterCrop 224: 250 frames, one crop each, averaged into one view.",)),
    entry(name=K400.format("r101", "1x1x8"), recipe=TSN_1X_K400, top=(75.89, 92.07),
          url="{config}/{config}_20220906-23cff032.pth", arch="tsn_r101", flops="195.8G",
          params="43.32M", train=dict(num_clips=8)),
    entry(name="tsn_imagenet-pretrained-r50_8xb32-1x1x8-50e_sthv2-rgb", recipe=TSN_1X_STHV2,
          top=(35.51, 67.09), url="{config}/{config}_20230313-06ad7d03.pth",
          notes=("The metafile says 100 epochs and Training Data Kinetics-400; the config trains "
                 "50 epochs on Something-Something V2.",)),
    entry(name="tsn_imagenet-pretrained-r50_8xb32-1x1x16-50e_sthv2-rgb", recipe=TSN_1X_STHV2,
          top=(36.91, 68.77), url="{config}/{config}_20230221-85bcc1c3.pth",
          train=dict(num_clips=16, augment=Augment(crop="multiscale", num_fixed_crops=13,
                                                   flip=True, label_swap=True)),
          notes=("The left/right label swap of the training Flip was added to the config on "
                 "2023-04-06 (d3122480), after this checkpoint.",)),
    entry(name="tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_kinetics400-rgb",
          recipe=TSN_1X_CUSTOM_NOW, top=(72.95, 90.36), flops="200.3G", params="42.95M",
          url="{config}/{config}_20221209-de2d5615.pth", arch="tsn_resnext101_32x4d",
          train=dict(pretrain="ImageNet (mmcls resnext101_32x4d_b32x8_imagenet_20210506-e0fa3dd5)"),
          notes=("Backbone: mmcls ResNeXt-101 32x4d; videozoo computes it with timm "
                 "resnext101_32x4d (same layers and parameter names; golden within 1e-4 of "
                 "MMAction2 1.2.0 built with mmpretrain.ResNeXt, mmcls' successor).",
                 "Checkpoint of 2022-12-09: between 2022-10-24 and 2022-12-22 MMAction2 1.x's "
                 "test SampleFrames placed the 25 frames linearly from the first to the last "
                 "frame (rounded) instead of at the centres of 25 equal bins, so the table's "
                 "number may come from that sampling, which videozoo does not reproduce; the "
                 "entry's protocol is the current config's.")),
    entry(name="tsn_imagenet-pretrained-dense161_8xb32-1x1x3-100e_kinetics400-rgb",
          recipe=TSN_1X_CUSTOM, top=(72.07, 90.15), flops="194.6G", params="27.36M",
          url="{config}/{config}_20220906-5f4c0daf.pth", arch="tsn_densenet161",
          train=dict(augment=Augment(crop="random_resized", flip=True),
                     pretrain="ImageNet (torchvision densenet161)"),
          notes=("Backbone: torchvision densenet161. MMAction2 uses only its `features` (ending "
                 "with BatchNorm norm5, no ReLU) and average-pools them; videozoo does the same.",)),
    entry(name="tsn_imagenet-pretrained-swin-transformer_8xb32-1x1x3-100e_kinetics400-rgb",
          recipe=TSN_1X_CUSTOM.but(**SWIN), top=(77.03, 92.61),
          url="{config}/{config}_20220906-65ed814e.pth",
          notes=("Backbone: timm swin_base_patch4_window7_224 (final LayerNorm, then the mean "
                 "over the 7x7 tokens) at 224x224, the size it was trained and tested at.",
                 "The checkpoint predates timm 0.9: if it stores PatchMerging at the end of each "
                 "stage (timm < 0.9 layout) videozoo moves it to the next stage and drops the "
                 "derived relative_position_index / attn_mask buffers (unconfirmed which layout "
                 "the file uses). feature_shape='NHWC' was added to the config on 2023-06-12 "
                 "(7be50ff1) for timm >= 0.9; the pooled features are the same.")),
    entry(name="tsn_imagenet-pretrained-swin-transformer_32xb8-1x1x8-50e_kinetics400-rgb",
          recipe=TSN_1X_CUSTOM_NOW.but(**SWIN), top=(79.22, 94.20),
          url="{config}/{config}_20230530-428f0064.pth",
          train=dict(num_clips=8, epochs=50, lr_milestones=(20, 40),
                     batch_size="32 GPUs x 8 videos"),
          notes=("The table's gpus column says 8; the config name and the metafile say 32 GPUs "
                 "x 8 videos, while the config itself inherits 32 videos per GPU from its base.",
                 "The config lacks feature_shape='NHWC': under MMAction2 1.2.0 with timm >= 0.9 "
                 "it fails (pools timm's NHWC map as if NCHW: 'mat1 and mat2 shapes cannot be "
                 "multiplied (1x7 and 1024x400)'). videozoo pools the tokens as the 1x1x3 "
                 "config does.",
                 "The metafile links the 1x1x3 checkpoint (…-65ed814e) for this row and says "
                 "100 epochs; the table's link and the config (50 epochs) are followed.")),
    entry(name="tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb",
          recipe=TSN_1X_CUSTOM_NOW, top=(73.65, 91.32), flops="76.02G", params="13.72M",
          url="{config}/{config}_20230825-2da3c1f7.pth", arch="tsn_mobileone_s4",
          train=dict(num_clips=8, batch_size="8 GPUs x 16 videos",
                     pretrain="ImageNet (mmcls mobileone-s4_8xb32_in1k_20221110-28d888cb)"),
          notes=("Backbone: mmpretrain MobileOne s4 (timm mobileone_s4 computes it; the "
                 "train-form branch sum differs in order, ~1e-6 relative). "
                 "create_model(..., deploy=True) or model.reparameterize() gives the fused form "
                 "of the deploy config.",
                 "The config name says 8xb32; its train_dataloader has 16 videos per GPU.",
                 "The table prints 76G FLOPs; the same count gives 76.02G (76,020,... for 25 "
                 "frames of 224x224), kept with its decimals like the other rows.")),
)
