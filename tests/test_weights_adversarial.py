"""Bad inputs, family by family, for every way weights enter videozoo.

Entry points: ``read_checkpoint`` / ``create_model(checkpoint_path=...)`` (local files),
``fetch_weights`` (mirror, videozoo cache, Hub, original URL) and ``download_file``. Each bad
input must end in one clear error (or a correct fallback), within seconds: the servers are local
(tests/_servers.py) and the deadlines are configured short.
"""
# ruff: noqa: F811  (pytest fixtures imported from test_hub are used as arguments)
from __future__ import annotations

import dataclasses
import os
import pickle
import struct
import time
import zipfile
from pathlib import Path

import pytest
import torch
from _servers import refused_url
from safetensors.torch import load_file, save_file
from test_hub import (  # noqa: F401  (fixtures)
    ARCH,
    ORG,
    converted,
    entry,
    files,
    hub,
    isolated_env,
    original,
)

import videozoo
from videozoo import _registry
from videozoo._checkpoint import CheckpointError, read_checkpoint
from videozoo._hub import (
    DownloadError,
    OfflineError,
    UnreachableError,
    cache_dir,
    download_file,
    fetch_weights,
)
from videozoo._integrity import CorruptFileError, tensors_sha256


@pytest.fixture
def short_deadlines(monkeypatch):
    monkeypatch.setenv("VIDEOZOO_STALL_TIMEOUT", "1")
    monkeypatch.setenv("VIDEOZOO_DOWNLOAD_TIMEOUT", "2")
    monkeypatch.setenv("VIDEOZOO_CONNECT_TIMEOUT", "1")


def _state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return videozoo.create_model(ARCH, num_classes=5).state_dict()


