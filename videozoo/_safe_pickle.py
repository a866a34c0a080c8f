"""Reading ``.pth`` files without executing pickled code.

``torch.load(weights_only=True)`` is tried first. Some MMAction2 0.x files keep objects in ``meta``
(numpy scalars, mmcv config objects...) that it refuses; for those, ``torch.load`` runs again with
``weights_only=False`` and ``pickle_module`` set to a restricted stand-in for :mod:`pickle`:

* every global outside a small allowlist (tensor rebuild functions, storages, dtypes,
  ``OrderedDict``, ``torch.Size``...) becomes an inert placeholder class, so ``os.system``,
  ``eval`` or a checkpoint's own classes are never imported, let alone called;
* ``REDUCE`` / ``NEWOBJ`` / ``BUILD`` only call allowlisted objects or placeholders, and ``BUILD``
  never touches a class (no monkey-patching of ``torch.Tensor`` through a crafted state);
* the module's ``load`` (which ``torch.load`` uses for the legacy format's header records) is
  restricted too, not :func:`pickle.load`.

torch 2.x routes ``pickle_module`` into both readers: the zip format (``_load``: the
``data.pkl`` record) and the legacy format (``_legacy_load``: header records through
``pickle_module.load``, the object tree through ``pickle_module.Unpickler``). TorchScript archives
would be handed to ``torch.jit.load`` instead; they are refused before ``torch.load`` sees them.
"""
from __future__ import annotations

import os
import pickle
import types
import zipfile
from typing import Any

import torch

from ._checkpoint import CheckpointError


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load`` a file on CPU, never running code the file names."""
    path = os.fspath(path)
    _refuse_torchscript(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError:
        pass  # objects weights_only refuses (0.x meta): read again, restricted
    except RuntimeError as e:
        if "legacy .tar format" not in str(e):
            raise
    if _env_true("TORCH_FORCE_WEIGHTS_ONLY_LOAD"):
        raise CheckpointError(
            f"{path} holds objects that torch.load(weights_only=True) refuses, and "
            "TORCH_FORCE_WEIGHTS_ONLY_LOAD forbids videozoo's restricted reader; unset it to let "
            "videozoo read the tensors (the refused objects are replaced by inert placeholders)."
        )
    return torch.load(path, map_location="cpu", weights_only=False, mmap=False,
                      pickle_module=restricted_pickle)


def _env_true(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in ("1", "y", "yes", "true", "on")


def _refuse_torchscript(path: str) -> None:
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return  # torch.load reports a broken archive itself
    if any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in names):
        raise CheckpointError(
            f"{path} is a TorchScript archive (torch.jit.save), not a checkpoint; videozoo does "
            "not load TorchScript programs. Save the weights with torch.save(model.state_dict())."
        )


# -- placeholders --------------------------------------------------------------------------------
class Opaque:
    """Stands in for any object the file names that is not allowlisted; keeps, never runs."""

    __module__ = "videozoo._safe_pickle"

    def __new__(cls, *args: Any, **kwargs: Any) -> Opaque:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __call__(self, *args: Any, **kwargs: Any) -> Opaque:  # e.g. getattr(x, 'f')(...)
        return Opaque(*args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:  # dict subclasses
        self.__dict__.setdefault("items", []).append((key, value))

    def append(self, value: Any) -> None:  # list subclasses
        self.__dict__.setdefault("values", []).append(value)

    def extend(self, values: Any) -> None:
        self.__dict__.setdefault("values", []).extend(values)

    def add(self, value: Any) -> None:  # set subclasses
        self.append(value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


_opaque_classes: dict[tuple[str, str], type] = {}


def _opaque_class(module: str, name: str) -> type:
    key = (module, name)
    if key not in _opaque_classes:
        _opaque_classes[key] = type(f"Opaque[{module}.{name}]", (Opaque,), {})
    return _opaque_classes[key]


def _is_opaque(obj: Any) -> bool:
    return isinstance(obj, Opaque) or (isinstance(obj, type) and issubclass(obj, Opaque))


# -- allowlist -----------------------------------------------------------------------------------
_REBUILD_FUNCTIONS = (
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
    "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
    "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_device_tensor_from_numpy",
)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    """torch's helper for tensors with attributes, kept to plain tensor types and safe calls."""
    if not _is_callable_allowed(func):
        return Opaque(args)
    if not (isinstance(new_type, type) and issubclass(new_type, torch.Tensor)):
        new_type = torch.Tensor  # a tensor subclass the file names: keep the data only
    return torch._tensor._rebuild_from_type_v2(func, new_type, args, state)


