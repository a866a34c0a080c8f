"""Turn an architecture (+ zoo entry) into a model and fill it with weights."""
from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any, Optional

from torch import nn

from ._checkpoint import (
    infer_num_classes,
    load_state_dict_strict,
    read_checkpoint,
    to_model_state_dict,
)
from ._pretrained import ZooEntry
from ._registry import hf_hub_id, model_entrypoint


def data_config_from_entry(entry: ZooEntry) -> dict[str, Any]:
    """The flat data/pretrained config a model carries as ``model.pretrained_cfg``."""
    proto = entry.protocol()
    return {
        "name": entry.name,
        "architecture": entry.arch,
        "config": entry.config,
        "dataset": entry.dataset,
        "num_classes": entry.num_classes,
        "modality": entry.modality,
        "in_chans": entry.in_chans,
        "mean": tuple(entry.mean),
        "std": tuple(entry.std),
        "hf_hub_id": hf_hub_id(entry),
        "url": entry.url,
        "label_map": entry.label_map,
        "test_protocol": dataclasses.asdict(proto),
        "train_protocol": dataclasses.asdict(entry.train),
        "license": entry.license,
    }


def build_model(
    arch: str,
    entry: Optional[ZooEntry] = None,
    pretrained: bool = False,
    num_classes: Optional[int] = None,
    checkpoint_path: Optional[str | os.PathLike] = None,
    **kwargs: Any,
) -> nn.Module:
    """Build ``arch`` with the entry's settings and load pretrained or local weights, strictly.

    The weights' class count wins unless ``num_classes`` asks for another; then every classifier
    is reset (with a warning) for fine-tuning.
    """
    arch_kwargs = dict(entry.arch_kwargs) if entry else {}
    arch_kwargs.update(kwargs)

    state_dict, meta, source = None, {}, None
    if checkpoint_path is not None:
        source = os.fspath(checkpoint_path)
        state_dict, meta = read_checkpoint(source)
    elif pretrained:
        if entry is None:
            raise ValueError(
                f"{arch!r} is an architecture; pretrained weights belong to zoo entries: "
                f"videozoo.list_pretrained('{arch}*')"
            )
        from ._hub import download_weights

        source = str(download_weights(entry.name))
        state_dict, meta = read_checkpoint(source)

    kw_classes = arch_kwargs.pop("num_classes", None)
    requested = num_classes if num_classes is not None else kw_classes
    if state_dict is not None:
        build_classes = infer_num_classes(state_dict, meta) or requested
    else:
        build_classes = requested or (entry.num_classes if entry else None)
    if build_classes is not None:
        arch_kwargs["num_classes"] = build_classes
    model = model_entrypoint(arch)(**arch_kwargs)  # no count given: the architecture's default
    build_classes = model.num_classes

    if state_dict is not None:
        load_state_dict_strict(model, to_model_state_dict(model, state_dict), source or "")

    if requested is not None and requested != build_classes:
        if state_dict is not None and requested != 0:  # 0: classifiers removed, features out
            warnings.warn(
                f"{arch}: the weights have {build_classes} classes; every classifier is "
                f"re-initialised for num_classes={requested} (fine-tuning).",
                stacklevel=3,
            )
        model.reset_classifier(requested)

    if entry is not None:
        model.pretrained_cfg = data_config_from_entry(entry)
        model.pretrained_cfg["num_classes"] = model.num_classes
    else:
        model.pretrained_cfg = {**getattr(model, "pretrained_cfg", {}), "architecture": arch}
    if source:
        model.pretrained_cfg["weights"] = source
    return model