def _member_offset(path: Path, suffix: str) -> int:
    """Offset of the first data byte of the zip member whose name ends with ``suffix``."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(suffix))
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len


# -- local checkpoints ---------------------------------------------------------------------------
def test_flipped_byte_in_tensor_data_of_a_pth_is_refused(tmp_path):
    path = tmp_path / "model.pth"
    torch.save(_state_dict(), path)
    raw = bytearray(path.read_bytes())
    raw[_member_offset(path, "data/0") + 3] ^= 0x40
    path.write_bytes(bytes(raw))
    assert torch.load(path, weights_only=True)  # torch itself loads it without a word
    with pytest.raises(CorruptFileError, match="CRC"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="CRC"):
        videozoo.create_model(ARCH, checkpoint_path=path)


@pytest.mark.parametrize("bad, kind", [(float("nan"), "NaN"), (float("inf"), "Inf"),
                                       (float("-inf"), "Inf")])
@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_nan_or_inf_weights_are_refused_naming_the_tensor(tmp_path, bad, kind, fmt):
    sd = _state_dict()
    name = sorted(k for k, v in sd.items() if v.is_floating_point())[7]
    sd[name].view(-1)[0] = bad
    path = tmp_path / f"model.{fmt}"
    if fmt == "pth":
        torch.save(sd, path)
    else:
        save_file(sd, str(path))
    with pytest.raises(CheckpointError, match=f"{name}.*{kind}"):
        videozoo.create_model(ARCH, checkpoint_path=path)


def test_truncated_and_empty_and_html_files_are_refused(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(_state_dict(), good)
    cases = {"truncated.pth": good.read_bytes()[: good.stat().st_size // 2],
             "empty.pth": b"", "page.pth": b"<html><body>404</body></html>",
             "garbage.pth": os.urandom(4096)}
    st = tmp_path / "good.safetensors"
    save_file(_state_dict(), str(st))
    raw = st.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    cases["truncated.safetensors"] = raw[: len(raw) // 2]
    cases["badheader.safetensors"] = raw[:8] + b"{" + b"\xff" * (header_len - 1) + raw[8 + header_len:]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match=name):
            read_checkpoint(tmp_path / name)


class _Gadget:
    def __reduce__(self):
        return (os.system, ("touch /tmp/videozoo-gadget-ran",))


def test_pickle_gadget_next_to_the_tensors_never_runs(tmp_path):
    marker = Path("/tmp/videozoo-gadget-ran")
    marker.unlink(missing_ok=True)
    path = tmp_path / "gadget.pth"
    torch.save({"state_dict": _state_dict(), "meta": {"x": _Gadget()}}, path,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    model = videozoo.create_model(ARCH, checkpoint_path=path)
    assert model.num_classes == 5 and not marker.exists()


def test_wrong_shape_checkpoint_is_a_clear_error(tmp_path):
    sd = _state_dict()
    name = next(k for k, v in sd.items() if v.dim() == 4)
    sd[name] = torch.zeros(*sd[name].shape[:-1], sd[name].shape[-1] + 1)
    path = tmp_path / "shape.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=f"(?s)shape mismatch.*{name}"):
        videozoo.create_model(ARCH, checkpoint_path=path)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", " ", "7"])
def test_odd_num_classes_metadata_is_a_clear_error(tmp_path, value):
    path = tmp_path / "meta.safetensors"
    save_file(_state_dict(), str(path), metadata={"num_classes": value})
    if value.strip() == "":  # empty: taken from the classifier
        assert videozoo.create_model(ARCH, checkpoint_path=path).num_classes == 5
        return
    with pytest.raises(CheckpointError, match="num_classes"):
        videozoo.create_model(ARCH, checkpoint_path=path)


def test_safetensors_whose_tensors_disagree_with_their_digest_are_refused(tmp_path):
    sd = _state_dict()
    path = tmp_path / "digest.safetensors"
    save_file(sd, str(path), metadata={"tensors_sha256": tensors_sha256(sd)})
    assert read_checkpoint(path)[0].keys() == sd.keys()
    name = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 10)
    sd[name].view(-1)[3] += 1.0
    save_file(sd, str(path), metadata={"tensors_sha256": tensors_sha256(_state_dict())})
    with pytest.raises(CorruptFileError, match="digest"):
        read_checkpoint(path)


# -- mirror and videozoo cache -------------------------------------------------------------------
def _mirror_file(tmp_path, monkeypatch, entry, data: bytes) -> Path:
    mirror = tmp_path / "mirror"
    (mirror / entry.name).mkdir(parents=True)
    path = mirror / entry.name / "model.safetensors"
    path.write_bytes(data)
    monkeypatch.setenv("VIDEOZOO_MIRROR", str(mirror))
    return path


def test_mirror_safetensors_without_metadata_is_refused(hub, files, entry, tmp_path, monkeypatch):
    torch.manual_seed(1)  # same architecture, other weights, no metadata to vouch for them
    other = videozoo.create_model(ARCH, num_classes=5).state_dict()
    bare = tmp_path / "bare.safetensors"
    save_file(other, str(bare))
    _mirror_file(tmp_path, monkeypatch, entry, bare.read_bytes())
    with pytest.raises(CheckpointError, match="no videozoo metadata"):
        fetch_weights(entry.name)
    assert hub.requests == [] and files.requests == []


def test_mirror_safetensors_with_replaced_tensors_is_refused(hub, files, entry, converted,
                                                            tmp_path, monkeypatch):
    src = tmp_path / "conv.safetensors"
    src.write_bytes(converted)
    meta = videozoo._convert.safetensors_metadata(src)
    sd = load_file(str(src))
    name = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 10)
    sd[name].view(-1)[0] += 0.5
    save_file(sd, str(src), metadata=meta)  # the right metadata, other weights
    path = _mirror_file(tmp_path, monkeypatch, entry, src.read_bytes())
    with pytest.raises(CorruptFileError, match="digest"):
        fetch_weights(entry.name)
    assert path.exists()  # a mirror is not ours to delete


def test_damaged_cached_conversion_is_deleted_and_fetched_again(hub, files, entry, converted):
    cached = cache_dir() / "weights" / entry.name / "model.safetensors"
    cached.parent.mkdir(parents=True)
    raw = bytearray(converted)
    raw[-5] ^= 0xFF  # inside the last tensor's bytes
    cached.write_bytes(bytes(raw))
    path, source = fetch_weights(entry.name)
    assert source.startswith("original URL") and path == cached
    assert path.read_bytes() != bytes(raw)
    read_checkpoint(path)


# -- the Hub -------------------------------------------------------------------------------------
def _hub_blob(path: Path) -> Path:
    return Path(os.path.realpath(path))


def test_hub_html_200_falls_back_to_the_original_and_is_not_kept(hub, files, entry, converted):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    hub.html_200.add("model.safetensors")
    path, source = fetch_weights(entry.name)
    assert source == f"original URL {entry.url}"
    hf_cache = Path(os.environ["HF_HOME"])
    assert not [p for p in hf_cache.rglob("blobs/*") if p.is_file()]  # the page was evicted
    hub.html_200.clear()
    path.unlink()  # with the videozoo cache gone, the Hub serves it again
    assert fetch_weights(entry.name)[1] == f"Hub {ORG}/{entry.name}"


def test_hub_file_not_matching_its_etag_is_evicted_and_the_original_used(hub, files, entry,
                                                                        converted):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    hub.wrong_etag.add("model.safetensors")
    path, source = fetch_weights(entry.name)
    assert source == f"original URL {entry.url}"
    assert not [p for p in Path(os.environ["HF_HOME"]).rglob("blobs/*") if p.is_file()]


def test_damaged_blob_in_the_hub_cache_is_caught_even_offline(hub, files, entry, converted,
                                                              monkeypatch):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    path, _ = fetch_weights(entry.name)
    blob = _hub_blob(path)
    raw = bytearray(blob.read_bytes())
    raw[-3] ^= 0x01
    blob.write_bytes(bytes(raw))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="checkpoint_path"):
        fetch_weights(entry.name)
    assert not blob.exists()  # evicted, so it cannot fail every later call
    monkeypatch.delenv("HF_HUB_OFFLINE")
    path, source = fetch_weights(entry.name)  # online again: downloaded afresh
    assert source.startswith("Hub") and path.read_bytes() == converted


def test_stalled_hub_falls_back_within_seconds(hub, files, entry, converted, short_deadlines):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    hub.stall = True
    t0 = time.monotonic()
    path, source = fetch_weights(entry.name)
    assert source == f"original URL {entry.url}"
    assert time.monotonic() - t0 < 8


def test_trickling_hub_cdn_hits_the_deadline_and_falls_back(hub, files, entry, converted,
                                                            short_deadlines):
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    hub.cdn.trickle_s = 0.2  # 5 bytes/s, never a stall
    t0 = time.monotonic()
    path, source = fetch_weights(entry.name)
    assert source == f"original URL {entry.url}"
    assert time.monotonic() - t0 < 8


def test_unreachable_hub_goes_to_the_original_at_once(files, entry, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", refused_url().rstrip("/"))
    t0 = time.monotonic()
    path, source = fetch_weights(entry.name)
    assert source == f"original URL {entry.url}" and time.monotonic() - t0 < 5


def test_no_network_at_all_fails_in_seconds_and_says_what_to_do(entry, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", refused_url().rstrip("/"))
    entry = dataclasses.replace(entry, url=refused_url("/v1.0/" + entry.url.rsplit("/", 1)[1]))
    monkeypatch.setitem(_registry._zoo_entries, entry.name, entry)
    t0 = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        fetch_weights(entry.name)
    assert time.monotonic() - t0 < 5
    msg = str(info.value)
    for needle in ("HF_HUB_OFFLINE=1", "VIDEOZOO_MIRROR", "checkpoint_path",
                   entry.url.rsplit("/", 1)[1], entry.name):
        assert needle in msg


# -- original URL / generic downloads ------------------------------------------------------------
def test_trickling_server_hits_the_whole_download_deadline(files, tmp_path, short_deadlines):
    data = os.urandom(10_000)
    url = files.add("/slow.bin", data)
    files.trickle_s = 0.3
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="did not finish within 2 s"):
        download_file(url, tmp_path / "dl")
    assert time.monotonic() - t0 < 5
    assert (tmp_path / "dl" / "slow.bin.part").is_file()  # kept: the next call resumes
    files.trickle_s = 0
    assert download_file(url, tmp_path / "dl").read_bytes() == data
    assert files.gets("/slow.bin")[-1].startswith("bytes=")


def test_stalled_server_is_retried_then_refused_within_the_deadline(files, tmp_path,
                                                                    short_deadlines):
    url = files.add("/stall.bin", b"x" * 1000)
    files.stall = True
    t0 = time.monotonic()
    with pytest.raises(DownloadError):
        download_file(url, tmp_path / "dl", deadline_s=2.5, stall_s=0.5)
    assert time.monotonic() - t0 < 6


def test_html_200_instead_of_the_checkpoint_is_a_checksum_error(files, tmp_path):
    url = files.add("/ckpt-12345678.pth", b"real bytes")
    files.html_200.add("/ckpt-12345678.pth")
    with pytest.raises(DownloadError, match="expected 12345678"):
        download_file(url, tmp_path / "dl", "12345678")
    assert not list((tmp_path / "dl").glob("ckpt*"))


def test_refused_connection_is_reported_at_once(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(UnreachableError, match="cannot connect"):
        download_file(refused_url("/x.bin"), tmp_path)
    assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_bad_timeout_settings_are_one_line_errors(tmp_path, monkeypatch, value):
    monkeypatch.setenv("VIDEOZOO_DOWNLOAD_TIMEOUT", value)
    with pytest.raises(ValueError, match="VIDEOZOO_DOWNLOAD_TIMEOUT"):
        download_file("http://127.0.0.1:9/x.bin", tmp_path)


def test_digest_is_of_names_dtypes_shapes_and_bytes():
    a = {"w": torch.zeros(2, 3), "b": torch.ones(3)}
    assert tensors_sha256(a) == tensors_sha256(dict(reversed(list(a.items()))))
    assert tensors_sha256(a) != tensors_sha256({"w": torch.zeros(3, 2), "b": torch.ones(3)})
    assert tensors_sha256(a) != tensors_sha256({"w": torch.zeros(2, 3).double(),
                                                "b": torch.ones(3)})
    assert tensors_sha256({"x": torch.zeros(2, dtype=torch.bfloat16)})
    assert tensors_sha256(a) != tensors_sha256({"w": torch.zeros(2, 3), "b": torch.ones(3) * 2})
    assert tensors_sha256(a) != tensors_sha256({"w2": torch.zeros(2, 3), "b": torch.ones(3)})


# -- CLI -----------------------------------------------------------------------------------------
def test_download_cli_deadline_fails_with_one_line_and_exit_1(files, entry, monkeypatch, capsys):
    from videozoo.cli import main

    monkeypatch.setenv("VIDEOZOO_NO_HUB", "1")
    files.trickle_s = 0.2
    t0 = time.monotonic()
    assert main(["download", entry.name, "--quiet", "--timeout", "1.5", "--stall-timeout",
                 "1"]) == 1
    assert time.monotonic() - t0 < 6
    err = capsys.readouterr().err
    assert f"{entry.name}: FAILED" in err and "did not finish within 1.5 s" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_download_cli_refuses_bad_timeouts(entry, value, capsys):
    from videozoo.cli import main

    assert main(["download", entry.name, "--timeout", value]) == 2  # argparse's usage error
    assert "--timeout" in capsys.readouterr().err


def test_connect_probe_is_bounded_even_when_dns_or_connect_hangs(monkeypatch):
    from videozoo import _download

    monkeypatch.setattr(_download.socket, "create_connection",
                        lambda *a, **k: time.sleep(5))  # a resolver or SYN that never answers
    monkeypatch.setattr(_download, "_probe_cache", {})
    t0 = time.monotonic()
    reason = _download.unreachable_reason("https://hub.example.invalid/x", timeout=0.3)
    assert reason is not None and "within 0.3 s" in reason
    assert time.monotonic() - t0 < 1.5
    t0 = time.monotonic()  # remembered: the next file does not wait again
    assert _download.unreachable_reason("https://hub.example.invalid/y", timeout=0.3) == reason
    assert time.monotonic() - t0 < 0.1


def test_trickle_below_1_kib_per_stall_window_is_a_stall(files, tmp_path, monkeypatch):
    from videozoo import _download

    monkeypatch.setattr(_download, "MAX_ATTEMPTS", 2)
    url = files.add("/trickle.bin", os.urandom(5000))
    files.trickle_s = 0.02  # 50 bytes/s: bytes keep coming, far too few
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="under 1 KiB"):
        download_file(url, tmp_path / "dl", stall_s=0.5, deadline_s=30)
    assert time.monotonic() - t0 < 4


def test_trickling_hub_transfer_is_a_stall_before_the_deadline(hub, files, entry, converted,
                                                               monkeypatch):
    from videozoo import _hub

    monkeypatch.setattr(_hub, "HUB_MIN_BYTES_PER_S", 1e12)  # window = the stall timeout
    hub.add_file(f"{ORG}/{entry.name}", "model.safetensors", converted)
    hub.cdn.trickle_s = 0.2
    t0 = time.monotonic()
    path, source = fetch_weights(entry.name, stall_s=1, deadline_s=60)
    assert source == f"original URL {entry.url}" and time.monotonic() - t0 < 6
