"""What an MMAction2 config says about a model, its test protocol and its training recipe.

:func:`summarize_config` reads a merged config dict (from :mod:`videozoo._mmaction_config`,
0.x or 1.x layout) into one flat, version-neutral summary: the TSN/TSM/TPN model settings, the
test pipeline (the one the test dataset really uses, which is not always the ``test_pipeline``
variable of the file) and the train recipe. Both the zoo audit (``tools/audit_zoo.py``) and
:func:`videozoo.from_mmaction` read configs through it.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

__all__ = ["ConfigSummaryError", "architecture_of", "check_model_settings", "data_config_fields",
           "summarize_config", "test_pipeline_of"]

_SAMPLERS = ("SampleFrames", "DenseSampleFrames", "UntrimmedSampleFrames", "UniformSampleFrames",
             "SampleAVAFrames")
_DECODERS = {
    "RawFrameDecode": "rawframes", "FrameSelector": "rawframes",  # FrameSelector: 2020 name
    "DecordDecode": "decord", "PyAVDecode": "pyav", "OpenCVDecode": "opencv",
    "PIMSDecode": "pims",
}
_CROPS = {"CenterCrop": "center", "ThreeCrop": "three", "TenCrop": "ten"}


class ConfigSummaryError(ValueError):
    """The config lacks something a TSN/TSM/TPN recognizer config always has."""


def _get(d: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return default
        d = d[key]
    return d


def _dataset(cfg: Mapping[str, Any], split: str) -> Optional[Mapping[str, Any]]:
    """The (innermost) dataset dict of ``split``: 1.x ``<split>_dataloader.dataset``, 0.x
    ``data.<split>``; wrappers (RepeatDataset, ...) are unwrapped."""
    ds = _get(cfg, f"{split}_dataloader", "dataset")
    if ds is None:
        ds = _get(cfg, "data", split)
    while isinstance(ds, Mapping) and "pipeline" not in ds and isinstance(ds.get("dataset"), Mapping):
        ds = ds["dataset"]
    return ds if isinstance(ds, Mapping) else None


def test_pipeline_of(cfg: Mapping[str, Any], split: str = "test") -> tuple[list[dict], str]:
    """The pipeline the ``split`` dataset runs, and where it was found."""
    ds = _dataset(cfg, split)
    if ds is not None and isinstance(ds.get("pipeline"), (list, tuple)):
        where = f"{split}_dataloader.dataset" if f"{split}_dataloader" in cfg else f"data.{split}"
        return list(ds["pipeline"]), where
    var = f"{split}_pipeline"
    if isinstance(cfg.get(var), (list, tuple)):
        return list(cfg[var]), var
    raise ConfigSummaryError(f"the config has no {split} pipeline")


def _crop_size(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return tuple(value) if isinstance(value, list) else value


def _summarize_pipeline(pipeline: list[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"steps": [p.get("type") for p in pipeline if isinstance(p, Mapping)]}
    for step in pipeline:
        if not isinstance(step, Mapping):
            continue
        kind = step.get("type")
        if kind in _SAMPLERS and "sampler" not in out:
            out["sampler"] = kind
            out["clip_len"] = step.get("clip_len", 1 if kind != "SampleFrames" else None)
            out["frame_interval"] = step.get("frame_interval", 1)
            out["num_clips"] = step.get("num_clips", 1)
            out["twice_sample"] = bool(step.get("twice_sample", False))
            out["dense"] = kind == "DenseSampleFrames"
            out["test_mode"] = bool(step.get("test_mode", False))
            if kind == "DenseSampleFrames":
                out["sample_range"] = step.get("sample_range", 64)
                out["num_sample_positions"] = step.get("num_sample_positions", 10)
        elif kind in _DECODERS and "decoder" not in out:
            out["decoder"] = _DECODERS[kind]
        elif kind == "Resize" and "resize" not in out:
            scale = step.get("scale")
            out["resize"] = tuple(scale) if isinstance(scale, (list, tuple)) else scale
            out["keep_ratio"] = step.get("keep_ratio", True)
        elif kind in _CROPS and "crop" not in out:
            out["crop"] = _CROPS[kind]
            out["crop_size"] = _crop_size(step.get("crop_size"))
        elif kind == "MultiGroupCrop" and "crop" not in out:  # 2020: random crops, even at test
            out["crop"] = f"random x{step.get('groups', 1)} (MultiGroupCrop)"
            out["crop_size"] = _crop_size(step.get("crop_size"))
        elif kind in ("MultiScaleCrop", "RandomResizedCrop", "RandomCrop") and "crop" not in out:
            out["crop"] = kind
            out["crop_size"] = _crop_size(step.get("input_size", step.get("size")))
        elif kind == "Normalize":
            out["mean"] = tuple(step.get("mean", ()))
            out["std"] = tuple(step.get("std", ()))
            out["to_bgr"] = step.get("to_bgr", False)
        elif kind == "FormatShape":
            out["input_format"] = step.get("input_format")
        elif kind == "Flip" and step.get("flip_ratio", 0.5):
            out["flip"] = step.get("flip_ratio", 0.5)
    out.setdefault("crop", "none")
    return out


def _scheduler(cfg: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lr_config = cfg.get("lr_config")
    if isinstance(lr_config, Mapping):  # 0.x (mmcv hooks)
        out["schedule"] = str(lr_config.get("policy", "")).lower()
        if "step" in lr_config:
            step = lr_config["step"]
            out["milestones"] = tuple(step) if isinstance(step, (list, tuple)) else (step,)
        out["gamma"] = lr_config.get("gamma", 0.1)
        if lr_config.get("warmup"):
            out["warmup"] = lr_config["warmup"]
            out["warmup_iters"] = lr_config.get("warmup_iters")
            out["warmup_by_epoch"] = lr_config.get("warmup_by_epoch", False)
            out["warmup_ratio"] = lr_config.get("warmup_ratio")
        if "min_lr" in lr_config:
            out["min_lr"] = lr_config["min_lr"]
    for sched in cfg.get("param_scheduler") or ():  # 1.x (mmengine schedulers)
        if not isinstance(sched, Mapping):
            continue
        kind = sched.get("type")
        if kind == "MultiStepLR":
            out["schedule"] = "step"
            out["milestones"] = tuple(sched.get("milestones", ()))
            out["gamma"] = sched.get("gamma", 0.1)
        elif kind == "CosineAnnealingLR":
            out["schedule"] = "cosineannealing"
            if "eta_min" in sched:
                out["min_lr"] = sched["eta_min"]
        elif kind == "LinearLR":
            out["warmup"] = "linear"
            out["warmup_iters"] = sched.get("end")
            out["warmup_by_epoch"] = sched.get("by_epoch", True)
            out["warmup_ratio"] = sched.get("start_factor")
    return out


def _train(cfg: Mapping[str, Any]) -> dict[str, Any]:
    optimizer = _get(cfg, "optim_wrapper", "optimizer") or cfg.get("optimizer") or {}
    paramwise = _get(cfg, "optim_wrapper", "paramwise_cfg") or _get(cfg, "optimizer", "paramwise_cfg")
    clip = _get(cfg, "optim_wrapper", "clip_grad")
    if clip is None:
        clip = _get(cfg, "optimizer_config", "grad_clip")
    epochs = _get(cfg, "train_cfg", "max_epochs")
    if epochs is None:
        epochs = cfg.get("total_epochs")
    out: dict[str, Any] = {
        "epochs": epochs,
        "optimizer": optimizer.get("type"),
        "lr": optimizer.get("lr"),
        "momentum": optimizer.get("momentum"),
        "weight_decay": optimizer.get("weight_decay"),
        "nesterov": bool(optimizer.get("nesterov", False)),
        "clip_grad": clip.get("max_norm") if isinstance(clip, Mapping) else None,
        "fc_lr5": bool(_get(paramwise, "fc_lr5", default=False)),
        "batch_per_gpu": _get(cfg, "train_dataloader", "batch_size",
                              default=_get(cfg, "data", "videos_per_gpu")),
    }
    out.update(_scheduler(cfg))
    try:
        pipe = _summarize_pipeline(test_pipeline_of(cfg, "train")[0])
        out.update({f"sample_{k}": pipe.get(k) for k in ("clip_len", "frame_interval", "num_clips")})
        out["dense"] = pipe.get("dense", False)
        out["augment"] = [s for s in pipe["steps"] if s not in (
            "SampleFrames", "DenseSampleFrames", "DecordInit", "DecordDecode", "RawFrameDecode",
            "FrameSelector", "PyAVInit", "PyAVDecode", "Normalize", "FormatShape", "Collect",
            "ToTensor", "PackActionInputs", "Resize")]
    except ConfigSummaryError:
        pass
    return out


# What mmengine passes on from a ``*_dataloader`` dict to torch's DataLoader besides the dataset.
_DATALOADER_KEYS = {"batch_size", "num_workers", "persistent_workers", "sampler", "batch_sampler",
                    "dataset", "collate_fn", "pin_memory", "drop_last", "prefetch_factor",
                    "worker_init_fn", "timeout", "generator", "multiprocessing_context",
                    "pin_memory_device"}


def _warnings(cfg: Mapping[str, Any]) -> list[str]:
    """Places where the config does not do what it appears to (found while auditing the zoo)."""
    out = []
    for split in ("train", "val", "test"):
        loader = cfg.get(f"{split}_dataloader")
        if isinstance(loader, Mapping):
            extra = sorted(set(loader) - _DATALOADER_KEYS)
            if extra:
                out.append(f"{split}_dataloader has {extra} outside its dataset: mmengine passes them "
                           "to torch's DataLoader, which refuses them, and the dataset keeps the "
                           "pipeline it inherited")
    return out


def summarize_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A flat, version-neutral summary of a recognizer config (see the module docstring).

    Keys: ``model_type``, ``backbone`` (type, depth, num_segments, shift_div, is_shift, non_local,
    non_local_mode, in_channels, ...), ``neck`` (type or None), ``head`` (type, num_classes,
    num_segments, consensus, dropout, init_std, is_shift), ``num_classes``, ``in_channels``,
    ``average_clips``, ``fcn_test``, ``modality``, ``dataset_type``, ``filename_tmpl``,
    ``start_index``, ``test`` (sampling, resize, crop, decoder, input format), ``mean``/``std``,
    ``train`` (epochs, lr, momentum, weight_decay, milestones, clip_grad, fc_lr5, ...).
    """
    model = cfg.get("model")
    if not isinstance(model, Mapping):
        raise ConfigSummaryError("the config has no 'model' dict")
    backbone = dict(model.get("backbone") or {})
    head = dict(model.get("cls_head") or {})
    neck = model.get("neck")
    test_cfg = model.get("test_cfg") if isinstance(model.get("test_cfg"), Mapping) else {}
    top_test_cfg = cfg.get("test_cfg") if isinstance(cfg.get("test_cfg"), Mapping) else {}
    if "average_clips" in head:
        average = head["average_clips"]  # 1.x
    elif "average_clips" in test_cfg:
        average = test_cfg["average_clips"]  # 0.x
    elif "average_clips" in top_test_cfg:
        average = top_test_cfg["average_clips"]  # 0.x before model.test_cfg (2020)
    else:
        average = "score" if head else None  # the heads' and recognizers' default
    fcn_test = bool(test_cfg.get("fcn_test") or top_test_cfg.get("fcn_test") or head.get("fcn_test"))
    pipeline, where = test_pipeline_of(cfg, "test")
    test = _summarize_pipeline(pipeline)
    test["pipeline_from"] = where
    test_ds = _dataset(cfg, "test") or {}
    preprocessor = model.get("data_preprocessor") or {}
    gpu_norm = next((h for h in cfg.get("module_hooks") or () if isinstance(h, Mapping)
                     and h.get("type") == "GPUNormalize"), {})  # 0.x gpu_normalize configs
    mean = test.pop("mean", None) or tuple(preprocessor.get("mean", gpu_norm.get("mean", ())))
    std = test.pop("std", None) or tuple(preprocessor.get("std", gpu_norm.get("std", ())))
    modality = test_ds.get("modality", "RGB")
    in_channels = backbone.get("in_channels", 3)
    if isinstance(neck, list):
        neck_type = ",".join(str(n.get("type")) for n in neck if isinstance(n, Mapping))
    else:
        neck_type = neck.get("type") if isinstance(neck, Mapping) else None
    version = "1.x" if ("test_dataloader" in cfg or "data_preprocessor" in model) else "0.x"
    return {
        "version": version,
        "warnings": _warnings(cfg),
        "model_type": model.get("type"),
        "backbone": backbone,
        "neck": neck_type,
        "neck_cfg": neck,
        "head": head,
        "num_classes": head.get("num_classes"),
        "in_channels": in_channels,
        "average_clips": average,
        "fcn_test": fcn_test,
        "modality": str(modality).lower(),
        "dataset_type": test_ds.get("type"),
        "filename_tmpl": test_ds.get("filename_tmpl"),
        "start_index": test_ds.get("start_index"),
        "test": test,
        "mean": mean,
        "std": std,
        "train": _train(cfg),
    }


