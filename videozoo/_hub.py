"""Pretrained weights: where they come from, how they are checked, where they are cached.

``download_weights(name)`` returns the path of a videozoo ``.safetensors`` file for a zoo entry,
trying, in this order (the first that has the file wins):

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

Settings (environment, read at each call, not at import):

* ``VIDEOZOO_HOME``: cache directory (default ``~/.cache/videozoo``).
* ``VIDEOZOO_MIRROR``: local mirror directory (layout above).
* ``VIDEOZOO_HUB_ORG``: Hub organisation of the weights repositories (default ``videozoo``).
* ``HF_HUB_OFFLINE=1`` or ``VIDEOZOO_OFFLINE=1``: no network; only the mirror and caches.
* ``VIDEOZOO_NO_HUB=1``: skip step 4. Where the Hub cannot be reached, ``huggingface_hub``
  retries for about 20 s before giving up; this goes straight to the original URL instead.
* ``VIDEOZOO_DISABLE_PROGRESS_BARS=1`` (or ``HF_HUB_DISABLE_PROGRESS_BARS=1``): quiet downloads.

Concurrency: every cache write happens under a file lock (``filelock``) and goes to a temporary
file that is renamed into place, so processes fetching the same file at once download it once
and never see half a file. A checksum mismatch deletes the file and raises
:class:`ChecksumError`; offline with nothing cached raises :class:`OfflineError` naming the file to
fetch and where to put it.

``download_file(url, dest_dir, sha256_prefix)`` is the generic downloader under step 5 (label
maps use it too).
"""
from __future__ import annotations

import contextlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from ._checkpoint import CheckpointError
from ._pretrained import ZooEntry
from ._registry import get_entry, hf_hub_id, resolve

logger = logging.getLogger("videozoo")

HUB_FILENAME = "model.safetensors"
DEFAULT_CACHE = "~/.cache/videozoo"
CHUNK_SIZE = 1 << 20
MAX_ATTEMPTS = 5  # per download_file call; a kept .part file resumes on the next call
TIMEOUT_S = 60.0
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)


class DownloadError(OSError):
    """A file could not be fetched."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 does not match the expected prefix (the file was deleted)."""


class OfflineError(DownloadError):
    """Offline mode is on and the file is not in any cache or mirror."""


# -- settings ------------------------------------------------------------------------------------
def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "y", "yes", "true", "on")


def cache_dir() -> Path:
    """videozoo's cache: ``$VIDEOZOO_HOME`` or ``~/.cache/videozoo``."""
    return Path(os.path.expandvars(os.path.expanduser(
        os.environ.get("VIDEOZOO_HOME") or DEFAULT_CACHE)))