def _build_allowlist() -> dict[str, Any]:
    import _codecs
    from collections import OrderedDict

    allowed: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
        "builtins.slice": slice,
        "builtins.bytearray": bytearray,
        "_codecs.encode": _codecs.encode,  # bytes in protocol-2 pickles
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "torch._tensor.Tensor": torch.Tensor,
        "torch.Tensor": torch.Tensor,
        "torch.nn.parameter.Parameter": torch.nn.Parameter,
        "torch.serialization._get_layout": torch.serialization._get_layout,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    }
    for name in _REBUILD_FUNCTIONS:
        fn = getattr(torch._utils, name, None)
        if fn is not None:
            allowed[f"torch._utils.{name}"] = fn
    for name in dir(torch):
        value = getattr(torch, name, None)
        if isinstance(value, (torch.dtype, torch.layout, torch.memory_format, torch.qscheme)):
            allowed[f"torch.{name}"] = value
        elif isinstance(value, type) and name.endswith("Storage"):
            allowed[f"torch.{name}"] = value
    for name in ("TypedStorage", "UntypedStorage"):
        allowed[f"torch.storage.{name}"] = getattr(torch.storage, name)
    return allowed


_ALLOWED = _build_allowlist()
_ALLOWED_IDS = {id(v) for v in _ALLOWED.values()}
# types whose instances BUILD may set state on (as torch's weights_only unpickler allows)
_BUILDABLE: tuple[type, ...] = (torch.Tensor, _ALLOWED["collections.OrderedDict"])


def _is_callable_allowed(obj: Any) -> bool:
    return id(obj) in _ALLOWED_IDS or _is_opaque(obj)


class RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Pure-Python unpickler whose globals, calls and state-setting are restricted.

    The pure-Python implementation is used (not the C one) because its opcode table can be
    overridden; checkpoint pickles hold only the object tree (tensor data is read separately),
    so the speed difference does not matter.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def find_class(self, module: str, name: str) -> Any:
        key = f"{module}.{name}"
        if key in _ALLOWED:
            return _ALLOWED[key]
        return _opaque_class(module, name)

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST / OBJ opcodes
        self.append(klass(*args) if _is_callable_allowed(klass) else Opaque(*args))

    def load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        stack[-1] = func(*args) if _is_callable_allowed(func) else Opaque(*args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(_new(cls, args, {}))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(_new(cls, args, kwargs))

    def load_build(self) -> None:
        inst = self.stack[-2]  # the stack ends with (object, state)
        if isinstance(inst, type) or not isinstance(inst, (Opaque, *_BUILDABLE)):
            self.stack.pop()  # drop the state: never set attributes on classes or foreign objects
            return
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BUILD[0]] = load_build


def _new(cls: Any, args: Any, kwargs: Any) -> Any:
    if isinstance(cls, type) and (issubclass(cls, Opaque) or id(cls) in _ALLOWED_IDS):
        return cls.__new__(cls, *args, **kwargs)
    return Opaque(*args)


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


def _restricted_loads(data: bytes, **kwargs: Any) -> Any:
    import io

    return RestrictedUnpickler(io.BytesIO(data), **kwargs).load()


def _no_dump(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("videozoo's restricted pickle module only reads")


#: A stand-in for :mod:`pickle` to pass as ``torch.load(pickle_module=...)``.
restricted_pickle = types.ModuleType("videozoo_restricted_pickle")
restricted_pickle.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
restricted_pickle.load = _restricted_load  # type: ignore[attr-defined]
restricted_pickle.loads = _restricted_loads  # type: ignore[attr-defined]
restricted_pickle.dump = _no_dump  # type: ignore[attr-defined]
restricted_pickle.dumps = _no_dump  # type: ignore[attr-defined]
restricted_pickle.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]
restricted_pickle.__name__ = "videozoo_restricted_pickle"