def _non_local_mode(backbone: Mapping[str, Any]) -> Optional[str]:
    stages = backbone.get("non_local")
    if not stages or not any(any(s) if isinstance(s, (list, tuple)) else s for s in stages):
        return None
    return str(_get(backbone, "non_local_cfg", "mode", default="embedded_gaussian"))


_TPN_DEFAULTS = {"in_chs": (1024, 2048), "out_chs": 1024, "spatial_out_chs": 2048,
                 "temporal_scales": (8, 8), "upsample_scale": (1, 1, 1),
                 "downsample_scale": (1, 1, 1), "fusion_out_chs": 2048,
                 "fusion_scales": ((1, 1, 1), (1, 1, 1)), "flow_type": "cascade"}


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def _tpn_options(summary: Mapping[str, Any]) -> dict[str, Any]:
    """videozoo TPN options (``neck_kwargs``, ``aux_num_classes``) for MMAction2's TPN neck dict;
    only what differs from the zoo's neck is passed."""
    neck = summary.get("neck_cfg") or {}
    if not isinstance(neck, Mapping):
        raise ConfigSummaryError("a list of necks is not supported")
    got = {
        "in_chs": neck.get("in_channels"), "out_chs": neck.get("out_channels"),
        "spatial_out_chs": _get(neck, "spatial_modulation_cfg", "out_channels"),
        "temporal_scales": _get(neck, "temporal_modulation_cfg", "downsample_scales"),
        "upsample_scale": _get(neck, "upsample_cfg", "scale_factor"),
        "downsample_scale": _get(neck, "downsample_cfg", "downsample_scale"),
        "fusion_out_chs": _get(neck, "level_fusion_cfg", "out_channels"),
        "fusion_scales": _get(neck, "level_fusion_cfg", "downsample_scales"),
        "flow_type": neck.get("flow_type", "cascade"),
    }
    neck_kwargs = {k: _tuple(v) for k, v in got.items()
                   if v is not None and _tuple(v) != _TPN_DEFAULTS[k]}
    out_chs = got["out_chs"] or _TPN_DEFAULTS["out_chs"]
    levels = len(got["in_chs"] or _TPN_DEFAULTS["in_chs"])
    for key in ("in_channels", "mid_channels"):
        value = _get(neck, "level_fusion_cfg", key)
        if value is not None and _tuple(value) != (out_chs,) * levels:
            raise ConfigSummaryError(f"TPN level_fusion_cfg {key}={value!r} is not supported "
                                     f"(videozoo fuses {(out_chs,) * levels})")
    options: dict[str, Any] = {"neck_kwargs": neck_kwargs} if neck_kwargs else {}
    aux = _get(neck, "aux_head_cfg", "out_channels")
    if aux is not None and aux != summary.get("num_classes"):
        options["aux_num_classes"] = aux
    return options


