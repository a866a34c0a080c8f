"""TSN entries: every checkpoint of MMAction2 0.x's TSN model zoo table (``001_...``).

Protocols follow the 0.x configs (``average=None``: TSNHead averages the features of all views and
MMAction2 0.x returns the raw logits of that mean feature). The Kinetics-400 data-benchmark rows
share checkpoints with the main table where the table links the same file; their extra "25x3"
test rows are reported results of those entries. The two-stream rows are fusion results attached
to both the RGB and the flow entry.
"""
from __future__ import annotations

from .._pretrained import Augment, ReportedResult
from ._common import (
    FUSION,
    REFERENCE,
    REVISION,
    TSN_0X,
    TSN_PAPER,
    Recipe,
    entry,
    mean_ap,
    top,
)

TSM_CODE = ("original TSM code: "
            "https://github.com/mit-han-lab/temporal-shift-module/tree/8d53d6fda40bea2f1b37a6095279c4b454d672bd#training")
RESOLUTION_340X256_NOT_320P = ("The table lists resolution 340x256 although the config name "
                               "says 320p.")
FLOW_CONFIGS_LATER = ("The flow configs as first published (8cb1790a, 2020-07-05) lack the "
                      "backbone's in_channels=10 and normalise with the RGB mean/std, so they "
                      "cannot have produced these weights; the flow mean/std (128, 128) arrived "
                      "with 1396c3fc (2021-03-08, #693) and in_channels=10 with 3488f903 "
                      "(2021-06-12). The entry follows the weights.")
VIDEO_DENSE_RETEST = ("The reported 70.40 / 89.12 appeared with the retest 553c59ef (2020-07-24, #50), "
                      "when the config tested 8 dense clips (10 positions, 80 frames) with CenterCrop "
                      "224; earlier README numbers (69.22, 70.21) came with 25 dense clips. TenCrop 224 "
                      "arrived with fc9f4c30 (2021-09-09, #1138) without a new number. Default: 80 "
                      "frames x CenterCrop 224 ('80x1'); '80x10' (today's config) is the named "
                      "alternative.")
FLOW_INPUT = ("Flow input: 5 consecutive (x, y) flow frames stacked to 10 channels, normalised "
              "(v - 128) / 128; TenCrop's mirrored crops do not invert the x component.")


def readme(top1: float, top5: float, protocol: str, commit: str) -> ReportedResult:
    """A number another README revision printed, under the protocol of its day."""
    return top(top1, top5, protocol, kind=REVISION, note=f"the README at {commit} printed this "
               "number (test protocol of its date)")


_TSN = Recipe(arch="tsn_r50", version="0.x", dataset="kinetics400", data="rawframes, 340x256",
              decoder="rawframes", start_index=1,
              tests=("25x10",), source=TSN_0X, section="Kinetics-400", source_tables=(TSN_0X,),
              paper=TSN_PAPER,
              url_base="https://openmmlab.oss-accelerate.aliyuncs.com/mmaction/recognition/tsn/",
              gpu_memory_mb=8344,
              train=dict(epochs=100, lr=0.01, batch_size="8 GPUs x 32 videos",
                         lr_milestones=(40, 80), augment=Augment(crop="multiscale", flip=True),
                         clip_grad=40.0))

TSN_0X_K400 = _TSN.but(tests=("25x10", "25x3"))

TSN_0X_FLOW = _TSN.but(arch="tsn_r50_flow", data="flow frames, short side 320",
                       filename_tmpl="{}_{:05d}.jpg", modality="flow", clip_len=5,
                       gpu_memory_mb=5780,
                       train=dict(epochs=110, lr=0.001, batch_size="16 GPUs x 8 videos",
                                  lr_milestones=(70, 100),
                                  augment=Augment(crop="random_resized", flip=True), clip_len=5))

TSN_0X_ANET_FLOW = TSN_0X_FLOW.but(dataset="activitynet", section="ActivityNet v1.3",
                                   data="flow frames, 340x256", filename_tmpl="flow_{}_{:05d}.jpg",
                                   start_index=0, arch_kwargs=dict(dropout=0.8),
                                   notes=(RESOLUTION_340X256_NOT_320P,),
                                   train=dict(epochs=150, lr_milestones=(60, 120),
                                              pretrain="Kinetics-400 "
                                                       "(tsn_r50_320p_1x1x8_110e_kinetics400_flow)"))

