"""Publishing the zoo: one Hugging Face Hub repository per entry.

Each repository holds ``model.safetensors`` (converted with :func:`convert_checkpoint`, videozoo
keys, provenance in its metadata), ``README.md`` (the model card from ``videozoo._cards``: license,
datasets, model-index results, test protocol, citation) and ``config.json`` (architecture and the
entry's data config). ``dry_run`` writes the folders and uploads nothing; such an output directory
is laid out as a ``VIDEOZOO_MIRROR``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from ._convert import convert_checkpoint
from ._hub import (
    HUB_FILENAME,
    cache_dir,
    check_weights_file,
    download_file,
    mirror_dir,
    original_filename,
    verify_sha256_prefix,
)
from ._pretrained import ZooEntry
from ._registry import get_entry, hf_hub_id, list_pretrained


@dataclasses.dataclass
class Published:
    entry: str
    repo_id: str
    folder: Path
    url: Optional[str] = None  # commit URL when uploaded


def select_entries(patterns: Iterable[str]) -> list[ZooEntry]:
    """Zoo entries with weights matching names or shell wildcards; ValueError for no match."""
    entries: dict[str, ZooEntry] = {}
    for pattern in patterns:
        entry = get_entry(pattern)
        names = [entry.name] if entry is not None else list_pretrained(pattern)
        if not names:
            raise ValueError(f"no zoo entry with weights matches {pattern!r}; "
                             "see `videozoo list --pretrained`")
        for name in names:
            e = get_entry(name)
            if e is not None and not e.has_weights:
                raise ValueError(f"zoo entry {name} has no published checkpoint")
            entries[name] = e  # type: ignore[assignment]
    return list(entries.values())


def original_checkpoint(entry: ZooEntry, checkpoints: Optional[str | os.PathLike] = None,
                        progress: bool = True) -> Path:
    """The entry's MMAction2 file: from ``checkpoints`` or the mirror if there, else downloaded;
    its SHA-256 prefix checked either way."""
    name = original_filename(entry)
    local_dirs = [Path(checkpoints)] if checkpoints else []
    mirror = mirror_dir()
    if mirror is not None:
        local_dirs += [mirror / entry.name, mirror]
    for d in local_dirs:
        if (d / name).is_file():
            verify_sha256_prefix(d / name, entry.sha256_prefix, delete=False)
            return d / name
    path = download_file(entry.url, cache_dir() / "checkpoints",  # type: ignore[arg-type]
                         entry.sha256_prefix, progress=progress)
    verify_sha256_prefix(path, entry.sha256_prefix, delete=True)
    return path


def model_card(entry: ZooEntry, repo_id: Optional[str] = None) -> str:
    """README.md text; ``repo_id`` (e.g. another org) is the repository the card names."""
    from ._cards import hub_model_card  # the zoo's card generator

    if repo_id is not None:
        entry = dataclasses.replace(entry, hf_hub_id=repo_id)
    return hub_model_card(entry)


def hub_config(entry: ZooEntry, repo_id: str) -> dict:
    """``config.json``: what a loader needs to rebuild the model without videozoo's registry."""
    from ._builder import data_config_from_entry

    cfg = data_config_from_entry(entry)
    cfg["hf_hub_id"] = repo_id
    return {
        "library_name": "videozoo",
        "architecture": entry.arch,
        "num_classes": entry.num_classes,
        "arch_kwargs": dict(entry.arch_kwargs),
        "pretrained_cfg": cfg,
    }


def build_repo_folder(entry: ZooEntry, out_dir: str | os.PathLike, repo_id: str,
                      checkpoints: Optional[str | os.PathLike] = None,
                      progress: bool = True) -> Path:
    """``out_dir/<entry name>/`` with model.safetensors, README.md and config.json."""
    folder = Path(out_dir) / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    card = model_card(entry, repo_id)  # first: fail before the slow part if it cannot
    source = original_checkpoint(entry, checkpoints, progress=progress)
    convert_checkpoint(source, folder / HUB_FILENAME, entry.name)
    check_weights_file(folder / HUB_FILENAME, entry)  # what downloaders will check, checked first
    (folder / "README.md").write_text(card, encoding="utf-8")
    (folder / "config.json").write_text(
        json.dumps(hub_config(entry, repo_id), indent=2, default=str) + "\n", encoding="utf-8")
    return folder


def publish(
    names: Iterable[str],
    out_dir: str | os.PathLike,
    *,
    dry_run: bool = False,
    org: Optional[str] = None,
    checkpoints: Optional[str | os.PathLike] = None,
    private: bool = False,
    token: Optional[str] = None,
    endpoint: Optional[str] = None,
    progress: bool = True,
) -> list[Published]:
    """Convert and (unless ``dry_run``) upload zoo entries, one Hub repository each.

    Args:
        names: entry names or shell wildcards (``'tsm_*'``).
        out_dir: where the repository folders are written (kept after upload).
        org: Hub organisation; default ``$VIDEOZOO_HUB_ORG`` (or the entry's own ``hf_hub_id``).
        checkpoints: a directory holding the original MMAction2 files under their published
            names; missing ones are taken from ``$VIDEOZOO_MIRROR`` or downloaded.
        token, endpoint: for ``huggingface_hub.HfApi``; default: the saved login / ``HF_TOKEN``
            and ``HF_ENDPOINT``.
    """
    entries = select_entries(names)
    api = None
    if not dry_run:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)
    done = []
    for entry in entries:
        repo_id = f"{org}/{entry.name}" if org else hf_hub_id(entry)
        folder = build_repo_folder(entry, out_dir, repo_id, checkpoints, progress=progress)
        url = None
        if api is not None:
            from . import __version__

            api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
            info = api.upload_folder(
                repo_id=repo_id, folder_path=folder, repo_type="model",
                commit_message=f"videozoo {__version__}: {entry.name} from "
                               f"{original_filename(entry)}",
            )
            url = getattr(info, "commit_url", None) or str(info)
        done.append(Published(entry.name, repo_id, folder, url))
    return done