def architecture_of(summary: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The videozoo architecture (and its options) that computes what the summarized config's
    model computes; a :class:`ConfigSummaryError` naming the part when there is none."""
    backbone, head = summary["backbone"], summary["head"]
    kind, depth = backbone.get("type"), backbone.get("depth", 50)
    neck, head_type = summary.get("neck"), head.get("type")
    kwargs: dict[str, Any] = {}
    if neck not in (None, "TPN"):
        raise ConfigSummaryError(f"neck {neck!r} is not supported (only TPN)")
    if neck == "TPN" or head_type == "TPNHead":
        kwargs.update(_tpn_options(summary))
        if kind == "ResNet3dSlowOnly" and depth == 50:
            return "tpn_slowonly_r50", kwargs
        if kind == "ResNetTSM" and depth == 50:
            kwargs["num_segments"] = backbone.get("num_segments", 8)
            return "tpn_tsm_r50", kwargs
        raise ConfigSummaryError(f"TPN over {kind} depth {depth} is not supported")
    if kind == "ResNet" and head_type == "TSNHead":
        if depth not in (50, 101):
            raise ConfigSummaryError(f"TSN ResNet depth {depth} is not supported (50, 101)")
        flow = summary.get("in_channels", 3) != 3
        if flow and depth != 50:
            raise ConfigSummaryError("flow TSN is supported with ResNet-50 only")
        return (f"tsn_r{depth}_flow" if flow else f"tsn_r{depth}"), kwargs
    if kind == "ResNetTSM" and head_type == "TSMHead":
        if depth not in (50, 101):
            raise ConfigSummaryError(f"TSM ResNet depth {depth} is not supported (50, 101)")
        kwargs["num_segments"] = backbone.get("num_segments", 8)
        kwargs["shift_div"] = backbone.get("shift_div", 8)
        mode = _non_local_mode(backbone)
        if mode is not None:
            if depth != 50:
                raise ConfigSummaryError("non-local TSM is supported with ResNet-50 only")
            nl_cfg = {k: v for k, v in (backbone.get("non_local_cfg") or {}).items()
                      if k in ("sub_sample", "use_scale")}
            if nl_cfg and nl_cfg != {"sub_sample": True, "use_scale": False}:
                kwargs["non_local_cfg"] = {"sub_sample": True, "use_scale": False, **nl_cfg}
            return f"tsm_r50_nl_{mode}", kwargs
        return f"tsm_r{depth}", kwargs
    if kind == "MobileNetV2TSM" and head_type == "TSMHead":
        kwargs["num_segments"] = backbone.get("num_segments", 8)
        kwargs["shift_div"] = backbone.get("shift_div", 8)
        return "tsm_mobilenetv2", kwargs
    if kind == "MobileOneTSM" and head_type == "TSMHead":
        if backbone.get("arch", "s4") != "s4":
            raise ConfigSummaryError(f"MobileOne arch {backbone.get('arch')!r} is not supported (s4)")
        kwargs["num_segments"] = backbone.get("num_segments", 8)
        kwargs["shift_div"] = backbone.get("shift_div", 8)
        return "tsm_mobileone_s4", kwargs
    raise ConfigSummaryError(f"no videozoo architecture for backbone {kind!r} with head {head_type!r}")


# -- the videozoo data config of a config's test pipeline --------------------------------------------
_RAWFRAME_TMPL = {"rgb": "img_{:05}.jpg", "flow": "{}_{:05d}.jpg"}  # RawframeDataset defaults
_NORMALIZE_UNSUPPORTED = ("to_bgr",)


def data_config_fields(summary: Mapping[str, Any], arch: str, *, name: str = "") -> dict[str, Any]:
    """The :class:`~videozoo.data.DataConfig` fields of a summarized config's test pipeline.

    The one place that maps MMAction2's test pipeline onto videozoo's data config; pass the
    result to :func:`videozoo.resolve_data_config`. Pipelines it cannot express (other samplers,
    random test crops, BGR input, dense sampling with a non-default window) raise
    :class:`ConfigSummaryError`.
    """
    test, head = summary["test"], summary["head"]
    sampler = test.get("sampler")
    if sampler not in ("SampleFrames", "DenseSampleFrames"):
        raise ConfigSummaryError(f"test sampler {sampler!r} is not supported "
                                 "(SampleFrames, DenseSampleFrames)")
    if test.get("dense") and (test.get("sample_range"), test.get("num_sample_positions")) != (64, 10):
        raise ConfigSummaryError("DenseSampleFrames with a sample_range / num_sample_positions "
                                 "other than 64 / 10 is not supported")
    if test["crop"] not in ("center", "three", "ten", "none"):
        raise ConfigSummaryError(f"test crop {test['crop']!r} is not supported "
                                 "(CenterCrop, ThreeCrop, TenCrop or none)")
    if not isinstance(test.get("crop_size", 224), (int, type(None))):
        raise ConfigSummaryError(f"non-square test crop {test.get('crop_size')!r} is not supported")
    decoder = test.get("decoder")
    if decoder not in ("rawframes", "decord", "pyav"):
        raise ConfigSummaryError(f"test decoder {decoder!r} is not supported (RawFrameDecode, "
                                 "DecordDecode, PyAVDecode)")
    if test.get("to_bgr"):
        raise ConfigSummaryError("Normalize(to_bgr=True) is not supported: videozoo feeds RGB")
    modality = summary["modality"] if summary["modality"] in ("rgb", "flow") else None
    if modality is None:
        raise ConfigSummaryError(f"modality {summary['modality']!r} is not supported (RGB, Flow)")
    resize = test.get("resize")
    if resize is not None and not (isinstance(resize, tuple) and len(resize) == 2):
        raise ConfigSummaryError(f"test Resize scale {resize!r} is not supported (a (w, h) pair)")
    if head.get("type") == "TSMHead":
        segments = head.get("num_segments", 8)
    elif summary.get("fcn_test"):
        segments = summary["backbone"].get("num_segments", 8)
    else:
        segments = None
    input_format = test.get("input_format") or ("NCHW_Flow" if modality == "flow" else "NCHW")
    fields: dict[str, Any] = {
        "name": name or arch, "arch": arch, "protocol": "mmaction_config", "modality": modality,
        "input_format": input_format,
        "decoder": decoder, "clip_len": test.get("clip_len") or 1,
        "frame_interval": test.get("frame_interval", 1), "num_clips": test.get("num_clips", 1),
        "twice_sample": test.get("twice_sample", False), "dense": test.get("dense", False),
        "legacy_sampling": summary.get("version") == "0.x", "resize": resize,
        "keep_ratio": test.get("keep_ratio", True), "crop": test["crop"],
        "crop_size": test.get("crop_size") or 224, "num_segments": segments,
        "average": summary.get("average_clips"),
    }
    if summary.get("mean"):
        fields["mean"], fields["std"] = tuple(summary["mean"]), tuple(summary["std"])
    if decoder == "rawframes":
        fields["filename_tmpl"] = summary.get("filename_tmpl") or _RAWFRAME_TMPL[modality]
        start = summary.get("start_index")
        fields["start_index"] = 1 if start is None else start
    train = summary.get("train", {})
    if train.get("sample_num_clips"):
        fields["train"] = {"clip_len": train.get("sample_clip_len") or 1,
                           "frame_interval": train.get("sample_frame_interval") or 1,
                           "num_clips": train["sample_num_clips"],
                           "dense": bool(train.get("dense", False))}
    return fields


def check_model_settings(summary: Mapping[str, Any]) -> None:
    """Refuse model settings the videozoo architectures do not compute (one clear line each)."""
    backbone, head = summary["backbone"], summary["head"]
    consensus = _get(head, "consensus", "type", default="AvgConsensus")
    if consensus != "AvgConsensus":
        raise ConfigSummaryError(f"head consensus {consensus!r} is not supported (AvgConsensus)")
    if head.get("spatial_type", "avg") != "avg":
        raise ConfigSummaryError(f"head spatial_type {head.get('spatial_type')!r} is not supported")
    if head.get("temporal_pool") or backbone.get("temporal_pool"):
        raise ConfigSummaryError("TSM temporal_pool is not supported")
    if head.get("type") == "TSMHead" and not head.get("is_shift", True):
        raise ConfigSummaryError("TSMHead(is_shift=False) is not supported")
    if backbone.get("shift_place", "blockres") != "blockres":
        raise ConfigSummaryError(f"shift_place {backbone.get('shift_place')!r} is not supported "
                                 "(blockres)")
    if backbone.get("widen_factor", 1.0) != 1.0:
        raise ConfigSummaryError("MobileNetV2 widen_factor other than 1.0 is not supported")
    stages = backbone.get("non_local")
    if _non_local_mode(backbone) is not None:
        standard = ((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0))
        if tuple(tuple(s) for s in stages) != standard:
            raise ConfigSummaryError(f"non_local stages {stages!r} are not supported (only MMAction2's "
                                     f"{standard})")
    if summary.get("model_type") == "Recognizer2D" and summary.get("neck") and not summary.get("fcn_test"):
        raise ConfigSummaryError("a 2D recognizer with a neck needs test_cfg fcn_test=True")
