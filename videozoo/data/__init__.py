"""Video data: decoders, MMAction2-exact frame sampling, spatial transforms, data configs,
datasets, label maps and synthetic videos.

Reading order, as data flows: ``decoders`` (file -> frames) -> ``sampling`` (which frames) ->
``geometry`` / ``transforms`` (resize, crop, flip, normalise, views) -> ``pipeline`` (a zoo
entry's whole test or train pipeline) -> ``datasets`` (annotation lists) -> ``mixing`` (batch
MixUp / CutMix).
"""
from .datasets import (
    Annotation,
    VideoDataset,
    check_num_classes,
    collate_videos,
    read_annotations,
)
from .decoders import (
    DecordDecoder,
    FrameFolderDecoder,
    MMAction2DecordDecoder,
    PyAVDecoder,
    VideoDecodeError,
    VideoDecoder,
    list_decoders,
    max_frame_bytes,
    open_video,
    register_decoder,
)
from .geometry import (
    crop_boxes,
    crop_views,
    multi_scale_crop_box,
    random_resized_crop_box,
    resize_shape,
)
from .labels import builtin_label_names, label_names, read_label_map
from .mixing import CutMix, MixUp
from .pipeline import (
    DataConfig,
    TestTransform,
    TrainConfig,
    TrainTransform,
    create_transform,
    resolve_data_config,
)
from .sampling import num_sampled_clips, sample_frame_indices
from .synthetic import SyntheticDataset, make_synthetic_dataset, make_synthetic_video
from .transforms import (
    ClipAugMix,
    ClipRandAugment,
    ColorJitter,
    flip_frames,
    fold_views,
    make_views,
    normalize,
    resize_frames,
)

__all__ = [
    "Annotation",
    "ClipAugMix",
    "ClipRandAugment",
    "ColorJitter",
    "CutMix",
    "DataConfig",
    "DecordDecoder",
    "FrameFolderDecoder",
    "MMAction2DecordDecoder",
    "MixUp",
    "PyAVDecoder",
    "SyntheticDataset",
    "TestTransform",
    "TrainConfig",
    "TrainTransform",
    "VideoDataset",
    "VideoDecodeError",
    "VideoDecoder",
    "check_num_classes",
    "collate_videos",
    "create_transform",
    "crop_boxes",
    "crop_views",
    "flip_frames",
    "fold_views",
    "builtin_label_names",
    "label_names",
    "list_decoders",
    "make_synthetic_dataset",
    "make_synthetic_video",
    "make_views",
    "max_frame_bytes",
    "multi_scale_crop_box",
    "normalize",
    "num_sampled_clips",
    "open_video",
    "random_resized_crop_box",
    "read_annotations",
    "read_label_map",
    "register_decoder",
    "resize_frames",
    "resize_shape",
    "resolve_data_config",
    "sample_frame_indices",
]