TSN_0X_K400_BENCH = _TSN.but(tests=("25x10", "25x3"),
                             section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)",
                             gpu_memory_mb=None,
                             train=dict(augment=Augment(crop="random_resized", flip=True),
                                        num_clips=3))

TSN_0X_STH = _TSN.but(dataset="sthv1", data="rawframes, height 100", filename_tmpl="{:05}.jpg",
                      arch_kwargs=dict(dropout=0.5), section="Something-Something V1",
                      gpu_memory_mb=10978,
                      train=dict(epochs=50, lr=0.02, batch_size="8 GPUs x 4 videos",
                                 lr_milestones=(20, 40),
                                 augment=Augment(crop="multiscale", flip=False), clip_grad=20.0,
                                 weight_decay=0.0005, note="SyncBN"))

TSN_0X_STHV2 = TSN_0X_STH.but(dataset="sthv2", data="rawframes, height 240", train=dict(note=""),
                              filename_tmpl="img_{:05d}.jpg", section="Something-Something V2")


def sthv2(top1: float, top5: float, ref1: float, ref5: float) -> tuple[ReportedResult, ...]:
    return top(top1, top5), top(ref1, ref5, kind=REFERENCE, note=TSM_CODE)


def classes_339(commit: str, today: str) -> str:
    return (f"The config at the checkpoint's date (commit {commit}) set num_classes=339 (a copy "
            "of the Moments in Time value) and tested with TenCrop 224, the default protocol; "
            "the checkpoint's classifier may have 339 outputs, of which the first 174 are the "
            "Something-Something V2 classes (UNCONFIRMED: the file could not be opened). The 0.x "
            f"config now has 174 classes and ThreeCrop 256, the named protocol '{today}'.")


TSN_0X_ANET = _TSN.but(dataset="activitynet", arch_kwargs=dict(dropout=0.8), tests=("25x3",),
                       section="ActivityNet v1.3", gpu_memory_mb=5692,
                       train=dict(epochs=50, lr=0.001, batch_size="8 GPUs x 8 videos",
                                  lr_milestones=(20, 40),
                                  augment=Augment(crop="random_resized", flip=True),
                                  pretrain="Kinetics-400 (tsn_r50_320p_1x1x8_100e_kinetics400_rgb)"),
                       notes=(RESOLUTION_340X256_NOT_320P,))

