"""Pretrained weights: where they come from, how they are checked, where they are cached.

``download_weights(name)`` returns the path of a videozoo ``.safetensors`` file for a zoo entry,
trying, in this order (the first that has a good file wins):

1. **Mirror** ``$VIDEOZOO_MIRROR/<entry name>/model.safetensors``. First, so that an air-gapped
   cluster never waits on network timeouts. ``videozoo publish --dry-run --out DIR`` writes
   exactly this layout, so its output directory can serve as a mirror.
2. **videozoo cache** ``<cache>/weights/<entry name>/model.safetensors``: a file converted
   earlier from the original checkpoint (step 3 or 5). No network access.
3. **Mirror, original file** ``$VIDEOZOO_MIRROR/<entry name>/<file>.pth`` or
   ``$VIDEOZOO_MIRROR/<file>.pth``, where ``<file>.pth`` is the MMAction2 file name (the last part
   of ``entry.url``): SHA-256 checked, converted into the videozoo cache.
4. **Hugging Face Hub** ``model.safetensors`` of ``<org>/<entry name>`` (org: ``$VIDEOZOO_HUB_ORG``)
   through ``huggingface_hub.hf_hub_download``: its cache, resume, locks, ``HF_ENDPOINT``,
   ``HF_HOME`` / ``HF_HUB_CACHE``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` (cache only) as it has them.
5. **Original URL** ``entry.url`` (MMAction2's download server): downloaded with a progress bar
   and HTTP Range resume, checked against ``entry.sha256_prefix`` (MMAction2 names each file
   after the first 8 hex digits of its SHA-256), read with the safe reader (no pickled code runs),
   converted to safetensors and cached (step 2 serves it next time); the ``.pth`` is then removed.

What is checked, every time a file is used:

* every safetensors file (mirror, cache, Hub) must carry videozoo's metadata naming the entry's
  architecture, class count and original checkpoint (whose SHA-256 must start with the entry's
  8 hex digits), and its tensors must match the ``tensors_sha256`` digest the converter stored
  (so a file with other weights, or flipped bytes, is refused); NaN/Inf weights are refused;
* a Hub file must match its ETag (SHA-256 for LFS files, git blob SHA-1 otherwise), also when it
  comes from huggingface_hub's cache;
* a damaged file in a cache we own (videozoo's, or huggingface_hub's blob) is deleted and the
  next source is tried; a damaged file in the mirror raises (a mirror is not ours to delete); a
  file that is intact but belongs to another model raises :class:`CheckpointError`.

Settings (environment, read at each call, not at import; ``deadline_s`` / ``stall_s`` arguments
of :func:`fetch_weights` win over the first two):

* ``VIDEOZOO_DOWNLOAD_TIMEOUT`` (default 1800 s): the whole download of one file from one source.
* ``VIDEOZOO_STALL_TIMEOUT`` (default 30 s): no byte for this long is a stall. The Hub's
  metadata request (one, not retried) gets the smaller of this and 10 s; during the Hub's
  transfer itself huggingface_hub bounds each read (``HF_HUB_DOWNLOAD_TIMEOUT``), and videozoo
  gives up when its partial file grows by under 1 KiB in the larger of this and 160 s (it grows
  in 10 MB chunks, so that is 64 KiB/s) or at ``VIDEOZOO_DOWNLOAD_TIMEOUT``.
* ``VIDEOZOO_CONNECT_TIMEOUT`` (default 3 s): each server must accept a TCP connection within
  this time, DNS included, or it is skipped at once. Without network the Hub step thus takes
  seconds, and the error says what to do instead (``HF_HUB_OFFLINE=1``, ``VIDEOZOO_MIRROR``,
  ``checkpoint_path``).
* ``VIDEOZOO_HOME``: cache directory (default ``~/.cache/videozoo``).
* ``VIDEOZOO_MIRROR``: local mirror directory (layout above).
* ``VIDEOZOO_HUB_ORG``: Hub organisation of the weights repositories (default ``videozoo``).
* ``HF_HUB_OFFLINE=1`` or ``VIDEOZOO_OFFLINE=1``: no network; only the mirror and caches.
* ``VIDEOZOO_NO_HUB=1``: skip step 4.
* ``VIDEOZOO_DISABLE_PROGRESS_BARS=1`` (or ``HF_HUB_DISABLE_PROGRESS_BARS=1``): quiet downloads.

Concurrency: every cache write happens under a file lock (``filelock``) and goes to a temporary
file that is renamed into place, so processes fetching the same file at once download it once
and never see half a file. A checksum mismatch deletes the file and raises
:class:`ChecksumError`; offline with nothing cached raises :class:`OfflineError` naming the file to
fetch and where to put it.

``download_file(url, dest_dir, sha256_prefix)`` (in ``videozoo._download``) is the generic
downloader under step 5 (label maps use it too).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Optional

from ._checkpoint import CheckpointError
from ._download import (  # noqa: F401  (re-exported: the public home of these names)
    ChecksumError,
    DownloadError,
    OfflineError,
    UnreachableError,
    cache_dir,
    deadline_seconds,
    download_file,
    env_true,
    filename_from_url,
    is_offline,
    locked,
    offline_reason,
    stall_seconds,
    unreachable_reason,
)
from ._integrity import CorruptFileError, etag_matches
from ._pretrained import ZooEntry
from ._registry import get_entry, hf_hub_id, resolve

logger = logging.getLogger("videozoo")

HUB_FILENAME = "model.safetensors"
HUB_ENDPOINT = "https://huggingface.co"
HUB_METADATA_TIMEOUT_S = 10.0
HUB_MIN_BYTES_PER_S = 64 * 1024  # slower than this over one 10 MB chunk: the Hub transfer stalled


def mirror_dir() -> Optional[Path]:
    value = os.environ.get("VIDEOZOO_MIRROR")
    return Path(os.path.expandvars(os.path.expanduser(value))) if value else None


# -- weights for zoo entries ---------------------------------------------------------------------
def download_weights(name: str, *, progress: bool = True, deadline_s: Optional[float] = None,
                     stall_s: Optional[float] = None) -> Path:
    """Path of the videozoo ``.safetensors`` weights of a zoo entry, fetched if needed.

    See the module docstring for the sources tried, the checks and the settings read.
    """
    return fetch_weights(name, progress=progress, deadline_s=deadline_s, stall_s=stall_s)[0]


def fetch_weights(name: str, *, progress: bool = True, deadline_s: Optional[float] = None,
                  stall_s: Optional[float] = None) -> tuple[Path, str]:
    """(path, where it came from) for a zoo entry's weights.

    ``deadline_s`` bounds each source's whole download (``VIDEOZOO_DOWNLOAD_TIMEOUT``, 1800 s),
    ``stall_s`` each wait for bytes (``VIDEOZOO_STALL_TIMEOUT``, 30 s).
    """
    entry = _weights_entry(name)
    budget, stall = deadline_seconds(deadline_s), stall_seconds(stall_s)
    offline = is_offline()
    mirror = mirror_dir()
    converted = converted_weights_path(entry)

    if mirror is not None:
        candidate = mirror / entry.name / HUB_FILENAME
        if candidate.is_file():
            check_weights_file(candidate, entry)
            return candidate, f"mirror {candidate}"
    if _usable_conversion(converted, entry):
        return converted, f"videozoo cache {converted}"
    if mirror is not None:
        original = _mirror_original(mirror, entry)
        if original is not None:
            return _convert_original(entry, original, keep_original=True), f"mirror {original}"

    hub_error: Optional[BaseException] = None
    if env_true("VIDEOZOO_NO_HUB"):
        hub_error = RuntimeError("skipped: VIDEOZOO_NO_HUB is set")
    else:
        try:
            return _from_hub(entry, offline, budget, stall), f"Hub {hf_hub_id(entry)}"
        except (CorruptFileError, *_hub_errors()) as e:
            hub_error = e
            logger.info("%s: Hub repository %s not usable (%s)", entry.name, hf_hub_id(entry),
                        _first_line(e))

    if offline:
        raise OfflineError(_offline_message(entry, mirror, converted))
    with locked(_lock_path(converted), entry.name):
        if _usable_conversion(converted, entry):  # another process converted it meanwhile
            return converted, f"videozoo cache {converted}"
        try:
            original = download_file(entry.url, cache_dir() / "checkpoints",  # type: ignore[arg-type]
                                     entry.sha256_prefix, progress=progress, deadline_s=budget,
                                     stall_s=stall)
        except UnreachableError as e:
            if isinstance(hub_error, UnreachableError):  # neither server: no network here
                raise UnreachableError(_no_network_message(entry, mirror, hub_error, e)) from e
            raise UnreachableError(_both_failed(entry, hub_error, e)) from e
        except DownloadError as e:  # same type (ChecksumError...), with the Hub's story added
            raise type(e)(_both_failed(entry, hub_error, e)) from e
        path = _convert_original(entry, original, keep_original=False, locked_already=True)
    return path, f"original URL {entry.url}"


def converted_weights_path(entry: ZooEntry) -> Path:
    return cache_dir() / "weights" / entry.name / HUB_FILENAME


def _lock_path(converted: Path) -> Path:
    return cache_dir() / ".locks" / f"{converted.parent.name}.lock"


def _weights_entry(name: str) -> ZooEntry:
    entry = get_entry(name)
    if entry is None:
        arch, _ = resolve(name)  # raises with suggestions for unknown names
        raise ValueError(f"{name!r} is an architecture; weights belong to zoo entries: "
                         f"videozoo.list_pretrained('{arch}*')")
    if not entry.has_weights:
        raise ValueError(f"zoo entry {entry.name} has no published checkpoint (reported numbers "
                         "only); see videozoo.list_pretrained()")
    return entry


def _first_line(e: Optional[BaseException]) -> str:
    if e is None:
        return "not tried"
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def _both_failed(entry: ZooEntry, hub_error: Optional[BaseException], e: BaseException) -> str:
    return (f"cannot fetch weights for {entry.name}: the Hub repository {hf_hub_id(entry)} "
            f"failed ({_first_line(hub_error)}) and so did the original file: {e}")


def _hub_errors() -> tuple[type[BaseException], ...]:
    """What hf_hub_download raises when a repository is missing, unreachable or refused."""
    errors: list[type[BaseException]] = [OSError, ValueError]  # HTTP, offline, ids (HFValidation)
    with contextlib.suppress(ImportError):
        from huggingface_hub.errors import EntryNotFoundError

        errors.append(EntryNotFoundError)
    for module in ("httpx2", "httpx", "requests"):
        with contextlib.suppress(ImportError):
            mod = __import__(module)
            for attr in ("HTTPError", "RequestException", "TransportError", "TimeoutException"):
                base = getattr(mod, attr, None)
                if isinstance(base, type):
                    errors.append(base)
    return tuple(errors)


def _hf_kwargs() -> dict[str, str]:
    """HF_ENDPOINT / HF_HUB_CACHE / HF_HOME as they are now (huggingface_hub reads them at import)."""
    kwargs = {}
    endpoint = os.environ.get("HF_ENDPOINT")
    if endpoint:
        kwargs["endpoint"] = endpoint.rstrip("/")
    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if not cache and os.environ.get("HF_HOME"):
        cache = os.path.join(os.environ["HF_HOME"], "hub")
    if cache:
        kwargs["cache_dir"] = os.path.expandvars(os.path.expanduser(cache))
    return kwargs


def _hf_download(entry: ZooEntry, **kwargs: Any) -> Path:
    from huggingface_hub import hf_hub_download

    from . import __version__

    return Path(hf_hub_download(hf_hub_id(entry), HUB_FILENAME, library_name="videozoo",
                                library_version=__version__, **_hf_kwargs(), **kwargs))


def _from_hub(entry: ZooEntry, offline: bool, budget: float, stall: float) -> Path:
    """The Hub's file, bounded in time and checked; a bad blob is evicted (CorruptFileError)."""
    if offline:
        return _checked_hub_file(_hf_download(entry, local_files_only=True), entry, None)
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    endpoint = _hf_kwargs().get("endpoint") or _hf_constant("ENDPOINT", HUB_ENDPOINT)
    reason = unreachable_reason(endpoint)
    if reason is not None:  # no network: what huggingface_hub has cached, or fail at once
        with contextlib.suppress(*_hub_errors()):
            return _checked_hub_file(_hf_download(entry, local_files_only=True), entry, None)
        raise UnreachableError(f"the Hub ({endpoint}) is unreachable: {reason}")
    url = hf_hub_url(hf_hub_id(entry), HUB_FILENAME, endpoint=endpoint)
    metadata = get_hf_file_metadata(url, timeout=min(stall, HUB_METADATA_TIMEOUT_S),
                                    retry_on_errors=False)  # one try: the Hub answers in < 1 s
    path = _within_deadline(lambda: _hf_download(entry, etag_timeout=stall), budget,
                            _hub_stall_window(stall), lambda: _partial_bytes(entry),
                            f"Hub download of {hf_hub_id(entry)}/{HUB_FILENAME}")
    return _checked_hub_file(path, entry, metadata.etag)


