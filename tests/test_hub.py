"""Weights download: Hub, original URL (checked, converted, cached), mirror, offline, publish.

Every test runs against servers on 127.0.0.1 (``tests/_servers.py``) with its own caches.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os

import numpy as np
import pytest
import torch
from _servers import FakeHub, FileServer, fetch_weights_in_process

import videozoo
from videozoo import _registry
from videozoo._checkpoint import CheckpointError
from videozoo._convert import convert_checkpoint, safetensors_metadata
from videozoo._hub import (
    ChecksumError,
    OfflineError,
    cache_dir,
    download_file,
    download_weights,
    fetch_weights,
)
from videozoo._pretrained import ZooEntry

ARCH = "tsm_mobilenetv2"
ORG = "vz-test-org"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Private caches; no offline flag, mirror or proxy from the outside."""
    monkeypatch.setenv("VIDEOZOO_HOME", str(tmp_path / "videozoo-home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("VIDEOZOO_HUB_ORG", ORG)
    monkeypatch.setenv("VIDEOZOO_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "VIDEOZOO_OFFLINE",
                 "VIDEOZOO_MIRROR", "VIDEOZOO_NO_HUB", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                 "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def hub(monkeypatch):
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.base_url)
        yield server


@pytest.fixture
def files():
    with FileServer() as server:
        yield server


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """An MMAction2 0.x-layout tsm_mobilenetv2 checkpoint (5 classes) with a numpy object in
    ``meta`` (so the safe reader's restricted path is what reads it), and its SHA-256."""
    torch.manual_seed(0)
    model = videozoo.create_model(ARCH, num_classes=5)
    path = tmp_path_factory.mktemp("orig") / "orig.pth"
    torch.save({"meta": {"mmcv_version": "1.3.18", "best_score": np.float64(0.5)},
                "state_dict": model.export_mmaction_state_dict()}, path)
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


@pytest.fixture
def entry(monkeypatch, files, original):
    """A zoo entry whose original checkpoint is served by ``files`` (removed after the test)."""
    data, digest = original
    name = f"tsm_mobilenetv2_test_20240101-{digest[:8]}.pth"
    url = files.add(f"/v1.0/recognition/tsm/{name}", data)
    e = ZooEntry(name="tsm_mobilenetv2_videozoo-test", arch=ARCH, config="test",
                 mmaction_version="0.x", dataset="test", num_classes=5, url=url,
                 sha256_prefix=digest[:8])
    monkeypatch.setitem(_registry._zoo_entries, e.name, e)
    return e


@pytest.fixture(scope="module")
def converted(tmp_path_factory, original):
    """The same weights converted to safetensors, as a Hub repository would hold them."""
    data, digest = original
    d = tmp_path_factory.mktemp("conv")
    src = d / f"tsm_mobilenetv2_test_20240101-{digest[:8]}.pth"
    src.write_bytes(data)
    return convert_checkpoint(src, d / "model.safetensors", ARCH).read_bytes()


def _logits(model: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(1, 3, 2, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model.eval()(x)


def _reference_logits(original, tmp_path) -> torch.Tensor:
    path = tmp_path / "reference.pth"
    path.write_bytes(original[0])
    return _logits(videozoo.create_model(ARCH, checkpoint_path=path))


def _url_path(entry: ZooEntry) -> str:
    return "/" + entry.url.split("/", 3)[3]


# -- Hub -----------------------------------------------------------------------------------------
def test_hub_download_then_offline(hub, files, entry, converted, monkeypatch):
    repo = f"{ORG}/{entry.name}"  # the org comes from VIDEOZOO_HUB_ORG
    hub.add_file(repo, "model.safetensors", converted)
    path, source = fetch_weights(entry.name)
    assert source == f"Hub {repo}"
    assert path.read_bytes() == converted
    assert str(path).startswith(os.environ["HF_HOME"])  # huggingface_hub's cache, as HF_HOME says
    assert hub.cdn.gets(f"/lfs/{hashlib.sha256(converted).hexdigest()}") == [None]  # 302 followed
    assert files.requests == []  # the original URL was not needed

    n = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_weights(entry.name) == path
    assert len(hub.requests) == n  # served from the Hub cache without asking


def test_pretrained_true_uses_hub_weights(hub, entry, converted, original, tmp_path):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    model = videozoo.create_model(entry.name, pretrained=True)
    assert model.num_classes == 5 and model.pretrained_cfg["name"] == entry.name
    assert torch.equal(_logits(model), _reference_logits(original, tmp_path))


def test_hub_file_of_another_model_is_refused(hub, entry, tmp_path):
    from safetensors.torch import save_file

    wrong = tmp_path / "wrong.safetensors"
    save_file({"w": torch.zeros(1)}, str(wrong), metadata={"format": "pt", "arch": "tsn_r50"})
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", wrong.read_bytes())
    with pytest.raises(CheckpointError, match="tsn_r50"):
        download_weights(entry.name)


# -- original URL --------------------------------------------------------------------------------
def test_fallback_to_original_url_converts_and_caches(hub, files, entry, original, tmp_path,
                                                      monkeypatch):
    path, source = fetch_weights(entry.name)  # the fake Hub has no such repository
    assert source == f"original URL {entry.url}"
    assert ("HEAD", f"/{ORG}/{entry.name}/resolve/main/model.safetensors", None) in hub.requests
    assert path == cache_dir() / "weights" / entry.name / "model.safetensors"
    meta = safetensors_metadata(path)
    assert meta["entry"] == entry.name and meta["arch"] == ARCH
    assert meta["source_sha256"] == original[1]
    assert not list((cache_dir() / "checkpoints").glob("*.pth*"))  # the .pth was removed
    model = videozoo.create_model(entry.name, pretrained=True)
    assert torch.equal(_logits(model), _reference_logits(original, tmp_path))

    # next calls: no network at all, online or offline
    hub.requests.clear()
    files.requests.clear()
    assert download_weights(entry.name) == path
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download_weights(entry.name) == path
    assert hub.requests == [] and files.requests == []


def test_no_hub_setting_goes_straight_to_the_original(hub, files, entry, converted,
                                                     monkeypatch):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    monkeypatch.setenv("VIDEOZOO_NO_HUB", "1")
    assert fetch_weights(entry.name)[1] == f"original URL {entry.url}"
    assert hub.requests == []


def test_hash_mismatch_deletes_the_file_and_says_so(hub, files, entry):
    path = _url_path(entry)
    files.wrong[path] = b"not the published checkpoint" * 1000
    with pytest.raises(ChecksumError) as info:
        download_weights(entry.name)
    msg = str(info.value)
    assert entry.sha256_prefix in msg and "deleted" in msg and entry.name in msg
    assert not [p for p in (cache_dir() / "checkpoints").iterdir() if p.is_file()]
    assert not (cache_dir() / "weights" / entry.name / "model.safetensors").exists()

    del files.wrong[path]  # the server is fixed: the next call succeeds
    assert download_weights(entry.name).is_file()


def test_download_file_resumes_a_dropped_connection(files, tmp_path):
    data = os.urandom(600_000)
    url = files.add("/data/blob.bin", data)
    files.drop_once["/data/blob.bin"] = 250_000
    path = download_file(url, tmp_path / "dl", hashlib.sha256(data).hexdigest()[:8])
    assert path.read_bytes() == data
    assert files.gets("/data/blob.bin") == [None, "bytes=250000-"]
    assert not (tmp_path / "dl" / "blob.bin.part").exists()


def test_download_file_resumes_a_part_left_by_an_earlier_process(files, tmp_path):
    data = os.urandom(300_000)
    url = files.add("/data/blob.bin", data)
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "blob.bin.part").write_bytes(data[:100_000])
    assert download_file(url, dest, hashlib.sha256(data).hexdigest()).read_bytes() == data
    assert files.gets("/data/blob.bin") == ["bytes=100000-"]


def test_download_file_complete_part_is_finished_without_refetching(files, tmp_path):
    data = os.urandom(100_000)
    url = files.add("/data/blob.bin", data)
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "blob.bin.part").write_bytes(data)  # killed after the last byte, before the rename
    assert download_file(url, dest, hashlib.sha256(data).hexdigest()[:8]).read_bytes() == data
    assert files.gets("/data/blob.bin") == ["bytes=100000-"]  # answered 416: nothing left


def test_download_file_restarts_when_the_server_ignores_range(files, tmp_path):
    data = os.urandom(200_000)
    url = files.add("/data/blob.bin", data)
    files.ignore_range = True
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "blob.bin.part").write_bytes(b"x" * 50_000)
    assert download_file(url, dest, hashlib.sha256(data).hexdigest()[:8]).read_bytes() == data


def test_download_file_stale_part_is_redownloaded_once(files, tmp_path):
    data = os.urandom(200_000)
    url = files.add("/data/blob.bin", data)
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "blob.bin.part").write_bytes(b"garbage from another version")
    assert download_file(url, dest, hashlib.sha256(data).hexdigest()[:8]).read_bytes() == data
    assert files.gets("/data/blob.bin")[-1] is None  # the fresh retry


