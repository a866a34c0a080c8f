"""TSM entries: the MMAction2 0.x TSM table (``000_...``, checked against the other revision
``002_...``) and the 1.x TSM table (``003_...``).

Defaults follow docs/zoo_audit.md: the protocol that produced each row's number ('efficient' for
Something-Something rows published before 28ac80cb, 2021-08-17; raw-logit averaging before 47b1ca9d,
2020-11-27); today's config stays a named protocol ('accurate', '1x1_prob', '1x10', '10x10').
"""
from __future__ import annotations

from collections.abc import Callable

from .._pretrained import Augment, ReportedResult
from ._common import (
    DELTA,
    NON_LOCAL_PAPER,
    REFERENCE,
    REVISION,
    TSM_0X,
    TSM_0X_OTHER,
    TSM_1X,
    TSM_PAPER,
    Recipe,
    entry,
    top,
)

TSM_CODE = ("original TSM code: "
            "https://github.com/mit-han-lab/temporal-shift-module/tree/8d53d6fda40bea2f1b37a6095279c4b454d672bd#training")
OTHER_REVISION_H100 = ("another revision of the TSM table prints this row (height 100) with "
                       "other numbers")
ONLY_IN_OTHER_REVISION_H240 = ("row only in another revision of the TSM table: trained on height 240 "
                               "frames, checkpoint not linked")
TSM_CODE_H240 = "original TSM code (the height 240 row of another table revision)"
OTHER_REVISION_H256 = ("another revision of the TSM table prints this row (height 256) with "
                       "other numbers")
ACCURATE_IS_THE_CONFIG_DEFAULT = ("The table's notes say the configs test with the 'efficient' "
                                  "setting by default; the 0.x config's test pipeline is the "
                                  "'accurate' one (twice-sampled clips x ThreeCrop 256), so "
                                  "'accurate' is this entry's default protocol.")
PARAMS_ARE_174_CLASS_COUNT = ("The table's params (23.87M) is the 174-class Something-Something "
                              "count; with 400 classes TSM-R50 has 24,327,632 parameters "
                              "(24.33M).")
DIVING48_ROWS_TWICE = ("The 0.x TSM table lists the Diving48 rows twice (identical).")
EFFICIENT_UNTIL_28AC80CB = ("When this row's numbers were published the config's test pipeline "
                            "was the 'efficient' one (one clip x CenterCrop 224), as the table's "
                            "notes say; MMAction2 switched the Something-Something test pipelines "
                            "to 'accurate' (twice-sampled clips x ThreeCrop 256) later, in "
                            "28ac80cb (2021-08-17, #1081). 'efficient' is the default protocol, "
                            "'accurate' the named alternative; both numbers are the table's.")
PTV_THREE_CROP_AT_PUBLICATION = ("When the row was published (ae3504ff, 2021-07-14) the config's "
                                 "test pipeline was neither table setting: one clip of 8 frames x "
                                 "ThreeCrop 256 (3 views, no twice-sampling); 28ac80cb "
                                 "(2021-08-17) made it 'accurate'. The table's pair is efficient / "
                                 "accurate as for the other rows; 'efficient' is the default for "
                                 "consistency with the table's convention (first number), "
                                 "'accurate' the named alternative.")
ONE_CLIP_16_PUBLISHED = ("The numbers were published with 0934d5eb (2020-10-21, #241), when the "
                         "config tested one 16-frame clip x CenterCrop 224 with average_clips=None "
                         "(a4e100e1, 2020-08-09, had the head at 8 segments, fixed in 0934d5eb); "
                         "'prob' came with 47b1ca9d (2020-11-27) and TenCrop with fc9f4c30 "
                         "(2021-09-09, #1138), which did not change these numbers. Default: 1 "
                         "clip x CenterCrop 224; '1x10' (today's config) is the named alternative.")
DENSE_CENTER_CROP = ("At the checkpoint's date the config (0.x commit 5ac0587f) tested dense clips "
                     "with CenterCrop 224 (10 views, the default protocol '10x1'); the 0.x config "
                     "now uses TenCrop 224 (100 views), kept as the named protocol '10x10'.")
RAW_AT_F076A872 = ("The config at the checkpoint's date (0.x commit f076a872) set "
                   "average_clips=None; with one view per video that changes the scores, not the "
                   "accuracy.")
BASE_WITHOUT_PY = ("The config published with this checkpoint (5ac0587f, 2021-07-01) names its "
                   "_base_ without '.py' and cannot be loaded; 28ac80cb (2021-08-17) fixed it. "
                   "The protocol is the one of its _base_ (tsm_r50_1x1x8_50e_kinetics400_rgb at "
                   "that date: 1 clip x CenterCrop 224, 'prob').")
PROTOCOL_8X3_IS_TWICE_SAMPLED = ("The table's protocol reads '8 clips x 3 crop'; the config "
                                 "samples twice (two 8-frame clips) x ThreeCrop 256, i.e. 6 "
                                 "views.")

