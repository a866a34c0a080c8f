"""``create_model``: one hop from a zoo name to a model, with timm's keyword contract.

Every architecture takes the same core kwargs (``num_classes``, ``in_chans``, ``num_segments``,
``dropout`` / its timm name ``drop_rate``) plus timm's ``features_only`` / ``out_indices``. They
are validated here, once, so a mistake is one clear line instead of a traceback from deep inside
a constructor.
"""
from __future__ import annotations

import inspect
import os
import re
import typing
from collections.abc import Sequence
from typing import Any, Callable, Optional

import timm
from torch import nn

from ._builder import build_model
from ._registry import model_entrypoint, resolve
from .models.base import check_num_classes, check_positive_int

CORE_KWARGS = ("num_classes", "in_chans", "num_segments", "dropout", "drop_rate")
_TIMM_NAME = re.compile(r"(tsm|tsn)_(.+)")


class ModelArgumentError(ValueError, TypeError):
    """A bad ``create_model`` argument (a ValueError, and a TypeError for wrong kinds)."""


def resolve_timm_temporal(name: str) -> Optional[tuple[str, str]]:
    """``'tsm_convnext_tiny'`` -> ``('tsm_timm', 'convnext_tiny')`` when the rest is a timm model
    name (and the whole is not a registered videozoo name); else None."""
    m = _TIMM_NAME.fullmatch(name)
    if m is None or not timm.is_model(m.group(2)):
        return None
    return f"{m.group(1)}_timm", m.group(2)


def _check_kwargs(kwargs: dict[str, Any]) -> None:
    if "in_chans" in kwargs:
        check_positive_int(kwargs["in_chans"], "in_chans")
    if "num_segments" in kwargs:
        check_positive_int(kwargs["num_segments"], "num_segments", allow_none=True)
    if "drop_rate" in kwargs:  # timm's name for the head dropout
        rate = kwargs.pop("drop_rate")
        if kwargs.get("dropout", rate) != rate:
            raise ModelArgumentError(f"dropout={kwargs['dropout']!r} and drop_rate={rate!r} "
                                     "disagree; they are the same option, pass one")
        kwargs["dropout"] = rate
    rate = kwargs.get("dropout")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                             or not 0 <= rate < 1):
        raise ModelArgumentError(f"dropout must be a number in [0, 1), got {rate!r}")


def accepted_kwargs(entrypoint: Callable[..., Any]) -> list[str]:
    """Keyword names an entrypoint documents (its own and its model class's constructor's),
    best effort, for error messages."""
    names: list[str] = []
    fns: list[Callable[..., Any]] = [entrypoint]
    try:
        ret = typing.get_type_hints(entrypoint).get("return")
    except Exception:  # unresolvable annotations: the entrypoint's own names only
        ret = None
    if isinstance(ret, type):
        fns += [c.__init__ for c in ret.__mro__ if "__init__" in vars(c) and c is not object]
    for i, fn in enumerate(fns):
        for p in inspect.signature(fn).parameters.values():
            supplied = i > 0 and p.default is p.empty  # the entrypoint passes it
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self" \
                    and not supplied and p.name not in names:
                names.append(p.name)
    return names


def create_model(
    model_name: str,
    pretrained: bool = False,
    num_classes: Optional[int] = None,
    checkpoint_path: Optional[str | os.PathLike] = None,
    features_only: bool = False,
    out_indices: Optional[Sequence[int]] = None,
    **kwargs: Any,
) -> nn.Module:
    """Build an architecture (``'tsm_r50'``) or a zoo entry (``'tsm_r50_1x1x8_50e_kinetics400_rgb'``).

    Args:
        model_name: architecture or zoo entry (MMAction2 config name, optionally with a
            ``.tag``), or ``tsm_<timm name>`` / ``tsn_<timm name>`` for any timm 2D backbone.
        pretrained: fetch the entry's weights (Hub safetensors, else the original MMAction2 file).
            For timm backbones use ``pretrained_backbone=True`` (timm's ImageNet weights).
        num_classes: defaults to the weights' class count; another value resets the classifiers;
            0 removes them (the model returns pooled features ``(B, num_features)``).
        checkpoint_path: a local MMAction2 ``.pth`` (0.x or 1.x) or videozoo ``.safetensors``.
        features_only: return every backbone stage as ``(B, C, T, h, w)`` (timm's
            ``features_only``; ``model.feature_info`` describes them).
        out_indices: which stages ``features_only`` returns (default: all).
        **kwargs: architecture options: ``in_chans``, ``num_segments``, ``dropout`` (or
            ``drop_rate``), and per family ``frozen_stages``, ``shift_div``...
    """
    if not isinstance(model_name, str):
        raise ModelArgumentError(
            f"model name must be a str such as 'tsm_r50', got {type(model_name).__name__} "
            f"{model_name!r}; see videozoo.list_models()")
    if not isinstance(pretrained, bool):
        raise ModelArgumentError(f"pretrained must be True or False, got {pretrained!r}")
    if num_classes is not None:
        check_num_classes(num_classes)
    if "num_classes" in kwargs:
        raise ModelArgumentError("num_classes given twice")
    if not isinstance(features_only, bool):
        raise ModelArgumentError(f"features_only must be True or False, got {features_only!r}")
    if out_indices is not None and not features_only:
        raise ModelArgumentError("out_indices only applies with features_only=True")
    _check_kwargs(kwargs)

    try:
        arch, entry = resolve(model_name)
    except ValueError as unknown:
        timm_arch = resolve_timm_temporal(model_name)
        if timm_arch is None:
            raise unknown from None
        arch, entry = timm_arch[0], None
        if kwargs.setdefault("backbone", timm_arch[1]) != timm_arch[1]:
            raise ModelArgumentError(
                f"{model_name!r} already names the backbone {timm_arch[1]!r}; got "
                f"backbone={kwargs['backbone']!r}") from None
    if pretrained and entry is None and arch in ("tsm_timm", "tsn_timm"):
        raise ModelArgumentError(
            f"{model_name!r} has no video weights; pretrained_backbone=True loads timm's "
            "ImageNet weights into its backbone")

    try:
        model = build_model(arch, entry, pretrained=pretrained, num_classes=num_classes,
                            checkpoint_path=checkpoint_path, **kwargs)
    except TypeError as e:
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        if bad is None:
            raise
        known = ", ".join(accepted_kwargs(model_entrypoint(arch)))
        raise ModelArgumentError(
            f"create_model({model_name!r}): unknown keyword argument {bad.group(1)!r}; "
            f"{arch} accepts: {known}") from None
    if entry is None and arch != model_name:  # a dynamic tsm_/tsn_<timm name>
        model.pretrained_cfg["architecture"] = model_name
    if "num_classes" in model.pretrained_cfg:  # after a reset, the head's count, not the file's
        model.pretrained_cfg["num_classes"] = model.num_classes
    if features_only:
        model.as_feature_extractor(out_indices)
    return model