def test_download_file_http_error_names_the_url(files, tmp_path):
    with pytest.raises(videozoo.DownloadError, match="404.*missing.bin"):
        download_file(files.url("/missing.bin"), tmp_path)


@pytest.mark.slow
def test_two_processes_fetch_the_same_weights_at_once(hub, files, entry):
    files.chunk_delay_s = 0.01  # >1 s for the file, and both start together: they overlap
    ctx = multiprocessing.get_context("spawn")  # not fork: torch's thread pools are not fork-safe
    out, start = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=fetch_weights_in_process, args=(entry, start, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert results[0][1:] == results[1][1:]  # same path, same bytes
    assert safetensors_metadata(results[0][1])["source_sha256"].startswith(entry.sha256_prefix)
    assert files.gets(_url_path(entry)) == [None]  # downloaded once; the other process waited
    assert not list((cache_dir() / "weights" / entry.name).glob("*.tmp"))


# -- offline -------------------------------------------------------------------------------------
def test_offline_with_nothing_cached_names_the_file_and_where_to_put_it(hub, files, entry,
                                                                        monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        download_weights(entry.name)
    msg = str(info.value)
    file_name = entry.url.rsplit("/", 1)[1]
    assert "HF_HUB_OFFLINE" in msg and entry.name in msg and file_name in msg
    assert entry.url in msg and f"{ORG}/{entry.name}" in msg and "VIDEOZOO_MIRROR" in msg
    assert hub.requests == [] and files.requests == []

    mirror = tmp_path / "mirror"
    monkeypatch.setenv("VIDEOZOO_MIRROR", str(mirror))
    with pytest.raises(OfflineError, match=str(mirror / entry.name / "model.safetensors")):
        download_weights(entry.name)


def test_download_file_offline(files, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOZOO_OFFLINE", "1")
    url = files.add("/maps/label_map.txt", b"a\nb\n")
    with pytest.raises(OfflineError) as info:
        download_file(url, tmp_path / "maps")
    assert url in str(info.value) and str(tmp_path / "maps" / "label_map.txt") in str(info.value)
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "label_map.txt").write_text("a\nb\n")
    assert download_file(url, tmp_path / "maps").read_text() == "a\nb\n"
    assert files.requests == []


# -- mirror --------------------------------------------------------------------------------------
def test_mirror_safetensors_first_without_network(hub, files, entry, converted, tmp_path,
                                                  monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / entry.name).mkdir(parents=True)
    (mirror / entry.name / "model.safetensors").write_bytes(converted)
    monkeypatch.setenv("VIDEOZOO_MIRROR", str(mirror))
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    path, source = fetch_weights(entry.name)
    assert path == mirror / entry.name / "model.safetensors" and source.startswith("mirror")
    assert hub.requests == [] and files.requests == []


def test_mirror_original_checkpoint_is_checked_and_converted(hub, files, entry, original,
                                                             tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    pth = mirror / entry.url.rsplit("/", 1)[1]
    monkeypatch.setenv("VIDEOZOO_MIRROR", str(mirror))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    pth.write_bytes(b"corrupted copy")
    with pytest.raises(ChecksumError, match="expected " + entry.sha256_prefix):
        download_weights(entry.name)
    assert pth.exists()  # a mirror is not ours to delete

    pth.write_bytes(original[0])
    path = download_weights(entry.name)
    assert path == cache_dir() / "weights" / entry.name / "model.safetensors"
    assert safetensors_metadata(path)["source_sha256"] == original[1]
    assert pth.exists() and hub.requests == [] and files.requests == []


# -- CLI -----------------------------------------------------------------------------------------
def test_download_cli(hub, files, entry, capsys):
    from videozoo.cli import main

    assert main(["download", entry.name, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert entry.name in out and "original URL" in out
    assert str(cache_dir() / "weights" / entry.name / "model.safetensors") in out
    assert main(["download", "no_such_entry_*"]) == 2


# -- publish -------------------------------------------------------------------------------------
@pytest.fixture
def cards_available():
    pytest.importorskip("videozoo._cards", reason="the model card writer is not there yet")


def test_publish_dry_run_writes_a_mirror(cards_available, hub, files, entry, original, tmp_path,
                                         monkeypatch):
    from videozoo.cli import main

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / entry.url.rsplit("/", 1)[1]).write_bytes(original[0])
    out = tmp_path / "publish"
    assert main(["publish", entry.name, "--out", str(out), "--dry-run", "--quiet",
                 "--checkpoints", str(checkpoints)]) == 0
    folder = out / entry.name
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                      "model.safetensors"]
    card = (folder / "README.md").read_text()
    assert card.startswith("---") and "license:" in card
    assert safetensors_metadata(folder / "model.safetensors")["entry"] == entry.name
    assert hub.requests == [] and files.requests == []  # dry run, local checkpoint

    monkeypatch.setenv("VIDEOZOO_MIRROR", str(out))  # the output serves as a mirror
    assert download_weights(entry.name) == folder / "model.safetensors"


def test_publish_uploads_to_the_hub_and_downloads_back(cards_available, hub, files, entry,
                                                       original, tmp_path, monkeypatch):
    from videozoo._publish import publish

    done = publish([entry.name], tmp_path / "publish", org="uploader", progress=False)
    repo = f"uploader/{entry.name}"
    assert [d.repo_id for d in done] == [repo] and done[0].url
    assert sorted(hub.repos[repo]) == ["README.md", "config.json", "model.safetensors"]
    assert repo in hub.repos[repo]["README.md"].decode()  # the card names the repository used
    assert hub.created[0]["organization"] == "uploader"
    assert files.gets(_url_path(entry)) == [None]  # the original was downloaded to convert it

    publish([entry.name], tmp_path / "publish", org="uploader", progress=False)  # exists: fine
    assert len(hub.created) == 2

    monkeypatch.setenv("VIDEOZOO_HUB_ORG", "uploader")
    path, source = fetch_weights(entry.name)
    assert source == f"Hub {repo}"
    model = videozoo.create_model(entry.name, checkpoint_path=path)
    assert torch.equal(_logits(model), _reference_logits(original, tmp_path))