def cell(kind: str, note: str, source: str = "") -> Callable[..., ReportedResult]:
    """A maker of one kind of extra table cell: ``(top1, top5, protocol='accurate')``."""
    return lambda top1, top5, protocol="accurate": top(top1, top5, protocol, source, kind=kind,
                                                       note=note)


ref = cell(REFERENCE, TSM_CODE)  # the authors' TSM code, as the row's reference columns print it
h240 = cell(REVISION, ONLY_IN_OTHER_REVISION_H240, TSM_0X_OTHER)  # only the other revision has it
h240_ref = cell(REFERENCE, TSM_CODE_H240, TSM_0X_OTHER)
h256 = cell(REVISION, OTHER_REVISION_H256, TSM_0X_OTHER)
h100 = cell(REVISION, OTHER_REVISION_H100, TSM_0X_OTHER)

REFERENCE_K400_8F_1X1 = top(70.36, 89.49, kind=REFERENCE,
                            note="original TSM code: https://github.com/mit-han-lab/temporal-shift-module/blob/8d53d6fda40bea2f1b37a6095279c4b454d672bd/scripts/train_tsm_kinetics_rgb_8f.sh")
REFERENCE_STHV1_8F_EFFICIENT = top(45.5, 74.34, protocol="efficient", kind=REFERENCE,
                                   note=TSM_CODE)
REFERENCE_STHV1_8F_ACCURATE = top(47.33, 76.6, protocol="accurate", kind=REFERENCE,
                                  note=TSM_CODE)
STHV1_8F_REFERENCE = (REFERENCE_STHV1_8F_EFFICIENT, REFERENCE_STHV1_8F_ACCURATE)

_TSM = Recipe(arch="tsm_r50", version="0.x", dataset="kinetics400", data="videos", tests=("1x1",),
              decoder="rawframes", start_index=1,
              segments=8, average="prob", source=TSM_0X, section="Kinetics-400",
              source_tables=(TSM_0X, TSM_0X_OTHER), paper=TSM_PAPER,
              url_base="https://download.openmmlab.com/mmaction/recognition/tsm/",
              train=dict(epochs=50, lr=0.01, batch_size="8 GPUs x 8 videos",
                         lr_milestones=(20, 40), fc_lr5=True,
                         augment=Augment(crop="multiscale", flip=True), clip_grad=20.0))

TSM_0X_K400 = _TSM.but(data="rawframes, short side 320", gpu_memory_mb=7079)
# rows published while the configs set average_clips=None ('prob' since 47b1ca9d, 2020-11-27)
TSM_0X_K400_RAW = TSM_0X_K400.but(tests=("1x1 avg=none", "1x1 as 1x1_prob"))
TSM_0X_K400_DENSE = TSM_0X_K400.but(tests=("dense 10x1", "dense 10x10"), train=dict(dense=True),
                                    notes=(DENSE_CENTER_CROP,))

TSM_0X_DIVING48 = _TSM.but(dataset="diving48", decoder="decord", start_index=0, section="Diving48",
                           gpu_memory_mb=7070,
                           notes=(DIVING48_ROWS_TWICE,))

TSM_0X_STHV1 = _TSM.but(dataset="sthv1", data="rawframes, height 100", filename_tmpl="{:05}.jpg",
                        tests=("accurate", "efficient"), section="Something-Something V1",
                        gpu_memory_mb=7077,
                        train=dict(augment=Augment(crop="multiscale", flip=False),
                                   weight_decay=0.0005))
# the augmentation study of the 0.x Something-Something V1 table: one recipe, one change a row
TSM_0X_STHV1_AUG = TSM_0X_STHV1.but(more=STHV1_8F_REFERENCE, tests=("efficient", "accurate"),
                                    notes=(EFFICIENT_UNTIL_28AC80CB,))
TSM_0X_STHV1_PTV = TSM_0X_STHV1_AUG.but(notes=(PTV_THREE_CROP_AT_PUBLICATION,))
FLIP = Augment(crop="multiscale", flip=True, label_swap=True)
RANDAUGMENT = Augment(crop="multiscale", flip=False, rand_augment="imgaug")
PTV_RANDAUGMENT = Augment(crop="multiscale", flip=False, rand_augment="pytorchvideo")
PTV_AUGMIX = Augment(crop="multiscale", flip=False, augmix="pytorchvideo")
FLIP_RANDAUGMENT = Augment(crop="multiscale", flip=True, label_swap=True, rand_augment="imgaug")

TSM_0X_STHV2 = _TSM.but(dataset="sthv2", data="rawframes, height 256",
                        tests=("accurate", "efficient"), section="Something-Something V2",
                        train=dict(lr=0.0075, batch_size="8 GPUs x 6 videos",
                                   augment=Augment(crop="multiscale", flip=False),
                                   weight_decay=0.0005))

