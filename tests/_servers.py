"""HTTP servers on 127.0.0.1 for the download tests (``http.server`` in a thread).

* :class:`FileServer`: static files with HTTP Range; can drop a connection mid-file once, serve
  wrong bytes (checksum mismatch), ignore Range, send slowly (to make downloads overlap),
  stall (accept, then never answer), trickle (one byte every ``trickle_s``) or answer 200 with
  an HTML page.
* :func:`refused_url`: a URL on a port where nothing listens (connection refused).
* :class:`FakeHub`: what ``huggingface_hub`` 2.x talks to. ``HEAD``/``GET
  /{repo_id}/resolve/{revision}/{filename}`` with ``X-Repo-Commit``, ``ETag`` and, for LFS files,
  a 302 to a CDN (a :class:`FileServer` on another port, so another origin) carrying
  ``X-Linked-Etag`` / ``X-Linked-Size``; 404s with ``X-Error-Code: RepoNotFound`` /
  ``RevisionNotFound`` / ``EntryNotFound``. Plus the upload API that ``HfApi.create_repo`` and
  ``HfApi.upload_folder`` use. Faults: ``stall`` (HEAD/GET never answered), ``html_200``
  (a file answered 200 with an HTML page, no redirect), ``wrong_etag`` (the LFS ETag is not the
  bytes' SHA-256); its CDN is a :class:`FileServer`, so it can trickle too. API: ``/api/repos/create``, ``/api/validate-yaml``,
  ``/api/models/{repo}/preupload/{rev}`` (every file "regular") and ``/api/models/{repo}/commit/{rev}``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


class _Server:
    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                owner._record(self)
                owner.handle_get(self, head=True)

            def do_GET(self) -> None:
                owner._record(self)
                owner.handle_get(self, head=False)

            def do_POST(self) -> None:
                owner._record(self)
                length = int(self.headers.get("Content-Length") or 0)
                owner.handle_post(self, self.rfile.read(length))

        self.requests: list[tuple[str, str, Optional[str]]] = []  # (method, path, Range)
        self.stopping = threading.Event()  # wakes handlers that stall or trickle
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients hanging up mid-file
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def _record(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append((h.command, h.path, h.headers.get("Range")))

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> _Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def handle_get(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        raise NotImplementedError

    def handle_post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        send(h, 405, b"")

    def gets(self, path: str) -> list[Optional[str]]:
        """The Range header of every GET of ``path`` (None for a plain GET)."""
        return [r for m, p, r in self.requests if m == "GET" and p == path]


def send(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", head: bool = False,
         headers: Optional[dict[str, str]] = None) -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if body and not head:
        h.wfile.write(body)


HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in." \
    b"</body></html>\n"


def refused_url(path: str = "/") -> str:
    """An http URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class FileServer(_Server):
    """Static bytes by path, with Range and fault injection."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.drop_once: dict[str, int] = {}  # path -> drop the connection after this many bytes
        self.wrong: dict[str, bytes] = {}  # path -> bytes served instead of the real ones
        self.ignore_range = False
        self.chunk_delay_s = 0.0  # sleep between 64 KiB chunks
        self.stall = False  # read the request, then never answer
        self.trickle_s = 0.0  # > 0: send one byte every trickle_s seconds
        self.html_200: set[str] = set()  # paths answered 200 with HTML_PAGE

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url(path)

    def handle_get(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = h.path.split("?", 1)[0]
        if self.stall:
            self.stopping.wait(60)
            return
        if path in self.html_200:
            send(h, 200, HTML_PAGE, head, {"Content-Type": "text/html"})
            return
        if path not in self.files:
            send(h, 404, b"not found", head)
            return
        data = self.wrong.get(path, self.files[path])
        size = len(data)
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range") or "")
        if m and not self.ignore_range:
            start = int(m.group(1))
            if start >= size:
                send(h, 416, b"", head, {"Content-Range": f"bytes */{size}"})
                return
        status = 206 if start else 200
        h.send_response(status)
        h.send_header("Content-Length", str(size - start))
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        h.end_headers()
        if head:
            return
        body = data[start:]
        drop_at = self.drop_once.pop(path, None) if not head else None
        if drop_at is not None:
            h.wfile.write(body[:drop_at])
            h.wfile.flush()
            h.close_connection = True
            return
        if self.trickle_s:
            for i in range(len(body)):
                if self.stopping.wait(self.trickle_s):
                    return
                h.wfile.write(body[i:i + 1])
                h.wfile.flush()
            return
        for i in range(0, len(body), 1 << 16):
            h.wfile.write(body[i:i + (1 << 16)])
            if self.chunk_delay_s:
                h.wfile.flush()
                time.sleep(self.chunk_delay_s)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub(_Server):
    """Enough of the Hugging Face Hub for hf_hub_download and HfApi uploads."""

    LFS_SUFFIXES = (".safetensors", ".pth", ".bin")

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, dict[str, bytes]] = {}
        self.commits: dict[str, str] = {}
        self.created: list[dict] = []
        self.cdn = FileServer()
        self.stall = False
        self.html_200: set[str] = set()  # filenames answered 200 with HTML_PAGE
        self.wrong_etag: set[str] = set()  # filenames whose LFS ETag is not their SHA-256

    def start(self) -> FakeHub:
        self.cdn.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.cdn.stop()

    def add_file(self, repo_id: str, filename: str, data: bytes) -> None:
        self.repos.setdefault(repo_id, {})[filename] = data
        self._new_commit(repo_id)

    def _new_commit(self, repo_id: str) -> None:
        files = self.repos[repo_id]
        digest = hashlib.sha1(repr(sorted((k, git_blob_sha1(v)) for k, v in files.items()))
                              .encode() + os.urandom(4))
        self.commits[repo_id] = digest.hexdigest()

    # -- download -------------------------------------------------------------------------------
    def handle_get(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        if self.stall:
            self.stopping.wait(60)
            return
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", h.path.split("?", 1)[0])
        if not m:
            send(h, 404, b"not found", head)
            return
        repo_id, revision, filename = m.group(1), m.group(2), m.group(3)
        if repo_id not in self.repos:
            send(h, 404, b"Repository not found", head, {"X-Error-Code": "RepoNotFound"})
            return
        commit = self.commits[repo_id]
        if revision not in ("main", commit):
            send(h, 404, b"Invalid rev id", head, {"X-Error-Code": "RevisionNotFound"})
            return
        files = self.repos[repo_id]
        if filename not in files:
            send(h, 404, b"Entry not found", head,
                 {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
            return
        data = files[filename]
        if filename in self.html_200:  # e.g. a captive portal or a misconfigured proxy
            send(h, 200, HTML_PAGE, head, {"X-Repo-Commit": commit, "Content-Type": "text/html",
                                           "ETag": f'"{git_blob_sha1(HTML_PAGE)}"'})
            return
        if filename.endswith(self.LFS_SUFFIXES):  # LFS: redirect to the CDN, another origin
            sha = hashlib.sha256(data).hexdigest()
            location = self.cdn.add(f"/lfs/{sha}", data)
            etag = hashlib.sha256(b"other" + data).hexdigest() if filename in self.wrong_etag \
                else sha
            send(h, 302, b"", head, {
                "Location": location, "X-Repo-Commit": commit, "X-Linked-Etag": f'"{etag}"',
                "X-Linked-Size": str(len(data)), "ETag": f'"{git_blob_sha1(sha.encode())}"',
            })
            return
        send(h, 200, data, head, {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha1(data)}"'})

    # -- upload ---------------------------------------------------------------------------------
    def handle_post(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        path = h.path.split("?", 1)[0]
        if path == "/api/repos/create":
            payload = json.loads(body)
            repo_id = f"{payload['organization']}/{payload['name']}"
            self.created.append(payload)
            answer = {"url": self.url(f"/{repo_id}"), "name": repo_id}
            if repo_id in self.repos:  # the Hub's 409 body carries the url too
                answer["error"] = "You already created this model repo"
                send(h, 409, json.dumps(answer).encode())
                return
            self.repos[repo_id] = {}
            self._new_commit(repo_id)
            send(h, 200, json.dumps(answer).encode())
            return
        if path == "/api/validate-yaml":
            send(h, 200, b'{"errors": [], "warnings": []}')
            return
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit)/([^/]+)", path)
        if not m or m.group(1) not in self.repos:
            send(h, 404, b"Repository not found", headers={"X-Error-Code": "RepoNotFound"})
            return
        repo_id = m.group(1)
        if m.group(2) == "preupload":
            files = json.loads(body)["files"]
            out = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                    "oid": None} for f in files]
            send(h, 200, json.dumps({"files": out}).encode())
            return
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                value = item["value"]
                self.repos[repo_id][value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "deletedFile":
                self.repos[repo_id].pop(item["value"]["path"], None)
        self._new_commit(repo_id)
        commit = self.commits[repo_id]
        send(h, 200, json.dumps({"commitUrl": self.url(f"/{repo_id}/commit/{commit}"),
                                 "commitOid": commit}).encode())


def fetch_weights_in_process(entry: Any, start: Any, out: Any) -> None:
    """Child-process body for the concurrency test: register ``entry``, wait until every child
    has imported videozoo (``start`` is a barrier), fetch, report (status, path, sha256)."""
    import videozoo
    from videozoo import _registry
    from videozoo._hub import download_weights

    assert videozoo
    _registry._zoo_entries[entry.name] = entry
    try:
        start.wait(timeout=300)
        path = download_weights(entry.name, progress=False)
        out.put(("ok", str(path), hashlib.sha256(open(path, "rb").read()).hexdigest()))
    except BaseException as e:  # report to the parent rather than dying silently
        out.put(("error", repr(e), ""))