def mirror_dir() -> Optional[Path]:
    value = os.environ.get("VIDEOZOO_MIRROR")
    return Path(os.path.expandvars(os.path.expanduser(value))) if value else None


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` / ``VIDEOZOO_OFFLINE`` now, or huggingface_hub's import-time setting."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("VIDEOZOO_OFFLINE"):
        return True
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _offline_reason() -> str:
    for name in ("VIDEOZOO_OFFLINE", "HF_HUB_OFFLINE"):
        if _env_true(name):
            return f"{name}={os.environ[name]}"
    return "HF_HUB_OFFLINE"


def _progress_enabled(progress: bool) -> bool:
    return progress and not (_env_true("VIDEOZOO_DISABLE_PROGRESS_BARS")
                             or _env_true("HF_HUB_DISABLE_PROGRESS_BARS"))


@contextlib.contextmanager
def _locked(lock_path: Path, what: str) -> Iterator[None]:
    """Hold an inter-process lock; say so once if another process holds it."""
    from filelock import FileLock, Timeout

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0.05)
    except Timeout:
        logger.info("another process is fetching %s; waiting for it", what)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# -- generic download ----------------------------------------------------------------------------
def filename_from_url(url: str) -> str:
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name or name in (".", ".."):
        raise ValueError(f"cannot tell a file name from URL {url!r}; pass filename=")
    return name


def download_file(url: str, dest_dir: str | os.PathLike, sha256_prefix: Optional[str] = None,
                  *, filename: Optional[str] = None, progress: bool = True) -> Path:
    """``dest_dir/<file name of url>``, downloaded once and verified.

    A file already at its final name is returned as is (files only get there after the check).
    Otherwise the download goes to ``<name>.part`` under a file lock, resumes a ``.part`` left by
    an interrupted call (HTTP Range), retries dropped connections, shows a tqdm progress bar,
    checks ``sha256_prefix`` (a leading part of the hex SHA-256, any length) and renames into
    place. Offline (``HF_HUB_OFFLINE`` / ``VIDEOZOO_OFFLINE``), a missing file raises
    :class:`OfflineError` saying what to fetch and where to put it.
    """
    dest_dir = Path(dest_dir)
    name = filename or filename_from_url(url)
    dest = dest_dir / name
    if dest.is_file():
        return dest
    if is_offline():
        raise OfflineError(
            f"offline ({_offline_reason()}) and {name} is not cached: download {url} and put "
            f"it at {dest}"
        )
    prefix = sha256_prefix.lower() if sha256_prefix else None
    with _locked(dest_dir / ".locks" / f"{name}.lock", name):
        if dest.is_file():  # another process finished it while we waited
            return dest
        part = dest_dir / f"{name}.part"
        for fresh_retry in (False, True):
            resumed = part.is_file() and part.stat().st_size > 0
            _fetch_to(url, part, name, progress)
            if prefix:
                from ._convert import sha256_file

                digest = sha256_file(part)
                if not digest.startswith(prefix):
                    part.unlink(missing_ok=True)
                    if resumed and not fresh_retry:  # the kept part may be stale: once, fully
                        logger.info("%s: checksum mismatch after resuming; downloading again", name)
                        continue
                    raise ChecksumError(
                        f"SHA-256 of {name} downloaded from {url} is {digest[:len(prefix)]}..., "
                        f"expected {prefix}...; the bad file was deleted. Retry later; if it "
                        "happens again the server is serving a different file."
                    )
            os.replace(part, dest)
            return dest
    raise AssertionError("unreachable")


def _fetch_to(url: str, part: Path, name: str, progress: bool) -> None:
    """Append ``url``'s bytes to ``part`` until it is complete, resuming after drops."""
    from tqdm.auto import tqdm

    failures = 0
    while True:
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": _user_agent(), "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=TIMEOUT_S) as resp:
                if offset and resp.status == 206 and _range_start(resp) != offset:
                    part.unlink()  # an answer to another range: start over
                    raise http.client.HTTPException(f"server answered Range {offset}- with "
                                                    f"{resp.headers.get('Content-Range')!r}")
                if offset and resp.status != 206:
                    offset = 0  # the server ignored Range: start over
                total = _expected_total(resp)
                written = offset
                with open(part, "ab" if offset else "wb") as f, tqdm(
                    total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=name, disable=not _progress_enabled(progress), leave=False,
                ) as bar:
                    while chunk := resp.read(CHUNK_SIZE):
                        f.write(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
                if total is not None and written < total:
                    raise http.client.IncompleteRead(b"", total - written)
                return
        except urllib.error.HTTPError as e:
            if e.code == 416 and offset:  # nothing left past the part: it is complete
                return
            if e.code not in _RETRY_STATUS or failures + 1 >= MAX_ATTEMPTS:
                raise DownloadError(f"HTTP {e.code} {e.reason} for {url}") from e
            failures += 1
            err: Exception = e
        except (http.client.HTTPException, OSError) as e:  # drops, resets, timeouts, DNS
            failures += 1
            if failures >= MAX_ATTEMPTS:
                kept = f"; the partial file {part} is kept and the next call resumes it" \
                    if part.is_file() else ""
                raise DownloadError(f"cannot download {url}: {e}{kept}") from e
            err = e
        wait = min(0.5 * 2 ** (failures - 1), 8.0)
        logger.info("%s: %s; retrying in %.1f s (resume at byte %d)", name, err, wait,
                    part.stat().st_size if part.is_file() else 0)
        time.sleep(wait)


def _range_start(resp: http.client.HTTPResponse) -> Optional[int]:
    value = resp.headers.get("Content-Range", "")  # 'bytes 100-199/200'
    start = value.split()[-1].split("-")[0] if value.split() else ""
    return int(start) if start.isdigit() else None


def _expected_total(resp: http.client.HTTPResponse) -> Optional[int]:
    """Full size of the file, from Content-Range (206) or Content-Length (200)."""
    if resp.status == 206:
        size = resp.headers.get("Content-Range", "").rsplit("/", 1)[-1]
        return int(size) if size.isdigit() else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _user_agent() -> str:
    from . import __version__

    return f"videozoo/{__version__} (+python urllib)"


# -- weights for zoo entries ---------------------------------------------------------------------
def download_weights(name: str, *, progress: bool = True) -> Path:
    """Path of the videozoo ``.safetensors`` weights of a zoo entry, fetched if needed.

    See the module docstring for the sources tried and the settings read.
    """
    return fetch_weights(name, progress=progress)[0]


def fetch_weights(name: str, *, progress: bool = True) -> tuple[Path, str]:
    """(path, where it came from) for a zoo entry's weights."""
    entry = _weights_entry(name)
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
    if _env_true("VIDEOZOO_NO_HUB"):
        hub_error = RuntimeError("skipped: VIDEOZOO_NO_HUB is set")
    else:
        try:
            return _from_hub(entry, offline), f"Hub {hf_hub_id(entry)}"
        except _hub_errors() as e:
            hub_error = e
            logger.info("%s: Hub repository %s not usable (%s)", entry.name, hf_hub_id(entry),
                        _first_line(e))

    if offline:
        raise OfflineError(_offline_message(entry, mirror, converted))
    with _locked(_lock_path(converted), entry.name):
        if _usable_conversion(converted, entry):  # another process converted it meanwhile
            return converted, f"videozoo cache {converted}"
        try:
            original = download_file(entry.url, cache_dir() / "checkpoints",  # type: ignore[arg-type]
                                     entry.sha256_prefix, progress=progress)
        except DownloadError as e:  # same type (ChecksumError...), with the Hub's story added
            raise type(e)(
                f"cannot fetch weights for {entry.name}: the Hub repository {hf_hub_id(entry)} "
                f"failed ({_first_line(hub_error)}) and so did the original file: {e}"
            ) from e
        path = _convert_original(entry, original, keep_original=False, locked=True)
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


def _hub_errors() -> tuple[type[BaseException], ...]:
    """What hf_hub_download raises when a repository is missing, unreachable or refused."""
    errors: list[type[BaseException]] = [OSError, ValueError]  # HTTP, offline, ids (HFValidation)
    with contextlib.suppress(ImportError):
        from huggingface_hub.errors import EntryNotFoundError

        errors.append(EntryNotFoundError)
    for module in ("httpx2", "httpx", "requests"):
        with contextlib.suppress(ImportError):
            mod = __import__(module)
            base = getattr(mod, "HTTPError", None) or getattr(mod, "RequestException", None)
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


def _from_hub(entry: ZooEntry, offline: bool) -> Path:
    from huggingface_hub import hf_hub_download

    from . import __version__

    path = Path(hf_hub_download(hf_hub_id(entry), HUB_FILENAME, local_files_only=offline,
                                library_name="videozoo", library_version=__version__,
                                **_hf_kwargs()))
    check_weights_file(path, entry)
    return path


def check_weights_file(path: Path, entry: ZooEntry) -> None:
    """Refuse a safetensors file whose metadata says it is another model or another checkpoint."""
    from ._convert import safetensors_metadata

    meta = safetensors_metadata(path)
    if meta.get("arch") and meta["arch"] != entry.arch:
        raise CheckpointError(f"{path} holds a {meta['arch']}, but {entry.name} is a {entry.arch}")
    source = meta.get("source_sha256", "").lower()
    prefix = (entry.sha256_prefix or "").lower()
    if source and prefix and not source.startswith(prefix):
        raise CheckpointError(
            f"{path} was converted from a checkpoint with SHA-256 {source[:8]}..., but "
            f"{entry.name}'s checkpoint has {prefix}...; delete it to fetch the right one"
        )


def _usable_conversion(path: Path, entry: ZooEntry) -> bool:
    if not path.is_file():
        return False
    try:
        check_weights_file(path, entry)
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
    from ._convert import sha256_file

    digest = sha256_file(path)
    if not digest.startswith(prefix.lower()):
        if delete:
            path.unlink(missing_ok=True)
        raise ChecksumError(
            f"SHA-256 of {path} is {digest[:len(prefix)]}..., expected {prefix.lower()}..."
            + ("; the bad file was deleted" if delete else "; replace it with the published file")
        )


def _convert_original(entry: ZooEntry, original: Path, keep_original: bool,
                      locked: bool = False) -> Path:
    """Check, convert into the videozoo cache (under the entry's lock) and return the result."""
    from ._convert import convert_checkpoint

    converted = converted_weights_path(entry)
    lock = contextlib.nullcontext() if locked else _locked(_lock_path(converted), entry.name)
    with lock:
        if _usable_conversion(converted, entry):
            return converted
        verify_sha256_prefix(original, entry.sha256_prefix, delete=not keep_original)
        convert_checkpoint(original, converted, entry.name)
    if not keep_original:
        original.unlink(missing_ok=True)  # the safetensors file is what is used from now on
    return converted


def _offline_message(entry: ZooEntry, mirror: Optional[Path], converted: Path) -> str:
    name = original_filename(entry)
    where = mirror if mirror is not None else Path("<mirror>")
    return (
        f"offline ({_offline_reason()}) and no weights for {entry.name} are cached. Either\n"
        f"  - put {HUB_FILENAME} from the Hub repository {hf_hub_id(entry)} at "
        f"{where / entry.name / HUB_FILENAME}"
        + ("" if mirror is not None else " and set VIDEOZOO_MIRROR=<mirror>") + ",\n"
        f"  - or put the original checkpoint {name} (from {entry.url}) at {where / name},\n"
        f"  - or run `videozoo download {entry.name}` where there is network and copy "
        f"{converted} to the same path here."
    )
