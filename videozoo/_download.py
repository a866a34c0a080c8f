"""Generic file download with a deadline, a stall timeout, resume, locks and a checksum.

Every transfer is bounded (settings read at each call; an argument wins over the environment):

* ``VIDEOZOO_DOWNLOAD_TIMEOUT`` (default 1800 s): the whole download of one file from one
  source, retries included. Past it the download stops with :class:`DownloadError` (a partial
  ``.part`` file is kept and the next call resumes it).
* ``VIDEOZOO_STALL_TIMEOUT`` (default 30 s): no byte for this long, or under 1 KiB in this long
  (a server trickling bytes), ends an attempt, which is then retried while the deadline allows.
* ``VIDEOZOO_CONNECT_TIMEOUT`` (default 3 s): before anything else, one TCP connection to the
  server (or its proxy) must open within this time, DNS included; otherwise the source is taken
  as unreachable at once (no retries), so a machine without network learns it in seconds.
"""
from __future__ import annotations

import contextlib
import http.client
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

logger = logging.getLogger("videozoo")

DEFAULT_CACHE = "~/.cache/videozoo"
CHUNK_SIZE = 1 << 20
MAX_ATTEMPTS = 5  # per download_file call; a kept .part file resumes on the next call
DEFAULT_DEADLINE_S = 1800.0
DEFAULT_STALL_S = 30.0
DEFAULT_CONNECT_S = 3.0
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)
MIN_BYTES_PER_STALL_WINDOW = 1024


class _Stalled(OSError):
    """An attempt that brought too few bytes for too long (retried while the deadline allows)."""


class DownloadError(OSError):
    """A file could not be fetched."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 does not match the expected prefix (the file was deleted)."""


class OfflineError(DownloadError):
    """Offline mode is on and the file is not in any cache or mirror."""


class UnreachableError(DownloadError):
    """The server could not be connected to within the connect timeout (no network?)."""


# -- settings ------------------------------------------------------------------------------------
def env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "y", "yes", "true", "on")