ENTRIES = (
    entry(name="tsn_r50_1x1x3_80e_ucf101_rgb", recipe=_TSN,
          url="{config}/{config}_20200613-d6ad9c48.pth", log="20200613_020013",
          more=(top(80.12, 96.09, section="UCF-101"),), dataset="ucf101", data="rawframes",
          mean=(104.0, 117.0, 128.0), std=(1.0, 1.0, 1.0),
          arch_kwargs=dict(dropout=0.8, init_std=0.001), gpu_memory_mb=8332,
          config_commit="8b2f4ced07edbeca86bcbcb05e6f7eac17e42240",
          notes=(("The table links tsn_r50_1x1x3_75e_ucf101_rgb.py, a later config with its own "
                 "checkpoint (ImageNet mean/std, ThreeCrop 256). This checkpoint comes from the "
                 "80-epoch config tsn_r50_1x1x3_80e_ucf101_rgb (0.x history, commit 8b2f4ced, "
                 "removed in #273), which the entry follows: frames normalised with mean (104, "
                 "117, 128) and std 1 in RGB order, 25 frames x TenCrop 224, dropout 0.8."),),
          train=dict(num_clips=3, epochs=80, lr=0.001, weight_decay=0.0005, lr_milestones=(30, 60))),
    entry(name="tsn_r50_1x1x3_100e_kinetics400_rgb.340x256", recipe=TSN_0X_K400,
          aliases=("tsn_r50_1x1x3_100e_kinetics400_rgb", "tsn_r50_multiscalecrop_340x256_1x1x3_100e_kinetics400_rgb"),
          url="{config}/{config}_20200614-e508be42.pth", log="20200614_063526", top=(70.6, 89.26),
          inference_time=4.3, inference_setting="25x10 frames", train=dict(num_clips=3),
          more=(top(70.6, 89.26, section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)"),
                top(70.52, 89.39, protocol="25x3", section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)"),)),
    entry(name="tsn_r50_1x1x3_100e_kinetics400_rgb.256p", recipe=TSN_0X_K400,
          aliases=("tsn_r50_multiscalecrop_256p_1x1x3_100e_kinetics400_rgb", "tsn_r50_256p_1x1x3_100e_kinetics400_rgb"),
          url="tsn_r50_256p_1x1x3_100e_kinetics400_rgb/tsn_r50_256p_1x1x3_100e_kinetics400_rgb_20200725-22592236.pth",
          log="20200725_031325", top=(70.42, 89.03), data="rawframes, short side 256",
          gpu_memory_mb=8343, train=dict(num_clips=3),
          more=(top(70.42, 89.03, section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)"),
                top(70.79, 89.42, protocol="25x3", section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)"),)),
    entry(name="tsn_r50_dense_1x1x5_50e_kinetics400_rgb", recipe=TSN_0X_K400,
          config="tsn_r50_dense_1x1x5_100e_kinetics400_rgb",
          aliases=("tsn_r50_dense_1x1x5_100e_kinetics400_rgb",),
          url="{config}/{config}_20200627-a063165f.pth", log="20200627_105310", top=(70.18, 89.1),
          arch_kwargs=dict(dropout=0.5, init_std=0.001), tests=("dense 80x1",),
          inference_time=12.7, inference_setting="8x10 frames", gpu_memory_mb=7028,
          more=(top(69.15, 88.56, kind=REFERENCE, note=TSM_CODE),),
          notes=(("The table names the row tsn_r50_dense_1x1x5_50e_kinetics400_rgb but links the "
                 "config tsn_r50_dense_1x1x5_100e_kinetics400_rgb, which the checkpoint name "
                 "matches (100 epochs)."),
                ("The config trains on 5 dense segments but tests on DenseSampleFrames with 8 "
                 "clips.")),
          train=dict(num_clips=5, lr=0.03, batch_size="24 GPUs x 16 videos", dense=True,
                     clip_grad=20.0)),
    entry(name="tsn_r50_320p_1x1x3_100e_kinetics400_rgb", recipe=TSN_0X_K400,
          aliases=("tsn_r50_randomresizedcrop_320p_1x1x3_100e_kinetics400_rgb",),
          url="{config}/{config}_20200702-cc665e2a.pth",
          log="tsn_r50_f3_kinetics400_shortedge_70.9_89.5", top=(70.91, 89.51),
          data="rawframes, short side 320", tests=("25x3", "25x10"), inference_time=10.7,
          inference_setting="25x3 frames",
          more=(top(70.44, 89.23, protocol="25x10", section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)"),
                top(72.76, 90.52, kind=FUSION, note="two-stream: RGB + flow scores 1:1 without softmax (tsn_r50_320p_1x1x3_kinetics400_twostream)", entries=("tsn_r50_320p_1x1x3_110e_kinetics400_flow",)),
                top(70.91, 89.51, section="Kinetics-400 Data Benchmark (8-gpus, ResNet50, ImageNet pretrain; 3 segments)"),),
          train=dict(num_clips=3, batch_size="16 GPUs x 32 videos",
                     augment=Augment(crop="random_resized", flip=True))),
    entry(name="tsn_r50_320p_1x1x3_110e_kinetics400_flow", recipe=TSN_0X_FLOW,
          url="{config}/{config}_20200705-3036bab6.pth",
          log="tsn_r50_f3_kinetics400_flow_shortedge_55.7_79.9", top=(55.7, 79.85),
          gpu_memory_mb=8471, train=dict(num_clips=3, lr=0.005, batch_size="16 GPUs x 32 videos"),
          notes=(FLOW_INPUT, FLOW_CONFIGS_LATER),
          more=(top(72.76, 90.52, kind=FUSION, note="two-stream: RGB + flow scores 1:1 without softmax (tsn_r50_320p_1x1x3_kinetics400_twostream)", entries=("tsn_r50_320p_1x1x3_100e_kinetics400_rgb",)),)),
    entry(name="tsn_r50_1x1x8_100e_kinetics400_rgb", recipe=TSN_0X_K400,
          config="tsn_r50_320p_1x1x8_100e_kinetics400_rgb",
          aliases=("tsn_r50_256p_1x1x8_100e_kinetics400_rgb",),
          url="tsn_r50_256p_1x1x8_100e_kinetics400_rgb/tsn_r50_256p_1x1x8_100e_kinetics400_rgb_20200817-883baf16.pth",
          log="20200815_173413", top=(71.8, 90.17), data="rawframes, short side 256",
          tests=("25x3",), gpu_memory_mb=8343,
          notes=(("The row is named tsn_r50_1x1x8_100e_kinetics400_rgb (short side 256 data) but "
                 "links the config tsn_r50_320p_1x1x8_100e_kinetics400_rgb; a config of the "
                 "row's name was removed from 0.x (commit 11d7479a) before this checkpoint was "
                 "published. The entry follows the linked config's protocol (25 frames x "
                 "ThreeCrop 256)."),),
          train=dict(lr=0.00375, batch_size="8 GPUs x 12 videos",
                     augment=Augment(crop="random_resized", flip=True))),
    entry(name="tsn_r50_320p_1x1x8_100e_kinetics400_rgb", recipe=TSN_0X_K400,
          url="{config}/{config}_20200702-ef80e3d7.pth",
          log="tsn_r50_f8_kinetics400_shortedge_72.4_90.6", top=(72.41, 90.55),
          data="rawframes, short side 320", tests=("25x3",), inference_time=11.1,
          inference_setting="25x3 frames",
          more=(top(74.64, 91.77, kind=FUSION, note="two-stream: RGB + flow scores 1:1 without softmax (tsn_r50_320p_1x1x8_kinetics400_twostream)", entries=("tsn_r50_320p_1x1x8_110e_kinetics400_flow",)),),
          train=dict(lr=0.00375, batch_size="24 GPUs x 12 videos",
                     augment=Augment(crop="random_resized", flip=True))),
    entry(name="tsn_r50_320p_1x1x8_110e_kinetics400_flow", recipe=TSN_0X_FLOW,
          url="{config}/{config}_20200705-1f39486b.pth",
          log="tsn_r50_f8_kinetics400_flow_shortedge_57.8_81.0", top=(57.76, 80.99),
          gpu_memory_mb=8473, train=dict(lr=0.001875, batch_size="32 GPUs x 12 videos"),
          notes=(FLOW_INPUT, FLOW_CONFIGS_LATER),
          more=(top(74.64, 91.77, kind=FUSION, note="two-stream: RGB + flow scores 1:1 without softmax (tsn_r50_320p_1x1x8_kinetics400_twostream)", entries=("tsn_r50_320p_1x1x8_100e_kinetics400_rgb",)),)),
    entry(name="tsn_r50_dense_1x1x8_100e_kinetics400_rgb", recipe=TSN_0X_K400,
          url="{config}/{config}_20200606-e925e6e3.pth", log="20200606_003901", top=(70.77, 89.3),
          tests=("dense 80x1",), inference_time=12.2, inference_setting="8x10 frames",
          train=dict(lr=0.005, batch_size="8 GPUs x 12 videos", dense=True),
          more=(top(68.75, 88.42, kind=REFERENCE, note=TSM_CODE),)),
    entry(name="tsn_r50_video_1x1x8_100e_kinetics400_rgb", recipe=TSN_0X_K400,
          url="{config}/{config}_20200702-568cde33.pth",
          log="tsn_r50_video_2d_1x1x8_100e_kinetics400_rgb", top=(71.79, 90.25),
          data="videos, short side 256", decoder="decord", start_index=0, tests=("25x3", "25x10"),
          gpu_memory_mb=21558,
          more=(readme(69.22, 88.69, "25x10", "65102f01"), readme(71.14, 89.63, "25x10", "fc9f4c30")),
          notes=(("The reported 71.79 / 90.25 came with the retest 553c59ef (2020-07-24), when the "
                 "config tested 25 frames x ThreeCrop 256 (the default '25x3'); the README showed "
                 "69.22 / 88.69 before and 71.14 / 89.63 after fc9f4c30 (2021-09-09) moved the "
                 "config to TenCrop 224 (the named protocol '25x10')."),)),
    entry(name="tsn_r50_video_dense_1x1x8_100e_kinetics400_rgb", recipe=TSN_0X_K400,
          url="{config}/{config}_20200703-0f19175f.pth",
          log="tsn_r50_video_2d_1x1x8_dense_100e_kinetics400_rgb", top=(70.4, 89.12),
          data="videos, short side 256", decoder="decord", start_index=0,
          tests=("dense 80x1", "dense 80x10", "dense 250x1"), gpu_memory_mb=21553,
          train=dict(dense=True),
          more=(readme(69.22, 88.69, "250x1", "65102f01"), readme(70.21, 89.0, "250x1", "b3e8fdf3")),
          notes=(VIDEO_DENSE_RETEST,)),
    entry(name="tsn_r50_randomresizedcrop_340x256_1x1x3_100e_kinetics400_rgb",
          recipe=TSN_0X_K400_BENCH, url="data_benchmark/{config}/{config}_20200725-88cb325a.pth",
          log="{config}_20200725", top={"25x10": (70.11, 89.01), "25x3": (69.95, 89.02)}),
    entry(name="tsn_r50_multiscalecrop_320p_1x1x3_100e_kinetics400_rgb", recipe=TSN_0X_K400_BENCH,
          url="data_benchmark/{config}/{config}_20200725-9922802f.pth", log="{config}_20200725",
          top={"25x10": (70.32, 89.25), "25x3": (70.54, 89.39)}, data="rawframes, short side 320",
          train=dict(augment=Augment(crop="multiscale", flip=True))),
    entry(name="tsn_r50_randomresizedcrop_256p_1x1x3_100e_kinetics400_rgb",
          recipe=TSN_0X_K400_BENCH,
          aliases=("tsn_r50_256p_randomresize_1x1x3_100e_kinetics400_rgb",),
          url="tsn_r50_256p_randomresize_1x1x3_100e_kinetics400_rgb/tsn_r50_256p_randomresize_1x1x3_100e_kinetics400_rgb_20200817-ae7963ca.pth",
          log="20200815_172601", top={"25x10": (69.8, 89.06), "25x3": (70.48, 89.89)},
          data="rawframes, short side 256", tests=("25x3", "25x10"),
          notes=(("The table lists the 25x10 row first, but the config tests with ThreeCrop 256 "
                 "(25x3), which is the entry's default protocol."),)),
    entry(name="tsn_r50_1x1x8_50e_sthv1_rgb", recipe=TSN_0X_STH,
          url="{config}/{config}_20200618-061b9195.pth", log="tsn_sthv1", top=(18.55, 44.8),
          tests=("8x10",), train=dict(batch_size="8 GPUs x 16 videos", weight_decay=0.0001),
          more=(top(17.53, 44.29, kind=REFERENCE, note=TSM_CODE),)),
    entry(name="tsn_r50_1x1x16_50e_sthv1_rgb", recipe=TSN_0X_STH,
          url="{config}/{config}_20200614-7e2fe4f1.pth", log="20200614_211932", top=(15.77, 39.85),
          arch_kwargs=dict(dropout=0.5, init_std=0.001), tests=("8x1",), gpu_memory_mb=5691,
          more=(top(13.33, 35.58, kind=REFERENCE, note=TSM_CODE),),
          notes=("The config trains on 16 segments but tests on 8 frames x CenterCrop 224.",),
          train=dict(num_clips=16, lr=0.01, augment=Augment(crop="multiscale", flip=True))),
    entry(name="tsn_r50_1x1x8_50e_sthv2_rgb", recipe=TSN_0X_STHV2, tests=("8x10", "8x3"),
          url="{config}/{config}_20200618-096db436.pth", log="tsn_sthv2",
          more=sthv2(32.41, 64.05, 30.32, 58.38), notes=(classes_339("44a97ed8", "8x3"),),
          train=dict(weight_decay=0.0001, batch_size="16 GPUs x 16 videos", clip_grad=40.0)),
    entry(name="tsn_r50_1x1x16_50e_sthv2_rgb", recipe=TSN_0X_STHV2, tests=("16x10", "16x3"),
          url="{config}/{config}_20200614-b55c5700.pth", log="20200614_203248",
          arch_kwargs=dict(dropout=0.5, init_std=0.001), gpu_memory_mb=5698,
          train=dict(num_clips=16, lr=0.005), more=sthv2(22.48, 49.08, 22.5, 47.29),
          notes=(classes_339("1a69a193", "16x3"),)),
    entry(name="tsn_r50_1x1x6_100e_mit_rgb", recipe=_TSN,
          url="{config}/{config}_20200618-d512ab1b.pth", log="tsn_mit",
          more=(top(26.84, 51.6, section="Moments in Time"),), dataset="mit",
          data="rawframes, short side 256", tests=("6x3",), gpu_memory_mb=8339,
          train=dict(num_clips=6, batch_size="16 GPUs x 32 videos"),
          notes=(("The 0.x config's test pipeline does not run as shipped (it starts with "
                 "DecordDecode instead of DecordInit, and FormatShape has no input_format). The "
                 "entry records the intended protocol (6 frames x ThreeCrop 256, raw logits), "
                 "UNCONFIRMED."),
                ("When the checkpoint was trained the config (0b670873, 2020-06-16) read "
                 "rawframes with lr 0.01 for 32 videos per GPU; the 0.x config now reads videos "
                 "with decord (lr 0.005, 16 videos per GPU)."))),
    entry(name="tsn_r101_1x1x5_50e_mmit_rgb", recipe=_TSN,
          url="{config}/{config}_20200618-642f450d.pth", log="tsn_mmit",
          more=(mean_ap(61.09, section="Multi-Moments in Time"),), arch="tsn_r101", dataset="mmit",
          data="rawframes, short side 256",
          arch_kwargs=dict(dropout=0.5), tests=("5x1@256",), gpu_memory_mb=10467, multi_label=True,
          notes=(("Multi-label: trained with BCE (loss weight 160); the table reports mean "
                 "average precision (MMAction2's mmit_mean_average_precision, averaged over "
                 "videos) on raw scores."),
                ("When the row was published (be1e3645, 2020-07-07) the config read rawframes and "
                 "cropped one random 256x256 region at test time (MultiGroupCrop crop_size=256, "
                 "groups=1; removed in 091297ac, 2021-09-28, which made it CenterCrop 256). The "
                 "reported mAP therefore came from a random crop; CenterCrop 256 is its "
                 "deterministic stand-in.")),
          train=dict(num_clips=5, epochs=50, batch_size="16 GPUs x 16 videos",
                     lr_milestones=(20, 40), fc_lr5=True, clip_grad=20.0)),
    entry(name="tsn_r50_320p_1x1x8_50e_activitynet_video_rgb", recipe=TSN_0X_ANET,
          url="{config}/{config}_20200804-9e15687e.pth", log="{config}_20200804",
          top=(73.97, 93.46),
          notes=(("At the checkpoint's date the config (0.x commit 97956a5c) read clip-level "
                 "frames ('image_{:05d}.jpg' with offsets); the 0.x config reads whole-video "
                 "rawframes with the default template."),)),
    entry(name="tsn_r50_320p_1x1x8_50e_activitynet_clip_rgb", recipe=TSN_0X_ANET,
          url="{config}/{config}_20200804-f7bcbf34.pth", log="{config}_20200804",
          top=(76.07, 94.1), filename_tmpl="image_{:05d}.jpg", start_index=0,
          notes=(("Frames are read with per-clip offsets (with_offset=True) from "
                 "'image_{:05d}.jpg', 0-based."),)),
    entry(name="tsn_r50_320p_1x1x8_150e_activitynet_video_flow", recipe=TSN_0X_ANET_FLOW,
          url="{config}/{config}_20200804-13313f52.pth", log="{config}_20200804",
          top=(58.7, 84.72), notes=("Trained on whole videos; the config tests on clips with "
                                    "offsets (anet_val_clip, 'flow_{}_{:05d}.jpg', 0-based).",)),
    entry(name="tsn_r50_320p_1x1x8_150e_activitynet_clip_flow", recipe=TSN_0X_ANET_FLOW,
          url="{config}/{config}_20200804-8622cf38.pth", log="{config}_20200804",
          top=(59.51, 82.69), notes=("Frames are read with per-clip offsets (with_offset=True) "
                                     "from 'flow_{}_{:05d}.jpg', 0-based.",)),
)
