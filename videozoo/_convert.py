"""MMAction2 ``.pth`` -> videozoo ``.safetensors``.

The output holds videozoo's own keys: the architecture is built, the family's
``convert_mmaction_state_dict`` renames the MMAction2 keys, the result is loaded strictly and
``model.state_dict()`` is saved. So a converted file loads into ``create_model`` without any
renaming, and a key the converter missed fails here, at conversion, not at a user's first load.
The safetensors metadata records what was converted from what (``arch``, ``num_classes``,
``entry``, ``source_file``, ``source_sha256``).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch

from ._checkpoint import (
    CheckpointError,
    infer_num_classes,
    load_state_dict_strict,
    read_checkpoint,
    to_model_state_dict,
)
from ._integrity import tensors_sha256
from ._registry import get_entry, is_model, list_entries, model_entrypoint, resolve

METADATA_FORMAT = "videozoo"


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (MMAction2 names files ``<stem>-<first 8 hex>.pth``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def convert_checkpoint(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    arch: Optional[str] = None,
    *,
    entry: Optional[str] = None,
    **arch_kwargs: Any,
) -> Path:
    """Convert an MMAction2 checkpoint (0.x or 1.x ``.pth``) to a videozoo ``.safetensors`` file.

    Args:
        src: the MMAction2 file (a videozoo safetensors file is accepted too and re-checked).
        dst: the ``.safetensors`` file to write (written to a temporary file, then renamed).
        arch: architecture (``'tsm_r50'``) or zoo entry name; an entry brings its architecture
            options (e.g. ``num_segments``) and is recorded in the metadata. When omitted, the
            entry whose published file name equals ``src``'s name is used.
        entry: zoo entry to record when ``arch`` is an architecture.
        **arch_kwargs: architecture options, over the entry's.

    Returns:
        ``dst`` as a :class:`~pathlib.Path`.
    """
    src, dst = Path(src), Path(dst)
    arch_name, zoo_entry = _resolve_target(src, arch, entry)
    kwargs = dict(zoo_entry.arch_kwargs) if zoo_entry else {}
    kwargs.update(arch_kwargs)
    kwargs.pop("num_classes", None)

    state_dict, meta = read_checkpoint(src)
    num_classes = infer_num_classes(state_dict, meta) or (zoo_entry.num_classes if zoo_entry else None)
    if num_classes is None:
        raise CheckpointError(f"{src}: cannot tell the number of classes (no classifier weight)")
    if zoo_entry is not None and num_classes != zoo_entry.num_classes:
        raise CheckpointError(
            f"{src} has {num_classes} classes but zoo entry {zoo_entry.name} has "
            f"{zoo_entry.num_classes}; is it the right file?"
        )
    model = model_entrypoint(arch_name)(num_classes=num_classes, **kwargs)
    load_state_dict_strict(model, to_model_state_dict(model, state_dict), str(src))

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {
        "format": "pt",
        "producer": METADATA_FORMAT,
        "arch": arch_name,
        "num_classes": str(num_classes),
        "source_file": src.name,
        "source_sha256": sha256_file(src),
        "tensors_sha256": tensors_sha256(tensors),  # lets any copy be checked on its own
    }
    if meta.get("source_file") and meta.get("source_sha256"):  # re-converting a videozoo file
        metadata["source_file"], metadata["source_sha256"] = meta["source_file"], meta["source_sha256"]
    if zoo_entry is not None:
        metadata["entry"] = zoo_entry.name
        metadata["mmaction_version"] = zoo_entry.mmaction_version
    if kwargs:
        metadata["arch_kwargs"] = json.dumps(kwargs, sort_keys=True, default=str)
    save_safetensors_atomic(tensors, dst, metadata)
    return dst


def save_safetensors_atomic(tensors: dict[str, torch.Tensor], dst: str | os.PathLike,
                            metadata: dict[str, str]) -> Path:
    """Write to a temporary file beside ``dst`` and rename it, so readers never see half a file."""
    from safetensors.torch import save_file

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata header of a safetensors file (no tensor is read)."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable safetensors file: {e}") from e


def _resolve_target(src: Path, arch: Optional[str], entry: Optional[str]):
    zoo_entry = None
    if entry is not None:
        zoo_entry = get_entry(entry)
        if zoo_entry is None:
            resolve(entry)  # raises with suggestions
            raise ValueError(f"{entry!r} is an architecture, not a zoo entry")
    if arch is None:
        if zoo_entry is None:
            zoo_entry = entry_for_file(src.name)
        if zoo_entry is None:
            raise ValueError(
                f"which architecture is {src.name}? Pass arch= (e.g. 'tsm_r50') or a zoo entry "
                "name; only files named as the zoo publishes them are recognised."
            )
        return zoo_entry.arch, zoo_entry
    if is_model(arch):
        if zoo_entry is not None and zoo_entry.arch != arch:
            raise ValueError(f"entry {zoo_entry.name} is a {zoo_entry.arch}, not a {arch}")
        return arch, zoo_entry
    arch_name, arch_entry = resolve(arch)
    if zoo_entry is not None and arch_entry is not None and arch_entry.name != zoo_entry.name:
        raise ValueError(f"arch={arch!r} and entry={entry!r} name different zoo entries")
    return arch_name, zoo_entry or arch_entry


def entry_for_file(filename: str):
    """The zoo entry whose published checkpoint has this file name, or None."""
    for e in list_entries():
        if e.url and e.url.rsplit("/", 1)[-1] == filename:
            return e
    return None