def _hub_stall_window(stall: float) -> float:
    """huggingface_hub writes its partial file in chunks (``DOWNLOAD_CHUNK_SIZE``, 10 MB), so
    progress is only visible chunk by chunk: a window of one chunk at ``HUB_MIN_BYTES_PER_S``."""
    chunk = int(_hf_constant("DOWNLOAD_CHUNK_SIZE", str(10 * 1024 * 1024)))
    return max(stall, chunk / HUB_MIN_BYTES_PER_S)


def _partial_bytes(entry: ZooEntry) -> int:
    """Bytes in huggingface_hub's partial files of this repository (its transfer progress)."""
    cache = _hf_kwargs().get("cache_dir") or _hf_constant("HF_HUB_CACHE", "")
    blobs = Path(cache) / f"models--{hf_hub_id(entry).replace('/', '--')}" / "blobs"
    total = 0
    with contextlib.suppress(OSError):
        for p in blobs.glob("*.incomplete"):
            with contextlib.suppress(OSError):
                total += p.stat().st_size
    return total


def _hf_constant(name: str, default: str) -> str:
    from huggingface_hub import constants

    return str(getattr(constants, name, default) or default)


def _within_deadline(fn: Any, budget: float, window: float, progress: Any, what: str) -> Any:
    """``fn()`` in a helper thread, given up after ``budget`` seconds, or when ``progress()``
    (bytes so far) grew by under 1 KiB in ``window`` seconds: huggingface_hub bounds each read,
    not a whole transfer, so a server trickling bytes would otherwise never end. A transfer given
    up on goes on in its (daemon) thread until the server closes; its partial file stays in
    huggingface_hub's cache, which resumes it next time."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as e:  # handed to the caller's thread
            outcome["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name="videozoo-hub-download", daemon=True).start()
    start = time.monotonic()
    window_start, window_bytes = start, progress()
    while not done.wait(0.2):
        now = time.monotonic()
        if now - start >= budget:
            raise DownloadError(f"{what} did not finish within {budget:g} s "
                                "(VIDEOZOO_DOWNLOAD_TIMEOUT)")
        if now - window_start >= window:
            size = progress()
            if size - window_bytes < 1024:
                raise DownloadError(f"{what} stalled: {size - window_bytes} bytes in "
                                    f"{window:g} s (VIDEOZOO_STALL_TIMEOUT)")
            window_start, window_bytes = now, size
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _checked_hub_file(path: Path, entry: ZooEntry, etag: Optional[str]) -> Path:
    """Check the Hub file against its ETag (or its blob name in the cache) and videozoo's
    metadata; a damaged file is removed from huggingface_hub's cache."""
    real = Path(os.path.realpath(path))
    expected = etag or (real.name if real.parent.name == "blobs" else None)
    try:
        if expected and not etag_matches(real, expected):
            raise CorruptFileError(f"{path} does not match its Hub ETag {expected[:16]}... "
                                   "(damaged in transfer or in the cache)")
        check_weights_file(path, entry)
    except CorruptFileError as e:
        _evict(path, real)
        raise CorruptFileError(f"{e}; removed from the Hugging Face cache") from e
    return path