TSM_0X_FINETUNE = _TSM.but(dataset="hmdb51", data="rawframes", section="HMDB51",
                           gpu_memory_mb=10388,
                           train=dict(epochs=25, lr=0.0015, batch_size="8 GPUs x 12 videos",
                                      lr_milestones=(10, 20),
                                      augment=Augment(crop="multiscale", flip=False),
                                      pretrain="Kinetics-400 (tsm_r50_1x1x8_50e_kinetics400_rgb.256p)"))

TSM_1X_K400 = _TSM.but(version="1.x", decoder="decord", start_index=0, tests=("1x10",),
                       source=TSM_1X, source_tables=(TSM_1X,),
                       url_base="https://download.openmmlab.com/mmaction/v1.0/recognition/tsm/",
                       train=dict(lr=0.02, batch_size="8 GPUs x 16 videos", lr_milestones=(25, 45),
                                  warmup_epochs=5))

TSM_1X_K400_NL = TSM_1X_K400.but(paper=TSM_PAPER + NON_LOCAL_PAPER)

TSM_1X_STHV2 = _TSM.but(version="1.x", dataset="sthv2", decoder="decord", start_index=0,
                        tests=("accurate",), source=TSM_1X, section="Something-Something V2",
                        source_tables=(TSM_1X,),
                        url_base="https://download.openmmlab.com/mmaction/v1.0/recognition/tsm/",
                        train=dict(lr=0.02, batch_size="8 GPUs x 16 videos",
                                   lr_milestones=(25, 45),
                                   augment=Augment(crop="multiscale", flip=True, label_swap=True),
                                   weight_decay=0.0005, warmup_epochs=5))

