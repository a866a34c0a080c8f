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
from typing import Any, NamedTuple, Optional, Union

import torch

from ._checkpoint import (
    CheckpointError,
    infer_num_classes,
    load_state_dict_strict,
    read_checkpoint,
    sniff_checkpoint_format,
    to_model_state_dict,
    unwrap_state_dict,
)
from ._integrity import tensors_sha256
from ._mmaction_config import ConfigError, config_from_checkpoint_meta
from ._mmaction_recipe import (
    ConfigSummaryError,
    architecture_of,
    check_model_settings,
    data_config_fields,
    summarize_config,
)
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
            entry whose published file name equals ``src``'s name is used, else the config the
            training run saved in the file (1.x ``meta['cfg']``, 0.x ``meta['config']``): its
            architecture, options, class count and test pipeline (recorded as ``data_config``).
        entry: zoo entry to record when ``arch`` is an architecture.
        **arch_kwargs: architecture options, over the entry's.

    Returns:
        ``dst`` as a :class:`~pathlib.Path`.
    """
    src, dst = Path(src), Path(dst)
    saved: Optional[SavedConfig] = None
    if arch is None and entry is None and entry_for_file(src.name) is None and src.is_file():
        saved = saved_config(src)  # a lab's own file: its training run saved its config
    if saved is not None:
        arch_name, zoo_entry = saved.arch, None
        kwargs = dict(saved.arch_kwargs)
    else:
        arch_name, zoo_entry = _resolve_target(src, arch, entry)
        kwargs = dict(zoo_entry.arch_kwargs) if zoo_entry else {}
    kwargs.update(arch_kwargs)
    kwargs.pop("num_classes", None)

    state_dict, meta = read_checkpoint(src)
    num_classes = infer_num_classes(state_dict, meta) or (zoo_entry.num_classes if zoo_entry else None)
    if saved is not None and saved.num_classes not in (None, num_classes):
        raise CheckpointError(f"{src}: its saved config says {saved.num_classes} classes but the "
                              f"classifier has {num_classes}")
    if num_classes is None:
        raise CheckpointError(f"{src}: cannot tell the number of classes (no classifier weight)")
    if zoo_entry is not None and num_classes != zoo_entry.num_classes:
        raise CheckpointError(
            f"{src} has {num_classes} classes but zoo entry {zoo_entry.name} has "
            f"{zoo_entry.num_classes}; is it the right file?"
        )
    model = build_architecture(arch_name, num_classes, kwargs)
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
    if saved is not None:
        metadata["config_source"] = saved.source
        metadata["data_config"] = json.dumps(saved.data_config, sort_keys=True, default=list)
    save_safetensors_atomic(tensors, dst, metadata)
    return dst


def from_mmaction(
    config: Union[str, os.PathLike, dict[str, Any], None],
    checkpoint: Union[str, os.PathLike, None] = None,
) -> tuple[torch.nn.Module, Any]:
    """A videozoo model and its data config from an MMAction2 TSN/TSM/TPN config, never running it.

    Args:
        config: an MMAction2 config file (0.x or 1.x; ``_base_`` files are read beside it), its
            text, or an already parsed dict; None to use the config ``checkpoint`` saved.
        checkpoint: an MMAction2 ``.pth`` (or a videozoo ``.safetensors``) to load, strictly.

    Returns:
        ``(model, data_config)``: the model in eval mode, and the
        :class:`~videozoo.data.DataConfig` of the config's test pipeline (pass it to
        :func:`videozoo.create_transform`).

    Raises:
        ConfigError: the config cannot be read without running it, or describes something
            videozoo does not compute (named in the message).
    """
    from ._mmaction_config import load_config, parse_config_text
    from .data import resolve_data_config

    if config is None:
        if checkpoint is None:
            raise ValueError("from_mmaction needs a config, a checkpoint with a saved config, or both")
        meta_cfg = config_from_checkpoint_meta(read_checkpoint_meta(checkpoint))
        if not meta_cfg or "model" not in meta_cfg:
            raise ConfigError(f"{checkpoint} saved no MMAction2 config (meta['cfg'] / "
                              "meta['config']); pass the config file")
        cfg, name = meta_cfg, Path(checkpoint).stem
    elif isinstance(config, dict):
        cfg, name = config, ""
    elif isinstance(config, str) and ("\n" in config or "=" in config) and not os.path.isfile(config):
        cfg, name = parse_config_text(config), ""
    else:
        cfg, name = load_config(config), Path(config).stem
    try:
        spec = config_model_spec(cfg, name=name)
    except ConfigSummaryError as e:
        raise ConfigError(f"cannot build this MMAction2 config with videozoo: {e}") from e
    num_classes = spec.num_classes
    if checkpoint is not None:
        state_dict, meta = read_checkpoint(checkpoint)
        found = infer_num_classes(state_dict, meta)
        if num_classes is not None and found not in (None, num_classes):
            raise CheckpointError(f"{checkpoint} has {found} classes but the config says "
                                  f"{num_classes}; is it the right file?")
        num_classes = num_classes or found
    if num_classes is None:
        raise ConfigError("the config's head has no num_classes")
    model = build_architecture(spec.arch, num_classes, spec.arch_kwargs)
    if checkpoint is not None:
        load_state_dict_strict(model, to_model_state_dict(model, state_dict), str(checkpoint))
    model.pretrained_cfg = {**getattr(model, "pretrained_cfg", {}), "architecture": spec.arch,
                            "num_classes": num_classes, "mmaction_config": name or "<config>"}
    return model.eval(), resolve_data_config(dict(spec.data_config))


# -- a checkpoint's own saved config ---------------------------------------------------------------
class SavedConfig(NamedTuple):
    """What a checkpoint's saved MMAction2 config says about the model and its test pipeline."""

    arch: str
    arch_kwargs: dict[str, Any]
    num_classes: Optional[int]
    data_config: dict[str, Any]  # DataConfig fields, for videozoo.resolve_data_config
    source: str  # "meta['cfg']" (1.x) or "meta['config']" (0.x)