def _evict(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()


def check_weights_file(path: Path, entry: ZooEntry) -> None:
    """Refuse a safetensors file that is damaged or is not this entry's weights.

    :class:`CorruptFileError` for damaged bytes (not safetensors, tensor digest mismatch);
    :class:`CheckpointError` for an intact file of another model, another checkpoint, or with
    no videozoo metadata to tell (a bare safetensors file cannot be vouched for).
    """
    from ._checkpoint import read_checkpoint, sniff_checkpoint_format
    from ._convert import safetensors_metadata

    try:
        kind = sniff_checkpoint_format(path)
        if kind != "safetensors":
            raise CheckpointError(f"{path} is a {kind} PyTorch file, not safetensors")
        meta = safetensors_metadata(path)
    except CheckpointError as e:
        raise CorruptFileError(str(e)) from e
    if meta.get("arch") and meta["arch"] != entry.arch:
        raise CheckpointError(f"{path} holds a {meta['arch']}, but {entry.name} is a {entry.arch}")
    source = meta.get("source_sha256", "").lower()
    prefix = (entry.sha256_prefix or "").lower()
    if not source or not meta.get("arch"):
        raise CheckpointError(
            f"{path} has no videozoo metadata (arch, source_sha256), so nothing says it holds "
            f"the weights of {entry.name}; use the file videozoo converts or publishes, or put "
            f"the original {original_filename(entry)} in the mirror instead"
        )
    if prefix and not source.startswith(prefix):
        raise CheckpointError(
            f"{path} was converted from a checkpoint with SHA-256 {source[:8]}..., but "
            f"{entry.name}'s checkpoint has {prefix}...; delete it to fetch the right one"
        )
    if meta.get("num_classes") and meta["num_classes"] != str(entry.num_classes):
        raise CheckpointError(f"{path} has {meta['num_classes']} classes, {entry.name} has "
                              f"{entry.num_classes}")
    read_checkpoint(path)  # tensor digest (CorruptFileError), NaN/Inf, num_classes metadata


def _usable_conversion(path: Path, entry: ZooEntry) -> bool:
    if not path.is_file():
        return False
    try:
        check_weights_file(path, entry)
    except CorruptFileError as e:
        logger.warning("%s: deleting a damaged cached conversion: %s", entry.name, e)
        path.unlink(missing_ok=True)
        return False
    except CheckpointError as e:
        logger.info("%s: ignoring stale cached conversion: %s", entry.name, e)
        return False
    return True


def original_filename(entry: ZooEntry) -> str:
    return filename_from_url(entry.url or "")


def _mirror_original(mirror: Path, entry: ZooEntry) -> Optional[Path]:
    name = original_filename(entry)
    for candidate in (mirror / entry.name / name, mirror / name):
        if candidate.is_file():
            return candidate
    return None


def verify_sha256_prefix(path: Path, prefix: Optional[str], delete: bool) -> None:
    """Raise :class:`ChecksumError` unless the file's SHA-256 starts with ``prefix``."""
    if not prefix:
        return
    from ._integrity import sha256_file

    digest = sha256_file(path)
    if not digest.startswith(prefix.lower()):
        if delete:
            path.unlink(missing_ok=True)
        raise ChecksumError(
            f"SHA-256 of {path} is {digest[:len(prefix)]}..., expected {prefix.lower()}..."
            + ("; the bad file was deleted" if delete else "; replace it with the published file")
        )


def _convert_original(entry: ZooEntry, original: Path, keep_original: bool,
                      locked_already: bool = False) -> Path:
    """Check, convert into the videozoo cache (under the entry's lock) and return the result."""
    from ._convert import convert_checkpoint

    converted = converted_weights_path(entry)
    lock = contextlib.nullcontext() if locked_already else locked(_lock_path(converted),
                                                                    entry.name)
    with lock:
        if _usable_conversion(converted, entry):
            return converted
        verify_sha256_prefix(original, entry.sha256_prefix, delete=not keep_original)
        convert_checkpoint(original, converted, entry.name)
    if not keep_original:
        original.unlink(missing_ok=True)  # the safetensors file is what is used from now on
    return converted


def _what_to_do(entry: ZooEntry, mirror: Optional[Path], converted: Path) -> str:
    name = original_filename(entry)
    where = mirror if mirror is not None else Path("<mirror>")
    return (
        f"  - put {HUB_FILENAME} from the Hub repository {hf_hub_id(entry)} at "
        f"{where / entry.name / HUB_FILENAME}"
        + ("" if mirror is not None else " and set VIDEOZOO_MIRROR=<mirror>") + ",\n"
        f"  - or put the original checkpoint {name} (from {entry.url}) at {where / name},\n"
        f"  - or pass checkpoint_path=<your copy of {name}> to videozoo.create_model,\n"
        f"  - or run `videozoo download {entry.name}` where there is network and copy "
        f"{converted} to the same path here."
    )


def _offline_message(entry: ZooEntry, mirror: Optional[Path], converted: Path) -> str:
    return (f"offline ({offline_reason()}) and no weights for {entry.name} are cached. Either\n"
            + _what_to_do(entry, mirror, converted))


def _no_network_message(entry: ZooEntry, mirror: Optional[Path], hub: BaseException,
                        original: BaseException) -> str:
    return (
        f"no network? Cannot fetch weights for {entry.name} ({original_filename(entry)}): "
        f"{_first_line(hub)}; {_first_line(original)}. Set HF_HUB_OFFLINE=1 to use only what "
        "is cached (and fail at once), or\n"
        + _what_to_do(entry, mirror, converted_weights_path(entry))
    )
