"""Names only: which architectures and zoo entries exist. Nothing here builds a model.

Architectures are registered by their family files with ``@register_model``; zoo entries (rows of
the MMAction2 tables) are registered as data by ``videozoo.zoo``.
"""
from __future__ import annotations

import contextlib
import difflib
import fnmatch
import os
from collections.abc import Iterator
from typing import Any, Callable, Optional, Union

from . import _families
from ._pretrained import ZooEntry

DEFAULT_HUB_ORG = "videozoo"

_model_entrypoints: dict[str, Callable[..., Any]] = {}
_zoo_entries: dict[str, ZooEntry] = {}
_aliases: dict[str, str] = {}  # alias (e.g. checkpoint file stem, bare config name) -> entry name


def register_model(fn: Optional[Callable[..., Any]] = None, **facts: Any) -> Any:
    """Decorator for architecture entrypoints ``fn(**kwargs) -> nn.Module``: bare
    (``@register_model``: the family is the one its module registered, see
    :mod:`videozoo._families`) or with facts (``@register_model(family="tsn", title="TSN,
    ConvNeXt-T")``; any field of :class:`~videozoo._families.Family`)."""
    def add(f: Callable[..., Any]) -> Callable[..., Any]:
        name = f.__name__
        if name in _model_entrypoints:
            raise ValueError(f"architecture {name!r} registered twice")
        _families.record_architecture(name, f.__module__, facts)
        _model_entrypoints[name] = f
        return f

    return add(fn) if fn is not None else add


def register_pretrained(entry: ZooEntry) -> ZooEntry:
    """Add one zoo entry; its name and aliases must be unique across the zoo."""
    if entry.name in _zoo_entries or entry.name in _aliases:
        raise ValueError(f"zoo entry {entry.name!r} registered twice")
    if entry.arch not in _model_entrypoints:
        raise ValueError(f"zoo entry {entry.name!r} names unknown architecture {entry.arch!r}")
    _zoo_entries[entry.name] = entry
    for alias in entry.aliases:
        if alias in _zoo_entries or _aliases.get(alias, entry.name) != entry.name:
            raise ValueError(f"alias {alias!r} of {entry.name!r} is already taken")
        _aliases[alias] = entry.name
    return entry


def hub_org() -> str:
    """The Hugging Face organisation that holds videozoo weights (``VIDEOZOO_HUB_ORG``)."""
    return os.environ.get("VIDEOZOO_HUB_ORG", DEFAULT_HUB_ORG)


def hf_hub_id(entry: ZooEntry) -> str:
    return entry.hf_hub_id or f"{hub_org()}/{entry.name}"


def is_model(name: str) -> bool:
    return name in _model_entrypoints


def model_entrypoint(name: str) -> Callable[..., Any]:
    return _model_entrypoints[name]


def get_entry(name: str) -> Optional[ZooEntry]:
    """The zoo entry for a name or alias, or None when the name is an architecture or unknown."""
    name = _aliases.get(name, name)
    return _zoo_entries.get(name)


def resolve(name: str) -> tuple[str, Optional[ZooEntry]]:
    """(architecture, entry or None) for a user-given name; ValueError with suggestions."""
    if name in _model_entrypoints:
        return name, None
    entry = get_entry(name)
    if entry is not None:
        return entry.arch, entry
    candidates = list(_model_entrypoints) + list(_zoo_entries) + list(_aliases)
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model {name!r}.{hint} See videozoo.list_models() and videozoo.list_pretrained()."
    )


def _filter(names: list[str], pattern: Union[str, list[str], None]) -> list[str]:
    if pattern is None:
        return sorted(names)
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    return sorted({n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)})


def list_models(pattern: Union[str, list[str], None] = None, pretrained: bool = False) -> list[str]:
    """Names ``create_model`` accepts: architectures and zoo entries (only entries with weights
    when ``pretrained``). ``pattern`` takes shell wildcards, e.g. ``'tsm_*'``."""
    if pretrained:
        return list_pretrained(pattern)
    return _filter(list(_model_entrypoints) + list(_zoo_entries), pattern)


def list_architectures(pattern: Union[str, list[str], None] = None) -> list[str]:
    return _filter(list(_model_entrypoints), pattern)


def list_pretrained(pattern: Union[str, list[str], None] = None,
                    arch: Union[str, list[str], None] = None) -> list[str]:
    """Zoo entries that have a checkpoint; ``arch`` (names or wildcards) keeps the entries of
    those architectures, whatever naming scheme (0.x or 1.x config names) they use:
    ``list_pretrained(arch="tsm_r50")``."""
    names = [n for n, e in _zoo_entries.items() if e.has_weights
             and (arch is None or _filter([e.arch], arch))]
    return _filter(names, pattern)


def list_entries(pattern: Union[str, list[str], None] = None,
                 arch: Union[str, list[str], None] = None) -> list[ZooEntry]:
    """Every zoo entry, with or without weights, in name order (``arch`` as in
    :func:`list_pretrained`)."""
    return [_zoo_entries[n] for n in _filter(list(_zoo_entries), pattern)
            if arch is None or _filter([_zoo_entries[n].arch], arch)]


@contextlib.contextmanager
def temporary_registry() -> Iterator[None]:
    """Everything registered inside the block (architectures, families, entries) is forgotten
    after it: for tests that register toy families."""
    saved = [dict(d) for d in (_model_entrypoints, _zoo_entries, _aliases, _families._families,
                               _families._arch_facts, _families._arch_module)]
    try:
        yield
    finally:
        for d, old in zip((_model_entrypoints, _zoo_entries, _aliases, _families._families,
                           _families._arch_facts, _families._arch_module), saved):
            d.clear()
            d.update(old)


def pretrained_info(name: str) -> dict[str, Any]:
    """Everything the zoo knows about an entry, as a plain mapping."""
    entry = get_entry(name)
    if entry is None:
        arch, _ = resolve(name)  # raises with suggestions when unknown
        raise ValueError(f"{name!r} is an architecture, not a zoo entry; see "
                         f"videozoo.list_pretrained('{arch}*')")
    info = entry.to_dict()
    info["hf_hub_id"] = hf_hub_id(entry)
    return info
