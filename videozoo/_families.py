"""Family facts: what an architecture family (TSN, TSM, TPN, ...) is, stated once where it is built.

A model file registers its family with :func:`register_family` and its architectures with
``@register_model`` (optionally ``@register_model(family="tsm", title=...)``); the data pipeline,
``param_groups``, the model cards and the tests read the facts back with :func:`arch_facts`, so
nothing downstream guesses from a name. Adding a family is a model file and a zoo file (plus one
import line each); forgetting a fact gives the generic default, never a silent misfit.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

__all__ = ["ArchFacts", "Family", "arch_facts", "describe_architecture", "get_family",
           "list_families", "register_family"]

OPTIMIZER_RECIPES = ("default", "tsm")  # see videozoo.training.param_groups
INPUT_FORMATS = ("NCHW", "NCTHW", "NCHW_Flow")


@dataclass(frozen=True)
class Family:
    """Facts every architecture of a family shares; an architecture may override any of them.

    ``test`` holds :class:`~videozoo.data.DataConfig` fields (the family's usual test protocol,
    e.g. ``num_clips=25, crop='ten'``), ``train`` :class:`~videozoo.data.TrainConfig` fields
    (its usual training sampling and augmentation), ``train_protocol``
    :class:`~videozoo._pretrained.TrainProtocol` fields (its usual recipe: lr, weight decay...).
    ``optimizer`` names the parameter-group recipe (``'default'``: one group; ``'tsm'``:
    MMAction2's ``TSMOptimWrapperConstructor``); ``key_map`` converts an MMAction2 state dict
    to the family's keys (None: the model's ``convert_mmaction_state_dict``)."""

    name: str
    title: str
    paper: str = ""
    is_3d: bool = False
    modality: str = "rgb"
    optimizer: str = "default"
    test: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    train_protocol: Mapping[str, Any] = field(default_factory=dict)
    key_map: Optional[Callable[..., Any]] = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZER_RECIPES:
            raise ValueError(f"family {self.name!r}: optimizer must be one of {OPTIMIZER_RECIPES}")


@dataclass(frozen=True)
class ArchFacts:
    """The facts of one architecture: its family's, with the architecture's own on top."""

    arch: str
    family: str
    family_title: str
    title: str
    is_3d: bool
    modality: str
    input_format: str
    optimizer: str
    test: Mapping[str, Any]
    train: Mapping[str, Any]
    train_protocol: Mapping[str, Any]
    key_map: Optional[Callable[..., Any]]
    paper: str = ""


GENERIC = Family(name="other", title="Other")
_families: dict[str, Family] = {}
_arch_facts: dict[str, dict[str, Any]] = {}  # arch -> facts stated at registration
_arch_module: dict[str, str] = {}  # arch -> module that registered it
_FACT_KEYS = {f.name for f in dataclasses.fields(Family)} - {"name"} | {"family"}


def register_family(name: str, *, title: str, **facts: Any) -> Family:
    """Declare a family (once, in its model file). Keywords: the fields of :class:`Family`."""
    if name in _families:
        raise ValueError(f"family {name!r} registered twice")
    fam = Family(name=name, title=title, **facts)
    _families[name] = fam
    return fam


def get_family(name: str) -> Family:
    if name not in _families:
        raise KeyError(f"unknown family {name!r}; known: {', '.join(_families) or 'none'}")
    return _families[name]


def list_families() -> list[str]:
    """Registered family names, in registration order."""
    return list(_families)


def record_architecture(arch: str, module: str, facts: Mapping[str, Any]) -> None:
    """Called by ``register_model``: remember where ``arch`` comes from and what it states."""
    _check_keys(arch, facts)
    _arch_module[arch] = module
    _arch_facts[arch] = dict(facts)


def describe_architecture(arch: str, **facts: Any) -> None:
    """State (more) facts of an already registered architecture: ``family``, ``title`` and any
    :class:`Family` field; ``test`` / ``train`` / ``train_protocol`` dicts update the family's."""
    if arch not in _arch_module:
        raise KeyError(f"architecture {arch!r} is not registered")
    _check_keys(arch, facts)
    _arch_facts[arch].update(facts)


def _check_keys(arch: str, facts: Mapping[str, Any]) -> None:
    unknown = set(facts) - _FACT_KEYS
    if unknown:
        raise TypeError(f"{arch}: unknown architecture facts {sorted(unknown)}; known: "
                        f"{sorted(_FACT_KEYS)}")


def _family_of(arch: str) -> Family:
    """The stated family; else the family named like the registering module (``tsm``), or
    like its first word (``tsm_mobile`` -> ``tsm``); else the generic one."""
    stated = _arch_facts.get(arch, {}).get("family")
    if stated is not None:
        return get_family(stated)
    module = _arch_module.get(arch, "").rsplit(".", 1)[-1]
    for cand in (module, module.split("_", 1)[0]):
        if cand in _families:
            return _families[cand]
    return GENERIC


def arch_facts(arch: str) -> ArchFacts:
    """Everything known about ``arch``: its family's facts updated with its own."""
    if arch not in _arch_module:
        raise KeyError(f"architecture {arch!r} is not registered")
    fam = _family_of(arch)
    own = _arch_facts[arch]
    merged = {k: own.get(k, getattr(fam, k)) for k in ("paper", "is_3d", "modality", "optimizer",
                                                       "key_map")}
    dicts = {k: {**getattr(fam, k), **own.get(k, {})} for k in ("test", "train",
                                                                  "train_protocol")}
    if merged["modality"] == "flow":
        input_format = "NCHW_Flow"
    else:
        input_format = "NCTHW" if merged["is_3d"] else "NCHW"
    return ArchFacts(arch=arch, family=fam.name, family_title=fam.title,
                     title=own.get("title", f"{fam.title}, {arch}"), input_format=input_format,
                     **merged, **dicts)


def _forget(arch: str) -> None:
    """Test helper: drop an architecture's facts (the registry drops its entrypoint)."""
    _arch_module.pop(arch, None)
    _arch_facts.pop(arch, None)
