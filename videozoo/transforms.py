"""Public transforms API: MMAction2-exact frame sampling, crop boxes and the frame operations.

    import videozoo
    videozoo.transforms.sample_frame_indices(300, 1, 1, 8)          # TSM 1x1x8 test indices
    videozoo.transforms.crop_boxes(256, 340, 224, "ten")             # TenCrop boxes
    views = videozoo.transforms.make_views(frames, cfg, device="cuda")  # (V, C, T, H, W)
"""
from .data.geometry import (
    crop_boxes,
    crop_views,
    multi_scale_crop_box,
    random_resized_crop_box,
    resize_shape,
)
from .data.mixing import CutMix, MixUp
from .data.pipeline import DataConfig, TestTransform, TrainTransform, create_transform
from .data.sampling import num_sampled_clips, sample_frame_indices
from .data.transforms import (
    ClipAugMix,
    ClipRandAugment,
    ColorJitter,
    crop_frames,
    flip_frames,
    fold_views,
    make_views,
    normalize,
    resize_frames,
)

__all__ = [
    "ClipAugMix",
    "ClipRandAugment",
    "ColorJitter",
    "CutMix",
    "DataConfig",
    "MixUp",
    "TestTransform",
    "TrainTransform",
    "create_transform",
    "crop_boxes",
    "crop_frames",
    "crop_views",
    "flip_frames",
    "fold_views",
    "make_views",
    "multi_scale_crop_box",
    "normalize",
    "num_sampled_clips",
    "random_resized_crop_box",
    "resize_frames",
    "resize_shape",
    "sample_frame_indices",
]
