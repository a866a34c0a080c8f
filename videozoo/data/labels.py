"""Class names of a zoo entry: its dataset's label map, downloaded once and cached with the weights.

A label map is MMAction2's plain text format: one class name per line, the class index being the
0-based line number.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

__all__ = ["label_names", "read_label_map"]

_cache: dict[str, list[str]] = {}


def read_label_map(path: Union[str, os.PathLike]) -> list[str]:
    """Class names from a label map file (UTF-8, one name per line; blank lines skipped)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ValueError(f"label map {os.fspath(path)} holds no class names")
    return names


def _default_dir() -> Path:
    from .. import _hub

    return _hub.cache_dir() / "label_maps"


def label_names(name: str, cache_dir: Optional[Union[str, os.PathLike]] = None) -> list[str]:
    """The class names of a zoo entry (index = class id), e.g. ``label_names('tsm_r50_...')[k]``.

    ``name`` may also be a label map URL or a local file. Downloads go through videozoo's hub
    helper (same offline mode and mirrors as the weights) into ``cache_dir`` (default: beside the
    cached weights) and are read from there afterwards.
    """
    if os.path.isfile(name):
        return read_label_map(name)
    if "://" in name:
        url = name
    else:
        from .._registry import get_entry, resolve

        entry = get_entry(name)
        if entry is None:
            resolve(name)  # unknown names raise with suggestions
            raise ValueError(f"{name!r} is an architecture; class names belong to zoo entries "
                             "(see videozoo.list_pretrained())")
        if not entry.label_map:
            raise ValueError(f"zoo entry {name!r} ({entry.dataset}) has no label map")
        url = entry.label_map
    dest = Path(cache_dir) if cache_dir is not None else _default_dir()
    key = f"{dest}|{url}"
    if key not in _cache:
        from .. import _hub

        path = _hub.download_file(url, dest)
        _cache[key] = read_label_map(path)
    return list(_cache[key])
