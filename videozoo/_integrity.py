"""Checks that weights are the bytes and tensors they claim to be.

* ``tensors_sha256``: one digest over a state dict (names, dtypes, shapes and bytes, in name
  order). videozoo's converter stores it in the safetensors metadata, so any copy of a converted
  file (cache, mirror, Hub) can be checked on its own, wherever it came from.
* ``check_finite``: NaN/Inf weights are refused, naming the first bad tensor.
* ``check_zip_crc``: ``torch.load`` does not verify the CRC-32 of a zip checkpoint's members, so
  flipped bytes inside tensor data would load silently; this reads every member and compares.
* ``sha256_file`` / ``git_blob_sha1_file``: what the Hub's ETag means (SHA-256 for LFS files, git
  blob SHA-1 for small ones).
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Mapping

import torch

from ._checkpoint import CheckpointError

TENSORS_DIGEST_KEY = "tensors_sha256"


class CorruptFileError(CheckpointError):
    """A file whose bytes are damaged (hash, CRC, digest or format): delete it and fetch again."""


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """git's object id of a file (what the Hub sends as ETag for files not stored in LFS)."""
    h = hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def etag_matches(path: str | os.PathLike, etag: str) -> bool:
    """True when ``etag`` (64 hex: SHA-256, 40 hex: git blob SHA-1) is the file's; an ETag of
    another form cannot be checked and counts as a match."""
    etag = etag.strip().strip('"').lower()
    if etag.startswith("w/"):
        return True  # weak ETags promise nothing about bytes
    if len(etag) == 64 and all(c in "0123456789abcdef" for c in etag):
        return sha256_file(path) == etag
    if len(etag) == 40 and all(c in "0123456789abcdef" for c in etag):
        return git_blob_sha1_file(path) == etag
    return True


def tensors_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Digest of a state dict's names, dtypes, shapes and bytes, independent of file layout."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().to("cpu").contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())  # the buffer, not a copy
    return h.hexdigest()


_verified: set[tuple] = set()  # files whose digest matched, as (path, inode, size, mtime)


def _file_key(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)


def check_tensors_digest(state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, str],
                         source: str) -> None:
    """Raise :class:`CorruptFileError` when the metadata's tensor digest disagrees.

    A file checked once in this process (same inode, size and mtime) is not hashed again: the
    weights loader checks a file before handing it on, and the builder reads it right after.
    """
    expected = (meta.get(TENSORS_DIGEST_KEY) or "").lower()
    if not expected:
        return
    key = _file_key(source)
    if key is not None:
        key = (*key, expected)
    if key is not None and key in _verified:
        return
    if tensors_sha256(state_dict) == expected:
        if key is not None:
            _verified.add(key)
        return
    raise CorruptFileError(
        f"{source}: its tensors do not match the digest in its own metadata "
        f"({TENSORS_DIGEST_KEY}={expected[:12]}...): the file was damaged or its weights "
        "replaced. Delete it and download or convert it again."
    )


def check_finite(state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise :class:`CheckpointError` naming the first tensor holding NaN or Inf."""
    for name, t in state_dict.items():
        if t.is_floating_point() or t.is_complex():
            if bool(torch.isfinite(t.sum(dtype=torch.complex128 if t.is_complex()
                                          else torch.float64))):
                continue  # a finite float64 sum: no NaN/Inf inside (3x faster than isfinite)
            finite = torch.isfinite(t)
            if not bool(finite.all()):
                bad = int((~finite).sum())
                kinds = []
                if bool(torch.isnan(t).any()):
                    kinds.append("NaN")
                if bool(torch.isinf(t).any()):
                    kinds.append("Inf")
                raise CheckpointError(
                    f"{source}: tensor {name!r} holds {'/'.join(kinds)} ({bad} of {t.numel()} "
                    "values); these weights would give meaningless scores. Use an intact copy."
                )


def check_zip_crc(path: str | os.PathLike) -> None:
    """Raise :class:`CorruptFileError` when a member of a zip checkpoint fails its CRC-32."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise CorruptFileError(f"{path} is a damaged zip checkpoint ({e}); delete it and "
                               "download it again") from e
    if bad is not None:
        raise CorruptFileError(
            f"{path} is corrupt: member {bad!r} fails its CRC-32 check (flipped bytes in the "
            "tensor data?); delete it and download it again"
        )
