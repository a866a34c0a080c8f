"""Reading checkpoints safely and mapping them onto videozoo models, strictly.

MMAction2 ``.pth`` files (0.x and 1.x layouts) are read with ``torch.load(weights_only=True)``;
videozoo's own files are safetensors. A family's ``convert_mmaction_state_dict`` renames
MMAction2 keys; ``load_state_dict_strict`` then refuses any missing, unexpected or mis-shaped key.
When ``weights_only`` refuses a file (objects in a 0.x ``meta``), ``_safe_pickle`` reads it with a
restricted unpickler that never imports or calls what the file names.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch import nn

MMACTION_PREFIXES = ("backbone.", "cls_head.", "neck.")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state_dict, metadata) of a ``.pth`` or ``.safetensors`` file, read without running code.

    The format is told by the file's first bytes, not its name. Anything that is not a readable
    checkpoint (empty, truncated, an HTML error page, a TorchScript archive...) raises
    :class:`CheckpointError` naming the file, and so do damaged or meaningless weights: a zip
    member failing its CRC-32 (torch.load does not check it), tensors disagreeing with the
    ``tensors_sha256`` digest videozoo's converter stores, and NaN/Inf values (naming the first
    bad tensor).
    """
    from ._integrity import check_finite, check_tensors_digest, check_zip_crc

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    kind = sniff_checkpoint_format(path)
    if kind == "zip":
        check_zip_crc(path)
    try:
        if kind == "safetensors":
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(path, framework="pt") as f:
                meta = dict(f.metadata() or {})
            state_dict = dict(load_file(path))
            check_tensors_digest(state_dict, meta, path)
            check_finite(state_dict, path)
            return state_dict, meta
        from ._safe_pickle import safe_torch_load

        obj = safe_torch_load(path)
    except CheckpointError:
        raise
    except Exception as e:  # torch / safetensors / pickle errors on a damaged file
        what = "truncated or corrupt" if kind != "safetensors" else "not a valid safetensors file"
        raise CheckpointError(
            f"cannot read checkpoint {path} ({kind} format): the file is {what} "
            f"({type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}). "
            "Delete it and download or export it again."
        ) from e
    state_dict = unwrap_state_dict(obj, path)
    check_finite(state_dict, path)
    return state_dict, {}


def sniff_checkpoint_format(path: str | os.PathLike) -> str:
    """'zip' (torch.save), 'legacy' (torch.save before 1.6) or 'safetensors', from the content."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError(f"{path} is empty, not a checkpoint")
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "legacy"
    if len(head) >= 9:
        header_len = int.from_bytes(head[:8], "little")
        if head[8:9] == b"{" and 8 + header_len <= size:
            return "safetensors"
        if head[8:9] == b"{":
            raise CheckpointError(f"{path} is a truncated safetensors file ({size} bytes)")
    if head.lstrip()[:1] == b"<":
        raise CheckpointError(
            f"{path} is an HTML/XML page, not a checkpoint (a failed download or an error page?)"
        )
    raise CheckpointError(
        f"{path} is not a PyTorch (.pth) or safetensors checkpoint (starts with {head[:8]!r})"
    )


def unwrap_state_dict(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The tensor mapping inside an MMAction2/torch checkpoint object, ``module.`` removed."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "module"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{source} holds no state dict")
    sd = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue
        k = str(k)
        if k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v
    if not sd:
        raise CheckpointError(f"{source} holds no tensors")
    return sd


def is_mmaction_layout(state_dict: Mapping[str, Any]) -> bool:
    return any(k.startswith(MMACTION_PREFIXES) for k in state_dict)


def infer_num_classes(state_dict: Mapping[str, torch.Tensor], meta: Optional[Mapping[str, str]] = None
                      ) -> Optional[int]:
    """Number of classes a checkpoint was trained for (its main classifier's rows)."""
    rows = next((int(state_dict[k].shape[0]) for k in ("cls_head.fc_cls.weight", "head.fc.weight")
                 if k in state_dict and state_dict[k].dim() >= 1), None)
    value = (meta or {}).get("num_classes")
    if value is None or str(value).strip() == "":
        return rows
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise CheckpointError(f"checkpoint metadata num_classes={value!r} is not a positive "
                              "integer; the file's metadata is damaged (convert it again)")
    if rows is not None and rows != int(text):
        raise CheckpointError(f"checkpoint metadata says num_classes={text} but its classifier "
                              f"has {rows} rows; the file's metadata is wrong (convert it again)")
    return int(text)


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                           source: str = "checkpoint") -> None:
    """Load so that every key fills exactly one tensor of the model and every tensor is filled.

    The one leniency: a BatchNorm ``num_batches_tracked`` counter the file lacks keeps the
    model's value (it only matters for momentum-free BN training, never for inference).
    """
    expected = model.state_dict()
    state_dict = dict(state_dict)
    for k in set(expected) - set(state_dict):
        if k.endswith(".num_batches_tracked"):  # a BN counter, absent from some old files
            state_dict[k] = expected[k]
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    shape_mismatch = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or shape_mismatch:
        def show(title: str, keys: list[str]) -> str:
            if not keys:
                return ""
            more = f"\n    ... and {len(keys) - 20} more" if len(keys) > 20 else ""
            return f"\n  {title} ({len(keys)}):\n    " + "\n    ".join(keys[:20]) + more

        raise CheckpointError(
            f"{source} does not match {type(model).__name__}:"
            + show("missing in checkpoint", missing)
            + show("unexpected in checkpoint", unexpected)
            + show("shape mismatch", shape_mismatch)
        )
    model.load_state_dict(dict(state_dict), strict=True)


def to_model_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor]
                        ) -> dict[str, torch.Tensor]:
    """Rename MMAction2 keys with the family's converter; videozoo keys pass through.

    videozoo's own keys often start with ``backbone.`` too, so a file whose keys are all the
    model's own (a converted safetensors file) is taken as it is, without the converter.
    """
    own = set(model.state_dict())
    if set(state_dict) <= own and all(k.endswith(".num_batches_tracked")
                                      for k in own - set(state_dict)):
        return state_dict
    if is_mmaction_layout(state_dict):
        convert = getattr(model, "convert_mmaction_state_dict", None)
        if convert is None:
            raise CheckpointError(f"{type(model).__name__} cannot read MMAction2 checkpoints")
        return convert(state_dict)
    return state_dict