def _seconds(value: Optional[float], env: str, default: float) -> float:
    if value is None:
        text = os.environ.get(env, "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{env}={text!r} is not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"{env} (or the matching argument) must be > 0 seconds, got {value}")
    return float(value)


def deadline_seconds(value: Optional[float] = None) -> float:
    return _seconds(value, "VIDEOZOO_DOWNLOAD_TIMEOUT", DEFAULT_DEADLINE_S)


def stall_seconds(value: Optional[float] = None) -> float:
    return _seconds(value, "VIDEOZOO_STALL_TIMEOUT", DEFAULT_STALL_S)


def connect_seconds() -> float:
    return _seconds(None, "VIDEOZOO_CONNECT_TIMEOUT", DEFAULT_CONNECT_S)


def cache_dir() -> Path:
    """videozoo's cache: ``$VIDEOZOO_HOME`` or ``~/.cache/videozoo``."""
    return Path(os.path.expandvars(os.path.expanduser(
        os.environ.get("VIDEOZOO_HOME") or DEFAULT_CACHE)))


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` / ``VIDEOZOO_OFFLINE`` now, or huggingface_hub's import-time setting."""
    if env_true("HF_HUB_OFFLINE") or env_true("VIDEOZOO_OFFLINE"):
        return True
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def offline_reason() -> str:
    for name in ("VIDEOZOO_OFFLINE", "HF_HUB_OFFLINE"):
        if env_true(name):
            return f"{name}={os.environ[name]}"
    return "HF_HUB_OFFLINE"


def progress_enabled(progress: bool) -> bool:
    return progress and not (env_true("VIDEOZOO_DISABLE_PROGRESS_BARS")
                             or env_true("HF_HUB_DISABLE_PROGRESS_BARS"))


@contextlib.contextmanager
def locked(lock_path: Path, what: str) -> Iterator[None]:
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


# -- reachability --------------------------------------------------------------------------------
_probe_cache: dict[tuple[str, int], tuple[float, Optional[str]]] = {}
_PROBE_TTL_S = 30.0


def unreachable_reason(url: str, timeout: Optional[float] = None) -> Optional[str]:
    """None when a TCP connection to ``url``'s server (or its proxy) opens within ``timeout``
    seconds (``VIDEOZOO_CONNECT_TIMEOUT``), else why not. DNS is inside the bound too (the
    lookup runs in a helper thread). A server that timed out is remembered for 30 s, so fetching
    many files without network waits once; refusals are instant and successes cheap, so both
    are asked afresh."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # file:// and the like: nothing to probe
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = p.hostname or host, p.port or 80
    key = (host, port)
    now = time.monotonic()
    cached = _probe_cache.get(key)
    if cached is not None and now - cached[0] < _PROBE_TTL_S:
        return cached[1]
    timeout = connect_seconds() if timeout is None else timeout
    result: list[Optional[str]] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as e:
            result.append(f"{type(e).__name__}: {e}")

    worker = threading.Thread(target=probe, name="videozoo-connect-probe", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    reason = result[0] if result else None
    if not result:
        reason = f"no connection to {host}:{port} within {timeout:g} s (DNS or connect)"
    elif reason is not None:
        reason = f"cannot connect to {host}:{port} ({reason})"
    if not result:
        _probe_cache[key] = (now, reason)
    return reason


# -- download ------------------------------------------------------------------------------------
def filename_from_url(url: str) -> str:
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name or name in (".", ".."):
        raise ValueError(f"cannot tell a file name from URL {url!r}; pass filename=")
    return name


def download_file(url: str, dest_dir: str | os.PathLike, sha256_prefix: Optional[str] = None,
                  *, filename: Optional[str] = None, progress: bool = True,
                  deadline_s: Optional[float] = None, stall_s: Optional[float] = None) -> Path:
    """``dest_dir/<file name of url>``, downloaded once and verified.

    A file already at its final name is returned as is (files only get there after the check).
    Otherwise the download goes to ``<name>.part`` under a file lock, resumes a ``.part`` left by
    an interrupted call (HTTP Range), retries dropped connections, shows a tqdm progress bar,
    checks ``sha256_prefix`` (a leading part of the hex SHA-256, any length) and renames into
    place. ``deadline_s`` bounds the whole download (``VIDEOZOO_DOWNLOAD_TIMEOUT``, default
    1800 s), ``stall_s`` each wait for bytes (``VIDEOZOO_STALL_TIMEOUT``, default 30 s); a server
    that cannot be connected to within ``VIDEOZOO_CONNECT_TIMEOUT`` (3 s) raises
    :class:`UnreachableError` at once. Offline (``HF_HUB_OFFLINE`` / ``VIDEOZOO_OFFLINE``), a
    missing file raises :class:`OfflineError` saying what to fetch and where to put it.
    """
    dest_dir = Path(dest_dir)
    name = filename or filename_from_url(url)
    dest = dest_dir / name
    if dest.is_file():
        return dest
    if is_offline():
        raise OfflineError(
            f"offline ({offline_reason()}) and {name} is not cached: download {url} and put "
            f"it at {dest}"
        )
    budget, stall = deadline_seconds(deadline_s), stall_seconds(stall_s)
    reason = unreachable_reason(url)
    if reason is not None:
        raise UnreachableError(f"cannot download {name} from {url}: {reason}")
    deadline = time.monotonic() + budget
    prefix = sha256_prefix.lower() if sha256_prefix else None
    with locked(dest_dir / ".locks" / f"{name}.lock", name):
        if dest.is_file():  # another process finished it while we waited
            return dest
        part = dest_dir / f"{name}.part"
        for fresh_retry in (False, True):
            resumed = part.is_file() and part.stat().st_size > 0
            _fetch_to(url, part, name, progress, deadline, budget, stall)
            if prefix:
                from ._integrity import sha256_file

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


def _past_deadline(url: str, part: Path, deadline: float, budget: float) -> None:
    if time.monotonic() > deadline:
        size = part.stat().st_size if part.is_file() else 0
        raise DownloadError(
            f"download of {url} did not finish within {budget:g} s (VIDEOZOO_DOWNLOAD_TIMEOUT); "
            f"{size} bytes are kept in {part} and the next call resumes them"
        )


def _fetch_to(url: str, part: Path, name: str, progress: bool, deadline: float, budget: float,
              stall: float) -> None:
    """Append ``url``'s bytes to ``part`` until it is complete, resuming after drops."""
    from tqdm.auto import tqdm

    failures = 0
    while True:
        _past_deadline(url, part, deadline, budget)
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": _user_agent(), "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=stall) as resp:
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
                    desc=name, disable=not progress_enabled(progress), leave=False,
                ) as bar:
                    window_start, window_bytes = time.monotonic(), 0
                    while chunk := resp.read1(CHUNK_SIZE):  # returns what one recv brought
                        f.write(chunk)
                        written += len(chunk)
                        window_bytes += len(chunk)
                        bar.update(len(chunk))
                        now = time.monotonic()
                        if now > deadline:
                            f.flush()
                            _past_deadline(url, part, deadline, budget)
                        if now - window_start >= stall:
                            if window_bytes < MIN_BYTES_PER_STALL_WINDOW:
                                raise _Stalled(f"stalled: {window_bytes} bytes in {stall:g} s "
                                               "(under 1 KiB; VIDEOZOO_STALL_TIMEOUT)")
                            window_start, window_bytes = now, 0
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
            if isinstance(e, DownloadError):
                raise
            failures += 1
            if isinstance(e, (TimeoutError, socket.timeout)) or "timed out" in str(e):
                e = DownloadError(f"no data for {stall:g} s (VIDEOZOO_STALL_TIMEOUT)")
            if failures >= MAX_ATTEMPTS:
                kept = f"; the partial file {part} is kept and the next call resumes it" \
                    if part.is_file() else ""
                raise DownloadError(f"cannot download {url}: {e}{kept}") from e
            err = e
        wait = min(0.5 * 2 ** (failures - 1), 8.0, max(deadline - time.monotonic(), 0.0))
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