def read_checkpoint_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` dict of an MMAction2 ``.pth`` (empty for other files), read without running
    code (objects the file names become inert placeholders)."""
    path = os.fspath(path)
    if sniff_checkpoint_format(path) == "safetensors":
        return {}
    from ._safe_pickle import safe_torch_load

    try:
        obj = safe_torch_load(path)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from e
    unwrap_state_dict(obj, path)  # refuses files without tensors, as read_checkpoint does
    meta = obj.get("meta") if isinstance(obj, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def config_model_spec(cfg: dict[str, Any], *, name: str = "") -> SavedConfig:
    """Architecture, options, class count and data config of a parsed MMAction2 config."""
    summary = summarize_config(cfg)
    check_model_settings(summary)
    arch, kwargs = architecture_of(summary)
    fields = data_config_fields(summary, arch, name=name)
    return SavedConfig(arch, kwargs, summary.get("num_classes"), fields, "config")


def saved_config(path: str | os.PathLike) -> Optional[SavedConfig]:
    """The model described by a checkpoint's saved config, or None when it saved none (a config
    it saved that videozoo cannot express raises :class:`~videozoo._mmaction_config.ConfigError`)."""
    meta = read_checkpoint_meta(path)
    key = "cfg" if meta.get("cfg") else "config"
    cfg = config_from_checkpoint_meta(meta)
    if not cfg or "model" not in cfg:
        return None
    try:
        spec = config_model_spec(cfg, name=Path(path).stem)
    except ConfigSummaryError as e:
        raise ConfigError(f"{path}: its saved config (meta[{key!r}]) describes a model videozoo "
                          f"cannot build: {e}") from e
    return spec._replace(source=f"meta[{key!r}]")


def build_architecture(arch: str, num_classes: int, kwargs: dict[str, Any]) -> torch.nn.Module:
    """``model_entrypoint(arch)(num_classes, **kwargs)``, naming the option when the architecture
    refuses one (an older MobileNetV2/MobileOne TSM calls ``num_segments`` ``shift_segments``)."""
    fn = model_entrypoint(arch)
    try:
        return fn(num_classes=num_classes, **kwargs)
    except TypeError as e:
        if "num_segments" in kwargs and "num_segments" in str(e):
            renamed = dict(kwargs)
            segments = renamed.pop("num_segments")
            if arch.startswith("tsm_mobile"):
                renamed["shift_segments"] = segments
            return fn(num_classes=num_classes, **renamed)
        raise ValueError(f"{arch} does not accept these options {kwargs}: {e}") from e


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
                f"which architecture is {src.name}? It is not a zoo file name and saved no "
                "MMAction2 config (meta['cfg'] / meta['config']) that names its model; pass "
                "arch= / --arch (e.g. 'tsm_r50') or a zoo entry name."
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
