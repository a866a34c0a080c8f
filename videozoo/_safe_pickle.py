"""Reading ``.pth`` files without executing pickled code.

``torch.load(weights_only=True)`` first. Some MMAction2 0.x files keep objects in ``meta`` that it
refuses; for those a restricted unpickler turns every non-allowlisted global into an inert
placeholder, so the tensors load and nothing from the file is ever called.
"""
from __future__ import annotations

import os
import pickle
import types
from typing import Any

import torch


def safe_torch_load(path: str | os.PathLike) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        return torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=_restricted_pickle)


class _Opaque:
    """Stands in for any object the checkpoint's metadata holds; accepts and keeps everything."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:  # dict subclasses
        pass

    def append(self, value: Any) -> None:  # list subclasses
        pass

    def extend(self, values: Any) -> None:
        pass


def _opaque_class(module: str, name: str) -> type:
    return type(f"Opaque[{module}.{name}]", (_Opaque,), {})


_ALLOWED = {
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "dtype"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name.startswith("_rebuild_"):
            return getattr(torch._utils, name)
        if module == "torch" and name.endswith("Storage"):
            return getattr(torch, name)
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        return _opaque_class(module, name)


_restricted_pickle = types.ModuleType("videozoo_restricted_pickle")
_restricted_pickle.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_restricted_pickle.load = pickle.load  # type: ignore[attr-defined]
_restricted_pickle.__name__ = "pickle"
