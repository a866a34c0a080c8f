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
from ._families import arch_facts
from ._pretrained import TrainProtocol, ZooEntry
from ._registry import hf_hub_id, model_entrypoint


def _label_names(dataset: Optional[str]) -> Optional[tuple[str, ...]]:
    try:
        from .data.labels import builtin_label_names
    except ImportError:  # the packaged label lists are not there yet
        return None
    names = builtin_label_names(dataset) if dataset else None
    return tuple(names) if names is not None else None


def make_pretrained_cfg(arch: str, entry: Optional[ZooEntry] = None,
                        num_classes: Optional[int] = None) -> dict[str, Any]:
    """What a model carries as ``model.pretrained_cfg``: its data config (the fields of
    :class:`~videozoo.data.DataConfig`, built once by :func:`videozoo.data.data_config`) plus
    where it comes from. ``resolve_data_config(model)`` reads only this.

    With ``num_classes`` other than the entry's (a reset head) the config keeps the entry's
    data protocol and training recipe but no longer claims its dataset, label names or numbers.
    """
    from .data.pipeline import data_config

    facts = arch_facts(arch)
    cfg = data_config(arch, entry).to_dict()
    cfg.update(architecture=arch, family=facts.family)
    if entry is None:
        cfg.update(name=arch, num_classes=num_classes, dataset=None, label_names=None,
                   metrics={}, test_protocols={},
                   train_protocol=dataclasses.asdict(TrainProtocol(**facts.train_protocol)))
        return cfg
    cfg.update(
        config=entry.config, dataset=entry.dataset, num_classes=entry.num_classes,
        in_chans=entry.in_chans, hf_hub_id=hf_hub_id(entry), url=entry.url,
        label_map=entry.label_map, label_names=_label_names(entry.dataset),
        metrics=dict(entry.metrics),
        test_protocol=dataclasses.asdict(entry.protocol()),
        test_protocols={p.name: dataclasses.asdict(p) for p in entry.test_protocols},
        train_protocol=dataclasses.asdict(entry.train), license=entry.license)
    if num_classes is not None and num_classes != entry.num_classes:
        cfg.update(name=arch, pretrained_from=entry.name, dataset=None, num_classes=num_classes,
                   label_map=None, label_names=None, metrics={}, hf_hub_id=None)
    return cfg


def data_config_from_entry(entry: ZooEntry) -> dict[str, Any]:
    """The ``pretrained_cfg`` of a model built from ``entry`` (what a published file carries)."""
    return make_pretrained_cfg(entry.arch, entry)


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

    model.pretrained_cfg = make_pretrained_cfg(arch, entry, model.num_classes)
    if source:
        model.pretrained_cfg["weights"] = source
    return model