ENTRIES = (
    entry(name="tsm_r50_1x1x8_50e_kinetics400_rgb.340x256", recipe=TSM_0X_K400_RAW,
          aliases=("tsm_r50_1x1x8_50e_kinetics400_rgb",),
          url="{config}/{config}_20200607-af7fb746.pth", log="20200607_211800", top=(70.24, 89.56),
          more=(REFERENCE_K400_8F_1X1,), data="rawframes, 340x256", inference_time=74.0,
          inference_setting="8x1 frames",
          notes=(("When the checkpoint was made (2020-06-07) the config lived in the pre-release "
                 "layout (config/tsm_rgb_1x1x8_r50_2d_kinetics400_100e.py, lr 0.02); it got this "
                 "name in 340e7ee7 (2020-06-22) and the row was published with be1e3645 "
                 "(2020-07-07, lr 0.01 for 8 GPUs x 8 videos); all of them set "
                 "average_clips=None ('prob' since 47b1ca9d, 2020-11-27). With one view per "
                 "video that changes the scores, not the accuracy."),)),
    entry(name="tsm_r50_1x1x8_50e_kinetics400_rgb.256p", recipe=TSM_0X_K400_RAW,
          aliases=("tsm_r50_256p_1x1x8_50e_kinetics400_rgb",),
          url="tsm_r50_256p_1x1x8_50e_kinetics400_rgb/tsm_r50_256p_1x1x8_50e_kinetics400_rgb_20200726-020785e2.pth",
          log="20200725_031623", top=(70.59, 89.52), data="rawframes, short side 256",
          notes=(RAW_AT_F076A872,)),
    entry(name="tsm_r50_1x1x8_50e_kinetics400_rgb.320p", recipe=TSM_0X_K400,
          url="{config}/{config}_20210701-68d582b4.pth", log="20210616_021451", top=(70.73, 89.81)),
    entry(name="tsm_r50_1x1x8_100e_kinetics400_rgb", recipe=TSM_0X_K400,
          url="{config}/{config}_20210701-7ff22268.pth", log="20210617_103543", top=(71.9, 90.03),
          train=dict(epochs=100, lr_milestones=(40, 80)),
          notes=(BASE_WITHOUT_PY,)),
    entry(name="tsm_r50_gpu_normalize_1x1x8_50e_kinetics400_rgb", recipe=TSM_0X_K400,
          url="{config}/{config}_20210219-bf96e6cc.pth", log="{config}_20210219",
          top=(70.48, 89.4), data="rawframes, short side 256", gpu_memory_mb=7076,
          notes=(("The table's config cell reads "
                 "'tsm_r50_gpu_normalize_1x1x8_50e_kinetics400_rgb.py'; the entry name drops "
                 "the '.py'."),
                ("gpu_normalize: MMAction2 feeds uint8 frames to the model and a forward "
                 "pre-hook on the backbone normalises them on the GPU, (x - mean) / std with "
                 "the usual ImageNet mean/std. The weights expect the same normalised input as "
                 "the other TSM entries, so videozoo normalises in the transform as usual."))),
    entry(name="tsm_r50_video_1x1x8_50e_kinetics400_rgb", recipe=TSM_0X_K400_RAW,
          aliases=("tsm_r50_video_1x1x8_100e_kinetics400_rgb",),
          url="tsm_r50_video_1x1x8_100e_kinetics400_rgb/tsm_r50_video_1x1x8_100e_kinetics400_rgb_20200702-a77f4328.pth",
          log="tsm_r50_video_2d_1x1x8_50e_kinetics400_rgb", top=(70.25, 89.66),
          more=(REFERENCE_K400_8F_1X1,), data="videos, short side 256", decoder="decord",
          start_index=0, inference_time=74.0, inference_setting="8x1 frames", gpu_memory_mb=7077,
          train=dict(lr=0.02),
          notes=(("The checkpoint file is named tsm_r50_video_1x1x8_100e_kinetics400_rgb; the "
                 "table row and config are the 50-epoch "
                 "tsm_r50_video_1x1x8_50e_kinetics400_rgb."),)),
    entry(name="tsm_r50_dense_1x1x8_50e_kinetics400_rgb", recipe=TSM_0X_K400_DENSE,
          url="{config}/{config}_20210701-a54ff3d3.pth", log="20210617_103245", top=(73.46, 90.84)),
    entry(name="tsm_r50_dense_1x1x8_100e_kinetics400_rgb", recipe=TSM_0X_K400_DENSE,
          url="{config}/{config}_20210701-e3e5e97f.pth", log="20210613_034931", top=(74.55, 91.74),
          train=dict(epochs=100, lr=0.02, lr_milestones=(40, 80))),
    entry(name="tsm_r50_1x1x16_50e_kinetics400_rgb.340x256", recipe=TSM_0X_K400,
          aliases=("tsm_r50_1x1x16_50e_kinetics400_rgb", "tsm_r50_340x256_1x1x16_50e_kinetics400_rgb"),
          url="{config}/tsm_r50_340x256_1x1x16_50e_kinetics400_rgb_20201011-2f27f229.pth",
          log="20201011_205356", top=(72.09, 90.37), data="rawframes, 340x256",
          tests=("1x1 avg=none", "1x10"),
          segments=16, inference_time=47.0, inference_setting="16x1 frames", gpu_memory_mb=10404,
          train=dict(num_clips=16, lr=0.0075, batch_size="8 GPUs x 6 videos"),
          notes=(ONE_CLIP_16_PUBLISHED,),
          more=(top(70.67, 89.98, kind=REFERENCE, note="original TSM code: https://github.com/mit-han-lab/temporal-shift-module/blob/8d53d6fda40bea2f1b37a6095279c4b454d672bd/scripts/train_tsm_kinetics_rgb_16f.sh"),)),
    entry(name="tsm_r50_1x1x16_50e_kinetics400_rgb.256p", recipe=TSM_0X_K400,
          aliases=("tsm_r50_256p_1x1x16_50e_kinetics400_rgb",),
          url="tsm_r50_256p_1x1x16_50e_kinetics400_rgb/tsm_r50_256p_1x1x16_50e_kinetics400_rgb_20201010-85645c2a.pth",
          log="20201010_224825", top=(71.89, 90.73), data="rawframes, short side 256",
          tests=("1x1 avg=none", "1x10"), segments=16, gpu_memory_mb=10398,
          train=dict(num_clips=16, lr=0.0075, batch_size="32 GPUs x 6 videos"),
          notes=(ONE_CLIP_16_PUBLISHED,)),
    entry(name="tsm_r50_1x1x16_100e_kinetics400_rgb", recipe=TSM_0X_K400,
          url="{config}/{config}_20210701-41ac92b9.pth", log="20210618_193859", top=(72.8, 90.75),
          tests=("1x1", "1x10"), segments=16, gpu_memory_mb=10398,
          notes=(("At the checkpoint's date the config (0.x commit 5ac0587f, 2021-07) tested "
                 "with one clip x CenterCrop 224, the default protocol; '1x10' (today's config) "
                 "is the named alternative."),),
          train=dict(num_clips=16, epochs=100, lr=0.0075, batch_size="8 GPUs x 6 videos",
                     lr_milestones=(40, 80))),
    entry(name="tsm_nl_embedded_gaussian_r50_1x1x8_50e_kinetics400_rgb", recipe=TSM_0X_K400_RAW,
          url="{config}/{config}_20200724-f00f1336.pth", log="20200724_120023", top=(72.03, 90.25),
          arch="tsm_r50_nl_embedded_gaussian", gpu_memory_mb=8931,
          paper=TSM_PAPER + NON_LOCAL_PAPER, train=dict(batch_size="32 GPUs x 8 videos"),
          more=(top(71.81, 90.36, kind=REFERENCE, note="original TSM code"),)),
    entry(name="tsm_nl_gaussian_r50_1x1x8_50e_kinetics400_rgb", recipe=TSM_0X_K400_RAW,
          url="{config}/{config}_20200816-b93fd297.pth", log="20200815_210253", top=(70.7, 89.9),
          arch="tsm_r50_nl_gaussian", gpu_memory_mb=10125, paper=TSM_PAPER + NON_LOCAL_PAPER,
          train=dict(batch_size="32 GPUs x 8 videos")),
    entry(name="tsm_nl_dot_product_r50_1x1x8_50e_kinetics400_rgb", recipe=TSM_0X_K400_RAW,
          url="{config}/{config}_20200724-d8ad84d2.pth", log="20200723_220442", top=(71.6, 90.34),
          arch="tsm_r50_nl_dot_product", gpu_memory_mb=8358, paper=TSM_PAPER + NON_LOCAL_PAPER,
          train=dict(batch_size="32 GPUs x 8 videos")),
    entry(name="tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb", recipe=TSM_0X_K400,
          aliases=("tsm_mobilenetv2_dense_320p_1x1x8_100e_kinetics400_rgb",),
          url="{config}/tsm_mobilenetv2_dense_320p_1x1x8_100e_kinetics400_rgb_20210202-61135809.pth",
          log="20210129_024936", top=(68.46, 88.64), arch="tsm_mobilenetv2", tests=("dense 10x3",),
          gpu_memory_mb=3385, train=dict(epochs=100, weight_decay=2e-05, lr_milestones=(40, 80)),
          notes=(("Dense test sampling: 10 clips of 8 frames from a 64-frame window, x ThreeCrop "
                 "256 (30 views)."),)),
    entry(name="tsm_mobilenetv2_dense_1x1x8_kinetics400_rgb_port", recipe=TSM_0X_K400,
          config="tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb",
          url="tsm_mobilenetv2_dense_1x1x8_kinetics400_rgb_port_20210922-aa5cadf6.pth",
          top=(69.89, 89.01), arch="tsm_mobilenetv2", tests=("dense 10x3",), gpu_memory_mb=3385,
          source_tables=(TSM_0X,),
          train=dict(epochs=100, weight_decay=2e-05, lr_milestones=(40, 80)),
          notes=(("infer_ckpt: weights ported from the original TSM repository "
                 "(mit-han-lab/temporal-shift-module test_models.py), not trained in MMAction2; "
                 "the table links the config tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb "
                 "for it, whose test protocol the entry records. There is no training log."),)),
    entry(name="tsm_r50_video_1x1x8_50e_diving48_rgb", recipe=TSM_0X_DIVING48, top=(75.99, 97.16),
          url="{config}/{config}_20210426-aba5aa3d.pth", log="20210426_012424"),
    entry(name="tsm_r50_video_1x1x16_50e_diving48_rgb", recipe=TSM_0X_DIVING48, top=(81.62, 97.66),
          url="{config}/{config}_20210426-aa9631c0.pth", log="20210426_012823", segments=16,
          train=dict(num_clips=16, lr=0.005, batch_size="8 GPUs x 4 videos")),
    entry(name="tsm_r50_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1_AUG,
          url="{config}/{config}_20210203-01dce462.pth", log="20210203_150227",
          top={"efficient": (45.58, 75.02), "accurate": (47.7, 76.12)}),
    entry(name="tsm_r50_flip_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1_AUG, augment=FLIP,
          url="{config}/{config}_20210203-12596f16.pth", log="20210203_145829",
          top={"efficient": (47.1, 76.02), "accurate": (48.51, 77.56)}),
    entry(name="tsm_r50_randaugment_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1_AUG,
          url="{config}/{config}_20210324-481268d9.pth", log="{config}",
          top={"efficient": (47.16, 76.07), "accurate": (48.9, 77.92)}, augment=RANDAUGMENT),
    entry(name="tsm_r50_ptv_randaugment_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1_PTV, augment=PTV_RANDAUGMENT,
          url="{config}/{config}-ee93e5e3.pth", log="{config}",
          top={"efficient": (47.65, 76.67), "accurate": (48.66, 77.41)}),
    entry(name="tsm_r50_ptv_augmix_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1_PTV, augment=PTV_AUGMIX, url="{config}/{config}-4f4f4740.pth",
          log="{config}", top={"efficient": (46.26, 75.92), "accurate": (47.68, 76.49)}),
    entry(name="tsm_r50_flip_randaugment_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1_AUG,
          augment=FLIP_RANDAUGMENT, url="{config}/{config}_20210324-76937692.pth",
          log="{config}", top={"efficient": (47.85, 76.78), "accurate": (50.31, 78.18)}),
    entry(name="tsm_r50_1x1x16_50e_sthv1_rgb", recipe=TSM_0X_STHV1,
          url="{config}/{config}_20211202-b922e5d2.pth", log="{config}",
          top={"efficient": (47.77, 76.82), "accurate": (49.03, 77.83)}, segments=16,
          gpu_memory_mb=10390, train=dict(num_clips=16, lr=0.0075, batch_size="8 GPUs x 6 videos"),
          notes=(ACCURATE_IS_THE_CONFIG_DEFAULT,),
          more=(ref(47.05, 76.4, "efficient"), ref(48.61, 77.96), h100(47.62, 76.63, "efficient"),
                h100(49.28, 77.82))),
    entry(name="tsm_r101_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1,
          url="{config}/{config}_20201010-43fedf2e.pth", log="{config}",
          top={"efficient": (46.09, 75.41), "accurate": (48.59, 77.1)}, arch="tsm_r101",
          gpu_memory_mb=9800,
          more=(ref(46.64, 75.4, "efficient"), ref(48.13, 77.31), h100(45.72, 74.67, "efficient"),
                h100(48.43, 76.72)),
          notes=(("The table's backbone column says ResNet50; the config (depth=101, "
                 "torchvision://resnet101) and the name are ResNet-101."),
                ("At the checkpoint's date the config (0.x commit 0934d5eb, 2020-10) tested "
                 "with one clip x CenterCrop 224 and average_clips=None; the entry follows the "
                 "0.x config of the table's link."),
                ACCURATE_IS_THE_CONFIG_DEFAULT)),
    entry(name="tsm_r50_1x1x8_50e_sthv2_rgb", recipe=TSM_0X_STHV2,
          aliases=("tsm_r50_256h_1x1x8_50e_sthv2_rgb",),
          url="{config}/tsm_r50_256h_1x1x8_50e_sthv2_rgb_20210816-032aa4da.pth",
          log="20210816_224310", top={"efficient": (59.11, 85.39), "accurate": (61.82, 86.8)},
          gpu_memory_mb=7069, notes=(ACCURATE_IS_THE_CONFIG_DEFAULT,),
          more=(ref(61.2, None), h240(57.86, 84.67, "efficient"), h240(61.12, 86.26),
                h240_ref(57.98, 84.57, "efficient"), h240_ref(60.69, 86.28),
                h256(60.79, 86.6, "efficient"), h256(63.84, 88.3))),
    entry(name="tsm_r50_1x1x16_50e_sthv2_rgb", recipe=TSM_0X_STHV2, segments=16,
          train=dict(num_clips=16), top={"efficient": (61.06, 86.66), "accurate": (63.19, 87.93)},
          url="{config}/tsm_r50_256h_1x1x16_50e_sthv2_rgb_20210331-0a45549c.pth",
          log="20210331_134458", aliases=("tsm_r50_256h_1x1x16_50e_sthv2_rgb",),
          gpu_memory_mb=10400, tests=("efficient", "accurate"),
          more=(ref(63.1, None), h240(59.93, 86.1, "efficient"), h240(62.04, 87.35),
                h240_ref(58.9, 85.29, "efficient"), h240_ref(60.98, 86.6)),
          notes=(("The table's config link for this row points to "
                 "tsm_r50_1x1x8_50e_sthv2_rgb.py; the row, the checkpoint and the config "
                 "tsm_r50_1x1x16_50e_sthv2_rgb are the 16-segment model."),
                EFFICIENT_UNTIL_28AC80CB)),
    entry(name="tsm_r101_1x1x8_50e_sthv2_rgb", recipe=TSM_0X_STHV2, arch="tsm_r101",
          top={"efficient": (60.88, 86.56), "accurate": (63.84, 88.3)}, gpu_memory_mb=9727,
          url="{config}/tsm_r101_256h_1x1x8_50e_sthv2_rgb_20210401-df97f3e1.pth",
          log="20210401_143656", aliases=("tsm_r101_256h_1x1x8_50e_sthv2_rgb",),
          train=dict(lr=0.01, batch_size="8 GPUs x 8 videos"), tests=("efficient", "accurate"),
          notes=(EFFICIENT_UNTIL_28AC80CB,),
          more=(ref(63.3, None), top(60.79, 86.6, "efficient", kind=REVISION,
                                     note="the README at 454aa3ff (2021-04-14) printed this number"),
                h240(58.59, 85.07, "efficient"), h240(61.51, 86.9),
                h240_ref(58.89, 85.14, "efficient"), h240_ref(61.36, 87.0))),
    entry(name="tsm_r50_mixup_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1,
          url="{config}/{config}-9eca48e5.pth", log="{config}", gpu_memory_mb=None,
          train=dict(augment=Augment(crop="multiscale", flip=False, mixup_alpha=0.2)),
          more=(top(46.35, 75.07, protocol="efficient", section="MixUp & CutMix on Something-Something V1"),
                top(48.49, 76.88, section="MixUp & CutMix on Something-Something V1"),
                top(0.77, 0.05, protocol="efficient", section="MixUp & CutMix on Something-Something V1", kind=DELTA, note="change against tsm_r50_1x1x8_50e_sthv1_rgb", entries=("tsm_r50_1x1x8_50e_sthv1_rgb",)),
                top(0.79, 0.7, section="MixUp & CutMix on Something-Something V1", kind=DELTA, note="change against tsm_r50_1x1x8_50e_sthv1_rgb", entries=("tsm_r50_1x1x8_50e_sthv1_rgb",))),
          notes=(ACCURATE_IS_THE_CONFIG_DEFAULT,
                ("The table's accurate top-5 change (+0.70) does not match its own numbers: "
                 "76.88 against the baseline's 76.12 is +0.76."))),
    entry(name="tsm_r50_cutmix_1x1x8_50e_sthv1_rgb", recipe=TSM_0X_STHV1,
          url="{config}/{config}-34934615.pth", log="{config}", gpu_memory_mb=None,
          train=dict(augment=Augment(crop="multiscale", flip=False, cutmix_alpha=0.2)),
          notes=(ACCURATE_IS_THE_CONFIG_DEFAULT,),
          more=(top(45.92, 75.23, protocol="efficient", section="MixUp & CutMix on Something-Something V1"),
                top(47.46, 76.71, section="MixUp & CutMix on Something-Something V1"),
                top(0.34, 0.21, protocol="efficient", section="MixUp & CutMix on Something-Something V1", kind=DELTA, note="change against tsm_r50_1x1x8_50e_sthv1_rgb", entries=("tsm_r50_1x1x8_50e_sthv1_rgb",)),
                top(-0.24, 0.59, section="MixUp & CutMix on Something-Something V1", kind=DELTA, note="change against tsm_r50_1x1x8_50e_sthv1_rgb", entries=("tsm_r50_1x1x8_50e_sthv1_rgb",)))),
    entry(name="tsm_r50_1x1x8_50e_jester_rgb", recipe=_TSM, url="{config}/{config}-c799267e.pth",
          log="{config}", dataset="jester", data="rawframes, height 100",
          filename_tmpl="{:05}.jpg", tests=("accurate", "efficient"),
          notes=(ACCURATE_IS_THE_CONFIG_DEFAULT,),
          more=(top(96.5, None, protocol="efficient", section="Jester"),
                top(97.2, None, section="Jester")),
          train=dict(weight_decay=0.0005,
                     augment=Augment(crop="random_resized", flip=True, label_swap=True))),
    entry(name="tsm_k400_pretrained_r50_1x1x8_25e_hmdb51_rgb", recipe=TSM_0X_FINETUNE,
          url="{config}/{config}_20210630-10c74ee5.pth", log="20210605_182554", top=(72.68, 92.03)),
    entry(name="tsm_k400_pretrained_r50_1x1x16_25e_hmdb51_rgb", recipe=TSM_0X_FINETUNE,
          url="{config}/{config}_20210630-4785548e.pth", log="20210605_182505", top=(74.77, 93.86),
          segments=16,
          train=dict(num_clips=16, lr=0.00075, batch_size="8 GPUs x 6 videos",
                     pretrain="Kinetics-400 (tsm_r50_1x1x16_50e_kinetics400_rgb.256p)")),
    entry(name="tsm_k400_pretrained_r50_1x1x8_25e_ucf101_rgb", recipe=TSM_0X_FINETUNE,
          url="{config}/{config}_20210630-1fae312b.pth", log="20210605_182720",
          more=(top(94.5, 99.58, section="UCF101"),), dataset="ucf101", gpu_memory_mb=10389),
    entry(name="tsm_k400_pretrained_r50_1x1x16_25e_ucf101_rgb", recipe=TSM_0X_FINETUNE,
          url="{config}/{config}_20210630-8df9c358.pth", log="20210605_182720",
          more=(top(94.58, 99.37, section="UCF101"),), dataset="ucf101", segments=16,
          gpu_memory_mb=10389,
          train=dict(num_clips=16, lr=0.00075, batch_size="8 GPUs x 6 videos",
                     pretrain="Kinetics-400 (tsm_r50_1x1x16_50e_kinetics400_rgb.256p)")),
    entry(name="tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb", recipe=TSM_1X_K400,
          url="{config}/{config}_20220831-64d69186.pth", log="{config}", top=(73.18, 90.56),
          flops="32.88G", params="24.33M", notes=(PARAMS_ARE_174_CLASS_COUNT,)),
    entry(name="tsm_imagenet-pretrained-r50_8xb16-1x1x8-100e_kinetics400-rgb", recipe=TSM_1X_K400,
          url="{config}/{config}_20220831-a6db1e5d.pth", log="{config}", top=(73.22, 90.22),
          flops="32.88G", params="24.33M",
          train=dict(epochs=100, lr_milestones=(50, 90), warmup_epochs=10),
          notes=(PARAMS_ARE_174_CLASS_COUNT,)),
    entry(name="tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_kinetics400-rgb", recipe=TSM_1X_K400,
          url="{config}/{config}_20220831-042b1748.pth", log="{config}", top=(75.12, 91.55),
          segments=16, flops="65.75G", params="24.33M", train=dict(num_clips=16),
          notes=(PARAMS_ARE_174_CLASS_COUNT,)),
    entry(name="tsm_imagenet-pretrained-r50_8xb16-dense-1x1x8-50e_kinetics400-rgb",
          recipe=TSM_1X_K400, url="{config}/{config}_20220831-f55d3c2b.pth", log="{config}",
          top=(73.38, 90.78), tests=("dense 10x10",), flops="32.88G", params="24.33M",
          train=dict(dense=True),
          notes=(("The table's protocol reads '8 clips x 10 crop'; DenseSampleFrames takes 10 "
                 "clips of 8 frames, so the config averages 10 x 10 = 100 views."),
                PARAMS_ARE_174_CLASS_COUNT)),
    entry(name="tsm_imagenet-pretrained-r50-nl-dot-product_8xb16-1x1x8-50e_kinetics400-rgb",
          recipe=TSM_1X_K400_NL, url="{config}/{config}_20220831-108bfde5.pth", log="{config}",
          top=(74.49, 91.15), arch="tsm_r50_nl_dot_product", flops="61.30G", params="31.68M"),
    entry(name="tsm_imagenet-pretrained-r50-nl-gaussian_8xb16-1x1x8-50e_kinetics400-rgb",
          recipe=TSM_1X_K400_NL, url="{config}/{config}_20220831-7e54dacf.pth", log="{config}",
          top=(73.66, 90.99), arch="tsm_r50_nl_gaussian", flops="59.06G", params="28.00M"),
    entry(name="tsm_imagenet-pretrained-r50-nl-embedded-gaussian_8xb16-1x1x8-50e_kinetics400-rgb",
          recipe=TSM_1X_K400_NL, url="{config}/{config}_20220831-35eddb57.pth", log="{config}",
          top=(74.34, 91.23), arch="tsm_r50_nl_embedded_gaussian", flops="61.30G", params="31.68M"),
    entry(name="tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb",
          recipe=TSM_1X_K400, url="{config}/{config}_20230414-401127fd.pth", log="{config}",
          top=(68.71, 88.32), arch="tsm_mobilenetv2", tests=("1x3",), flops="3.269G",
          params="2.736M",
          notes=("The table's FLOPs (3.269G) were counted at the 256x256 test crop.",
                 ("On the checkpoint's date (2023-04-14) the config was still named "
                  "..._8xb16-1x1x8-50e_... (50 epochs, TenCrop 224, weight decay 1e-4); it was "
                  "renamed and given the 100-epoch recipe, weight decay 2e-5 and ThreeCrop 256 "
                  "when the row was published (f2637ee3, 2023-07-06). The entry follows the "
                  "published config.")),
          train=dict(epochs=100, weight_decay=2e-05, lr_milestones=(40, 80), warmup_epochs=0.0)),
    entry(name="tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb",
          recipe=TSM_1X_K400, url="{config}/{config}_20230825-a7f8876b.pth", log="{config}",
          top=(74.38, 91.71), arch="tsm_mobileone_s4", tests=("1x3",), segments=16, flops="48.65G",
          params="13.72M",
          train=dict(num_clips=16, weight_decay=2e-05, batch_size="8 GPUs x 8 videos"),
          notes=(("The table's protocol reads '16 clips x 10 crop'; the config tests one "
                 "16-frame clip x ThreeCrop 256 (3 views)."),
                ("The backbone keeps num_segments=8 from the base config while the head uses "
                 "16: the shift works on two independent groups of 8 frames inside each "
                 "16-frame view (videozoo's tsm_mobileone_s4 defaults to shift groups of 8)."),
                "The config is named 8xb16 but trains with 8 videos per GPU.",
                ("Re-parameterisable: MMAction2's deploy config fuses the MobileOne branches "
                 "for inference; this checkpoint holds the unfused (training-form) weights."))),
    entry(name="tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb", recipe=TSM_1X_STHV2,
          url="{config}/{config}_20230317-be0fc26e.pth", log="{config}", top=(62.72, 87.7),
          flops="32.88G", params="23.87M", notes=(PROTOCOL_8X3_IS_TWICE_SAMPLED,)),
    entry(name="tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb", recipe=TSM_1X_STHV2,
          url="{config}/{config}_20230317-ec6696ad.pth", log="{config}", top=(64.16, 88.61),
          segments=16, flops="65.75G", params="23.87M", train=dict(num_clips=16),
          notes=(("The table's protocol reads '16 clips x 3 crop'; the intended test samples "
                 "twice (two 16-frame clips) x ThreeCrop 256, i.e. 6 views."),
                ("The 1.x config's test_dataloader = dict(pipeline=test_pipeline, test_mode=True) "
                 "sets the 16-clip pipeline on the loader, not on its dataset: mmengine passes "
                 "those keys to torch's DataLoader, which refuses them, and the dataset would keep "
                 "the 8-clip twice-sampled pipeline of its _base_. The entry keeps the intended 16 "
                 "twice-sampled clips x ThreeCrop 256 (the config as written cannot have produced "
                 "the reported number)."))),
    entry(name="tsm_imagenet-pretrained-r101_8xb16-1x1x8-50e_sthv2-rgb", recipe=TSM_1X_STHV2,
          url="{config}/{config}_20230320-efcc0d1b.pth", log="{config}", top=(63.7, 88.28),
          arch="tsm_r101", flops="62.66G", params="42.86M", notes=(PROTOCOL_8X3_IS_TWICE_SAMPLED,)),
)
