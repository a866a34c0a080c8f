"""Class names: shipped with the package for the zoo's datasets, downloaded only for others.

A label map is MMAction2's plain text format: one class name per line, the class index being the
0-based line number. The lists of every dataset in the zoo (Kinetics-400, Something-Something
V1/V2, UCF101, HMDB51, Diving48, Jester, Moments in Time, Multi-Moments in Time, ActivityNet)
are package data under ``videozoo/data/label_maps/`` (``SOURCES.md`` there says where each came
from), so class names never need the network. A downloaded label map (a user's dataset) is
checked before it is used or kept: the right number of names, and text rather than an HTML page.
"""
from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Union

__all__ = ["builtin_label_names", "label_names", "read_label_map"]

_LABEL_MAP_DIR = "label_maps"
_cache: dict[str, list[str]] = {}


class LabelMapError(ValueError):
    """A label map that cannot be the class names it claims to be."""


def read_label_map(path: Union[str, os.PathLike], num_classes: Optional[int] = None) -> list[str]:
    """Class names from a label map file (UTF-8, one name per line; blank lines skipped).

    Raises :class:`LabelMapError` for an empty file, an HTML/XML page, binary data, or a count
    other than ``num_classes`` (when given).
    """
    data = Path(path).read_bytes()
    return _parse_label_map(data, os.fspath(path), num_classes)


def _parse_label_map(data: bytes, source: str, num_classes: Optional[int]) -> list[str]:
    if b"\0" in data:
        raise LabelMapError(f"label map {source} is binary data, not one class name per line")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LabelMapError(f"label map {source} is not UTF-8 text ({e.reason} at byte "
                            f"{e.start})") from e
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise LabelMapError(f"label map {source} holds no class names")
    if any(name.startswith("<") for name in names[:5]):
        raise LabelMapError(f"label map {source} is an HTML/XML page (starts {names[0][:40]!r}),"
                            " not class names: a failed download or an error page?")
    if num_classes is not None and len(names) != num_classes:
        raise LabelMapError(f"label map {source} has {len(names)} class names, expected "
                            f"{num_classes}")
    return names


@functools.cache
def builtin_label_names(dataset: str) -> Optional[tuple[str, ...]]:
    """The class names of a dataset shipped with videozoo (``'kinetics400'``...), or None.

    Read through :mod:`importlib.resources`, so they work from a wheel, a zip or a checkout.
    """
    if not isinstance(dataset, str) or not dataset.isidentifier():
        return None
    resource = resources.files(__package__).joinpath(_LABEL_MAP_DIR, f"{dataset}.txt")
    if not resource.is_file():
        return None
    return tuple(_parse_label_map(resource.read_bytes(), f"videozoo:{_LABEL_MAP_DIR}/"
                                  f"{dataset}.txt", None))


def builtin_datasets() -> tuple[str, ...]:
    """Datasets whose class names ship with videozoo."""
    folder = resources.files(__package__).joinpath(_LABEL_MAP_DIR)
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt")))


def _default_dir() -> Path:
    from .. import _hub

    return _hub.cache_dir() / "label_maps"


def label_names(name: Any, cache_dir: Optional[Union[str, os.PathLike]] = None) -> list[str]:
    """The class names of a zoo entry (index = class id), e.g. ``label_names('tsm_r50_...')[k]``.

    ``name`` is a zoo entry (or its name), a label map URL or a local file. A zoo entry of a
    dataset videozoo ships gets the built-in list (no network). Otherwise the entry's label map
    is downloaded through videozoo's hub helper (same offline mode and mirrors as the weights)
    into ``cache_dir`` (default: beside the cached weights), checked (count, not HTML) and read
    from there afterwards; a file that fails the check is deleted, never kept.
    """
    from .._pretrained import ZooEntry

    expected: Optional[int] = None
    if isinstance(name, ZooEntry):
        entry = name
    elif not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"label_names() takes a zoo entry name, a URL or a file, not "
                        f"{type(name).__name__}")
    elif os.path.isfile(name):
        return read_label_map(name)
    elif "://" in os.fspath(name):
        return _download_label_map(os.fspath(name), cache_dir, None)
    else:
        entry = _entry(os.fspath(name))
    builtin = builtin_label_names(entry.dataset)
    if builtin is not None and len(builtin) == entry.num_classes:
        return list(builtin)
    expected = entry.num_classes
    if not entry.label_map:
        raise LabelMapError(f"zoo entry {entry.name!r} ({entry.dataset}) has no label map")
    return _download_label_map(entry.label_map, cache_dir, expected)


def _entry(name: str) -> Any:
    from .._registry import get_entry, resolve

    entry = get_entry(name)
    if entry is None:
        resolve(name)  # unknown names raise with suggestions
        raise ValueError(f"{name!r} is an architecture; class names belong to zoo entries "
                         "(see videozoo.list_pretrained())")
    return entry


def _download_label_map(url: str, cache_dir: Optional[Union[str, os.PathLike]],
                        expected: Optional[int]) -> list[str]:
    """Download (or reuse) a label map; a cached or fresh file that fails the check is deleted
    and fetched once more."""
    from .. import _hub

    dest = Path(cache_dir) if cache_dir is not None else _default_dir()
    key = f"{dest}|{url}|{expected}"
    if key in _cache:
        return list(_cache[key])
    for last_try in (False, True):
        path = _hub.download_file(url, dest, progress=False)
        try:
            names = read_label_map(path, expected)
            break
        except LabelMapError as e:
            path.unlink(missing_ok=True)
            if last_try:
                raise LabelMapError(f"{e} (downloaded from {url}; the file was deleted)") from e
    _cache[key] = names
    return list(names)
