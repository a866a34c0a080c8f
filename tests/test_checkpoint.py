"""Checkpoint reading (safe, strict, clear errors) and conversion to safetensors."""
from __future__ import annotations

import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import save_mmaction_checkpoint

import videozoo
from videozoo import _registry
from videozoo._checkpoint import (
    CheckpointError,
    load_state_dict_strict,
    read_checkpoint,
    to_model_state_dict,
)
from videozoo._convert import convert_checkpoint, safetensors_metadata, sha256_file
from videozoo._pretrained import ZooEntry
from videozoo._safe_pickle import Opaque, restricted_pickle, safe_torch_load

ARCH = "tsm_mobilenetv2"  # 2.3M parameters: small files, fast builds
SIDE_EFFECTS: list[str] = []


class RunsOnUnpickle:
    """A checkpoint's own class: plain pickle would import it and call ``__setstate__``."""

    def __init__(self) -> None:
        self.value = 1

    def __setstate__(self, state: dict) -> None:
        SIDE_EFFECTS.append("__setstate__ ran")
        self.__dict__.update(state)


class Malicious:
    """Pickles as ``os.system('touch <marker>')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvalOnUnpickle:
    def __reduce__(self):
        return (eval, ("__import__('tests_side_effect')",))


def small_state_dict() -> dict[str, torch.Tensor]:
    return {"backbone.conv.weight": torch.randn(4, 3, 3, 3),
            "backbone.bn.num_batches_tracked": torch.tensor(7),
            "cls_head.fc_cls.weight": torch.randn(5, 4), "cls_head.fc_cls.bias": torch.zeros(5)}


@pytest.fixture(autouse=True)
def _clean_side_effects():
    SIDE_EFFECTS.clear()
    yield


# -- safe reading --------------------------------------------------------------------------------
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_hostile_meta_loads_tensors_without_running_code(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    sd = small_state_dict()
    meta = {"config": RunsOnUnpickle(), "attack": Malicious(marker), "eval": EvalOnUnpickle(),
            "best": np.float64(0.7), "hist": np.arange(3), "shape": torch.Size([1, 2])}
    path = tmp_path / "ckpt.pth"
    torch.save({"meta": meta, "state_dict": sd}, path, _use_new_zipfile_serialization=zip_format)
    assert zipfile.is_zipfile(path) == zip_format
    with pytest.raises(pickle.UnpicklingError):  # what makes the restricted path necessary
        torch.load(path, weights_only=True)

    obj = safe_torch_load(path)
    assert not marker.exists()
    assert SIDE_EFFECTS == []
    assert "tests_side_effect" not in sys.modules
    for k, v in sd.items():
        assert torch.equal(obj["state_dict"][k], v)
    for key in ("config", "attack", "eval", "best", "hist"):
        assert isinstance(obj["meta"][key], Opaque), key
    assert "posix.system" in type(obj["meta"]["attack"]).__name__
    assert obj["meta"]["shape"] == torch.Size([1, 2])

    state, meta_out = read_checkpoint(path)
    assert sorted(state) == sorted(sd) and meta_out == {}


def test_legacy_header_records_are_restricted_too(tmp_path):
    """The legacy reader unpickles header records with ``pickle_module.load``: not plain pickle."""
    marker = tmp_path / "pwned"
    good = tmp_path / "good.pth"
    torch.save({"meta": {"v": RunsOnUnpickle()}, "state_dict": small_state_dict()}, good,
               _use_new_zipfile_serialization=False)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(pickle.dumps(Malicious(marker), protocol=2) + good.read_bytes())
    with pytest.raises(CheckpointError, match="bad.pth"):
        read_checkpoint(bad)
    assert not marker.exists()


def test_restricted_unpickler_never_sets_state_on_classes():
    # GLOBAL torch._tensor.Tensor; BUILD (None, {'videozoo_test_attr': 1}): plain pickle would
    # setattr on the torch.Tensor class itself.
    payload = (b"\x80\x02ctorch._tensor\nTensor\nN}X\x12\x00\x00\x00videozoo_test_attrK\x01s"
               b"\x86b.")
    assert restricted_pickle.loads(payload) is torch.Tensor
    assert not hasattr(torch.Tensor, "videozoo_test_attr")
    # an unknown callable becomes an inert placeholder, and so does calling through it
    obj = restricted_pickle.loads(pickle.dumps(Malicious(Path("/nonexistent/x")), protocol=4))
    assert isinstance(obj, Opaque)


def test_force_weights_only_env_is_respected(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    torch.save({"meta": {"best": np.float64(1.0)}, "state_dict": small_state_dict()}, path)
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(CheckpointError, match="TORCH_FORCE_WEIGHTS_ONLY_LOAD"):
        read_checkpoint(path)


def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "scripted.pth"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(CheckpointError, match="TorchScript"):
        read_checkpoint(path)


@pytest.mark.parametrize("layout", ["1x", "0x", "bare", "ddp"])
def test_mmaction_layouts(tmp_path, layout):
    sd = small_state_dict()
    path = save_mmaction_checkpoint(sd, tmp_path / "c.pth", layout=layout)
    state, _ = read_checkpoint(path)
    assert sorted(state) == sorted(sd)
    assert all(torch.equal(state[k], sd[k]) for k in sd)


def _damaged_files(tmp_path: Path) -> dict[str, Path]:
    good_zip = tmp_path / "good.pth"
    torch.save({"state_dict": small_state_dict()}, good_zip)
    good_legacy = tmp_path / "good_legacy.pth"
    torch.save({"state_dict": small_state_dict()}, good_legacy, _use_new_zipfile_serialization=False)
    from safetensors.torch import save_file

    good_st = tmp_path / "good.safetensors"
    save_file({"a": torch.randn(100)}, str(good_st))
    files = {
        "empty.pth": b"",
        "truncated_zip.pth": good_zip.read_bytes()[: good_zip.stat().st_size // 2],
        "truncated_legacy.pth": good_legacy.read_bytes()[: good_legacy.stat().st_size // 2],
        "truncated.safetensors": good_st.read_bytes()[:40],
        "page.pth": b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        "random.pth": bytes(np.random.RandomState(0).randint(0, 256, 4096, dtype=np.uint8)),
        "notes.safetensors": b"just some text, not tensors\n" * 10,
    }
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


def test_damaged_files_raise_checkpoint_error_naming_the_file(tmp_path):
    for name, path in _damaged_files(tmp_path).items():
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path)
        assert str(path) in str(info.value), (name, str(info.value))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        read_checkpoint(tmp_path / "nothere.pth")


def test_strict_load_tolerates_only_missing_bn_counters():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    del sd["1.num_batches_tracked"]
    load_state_dict_strict(model, sd)  # tolerated
    del sd["1.running_var"]
    sd["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(model, sd, "file.pth")
    msg = str(info.value)
    assert "1.running_var" in msg and "extra.weight" in msg and "file.pth" in msg


def test_own_keys_skip_the_mmaction_converter():
    """videozoo keys may start with ``backbone.`` too: a file holding exactly the model's keys
    (a converted file) must not go through the MMAction2 renaming."""

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))

        def convert_mmaction_state_dict(self, sd):
            raise RuntimeError("converter called")

    model = Model()
    own = {k: v for k, v in model.state_dict().items() if "num_batches" not in k}
    assert to_model_state_dict(model, own) is own
    with pytest.raises(RuntimeError, match="converter called"):
        to_model_state_dict(model, {"backbone.conv1.weight": torch.zeros(1)})


# -- conversion ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mmaction_ckpt(tmp_path_factory):
    """A tsm_mobilenetv2 checkpoint (5 classes) in MMAction2 0.x layout, numpy object in meta."""
    torch.manual_seed(0)
    model = videozoo.create_model(ARCH, num_classes=5).eval()
    path = tmp_path_factory.mktemp("ckpt") / "tsm_mobilenetv2_test_20240101-00000000.pth"
    torch.save({"meta": {"mmcv_version": "1.3.18", "best_score": np.float64(0.5)},
                "state_dict": model.export_mmaction_state_dict()}, path)
    return path


def _logits(model: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(1, 3, 2, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model.eval()(x)


def test_convert_checkpoint_roundtrip(tmp_path, mmaction_ckpt):
    dst = videozoo.convert_checkpoint(mmaction_ckpt, tmp_path / "out.safetensors", ARCH)
    meta = safetensors_metadata(dst)
    assert meta["arch"] == ARCH and meta["num_classes"] == "5"
    assert meta["source_file"] == mmaction_ckpt.name
    assert meta["source_sha256"] == sha256_file(mmaction_ckpt)
    assert "entry" not in meta

    state, _ = read_checkpoint(dst)
    reference = videozoo.create_model(ARCH, checkpoint_path=mmaction_ckpt)
    assert sorted(state) == sorted(reference.state_dict())  # videozoo keys, counters included
    assert any(k.endswith("num_batches_tracked") for k in state)
    converted = videozoo.create_model(ARCH, checkpoint_path=dst)
    assert converted.num_classes == 5
    assert torch.equal(_logits(converted), _logits(reference))
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed away


def test_convert_records_entry_and_finds_it_by_file_name(tmp_path, mmaction_ckpt, monkeypatch):
    entry = ZooEntry(name="tsm_mobilenetv2_convert_test", arch=ARCH, config="test",
                     mmaction_version="0.x", dataset="test", num_classes=5,
                     arch_kwargs={"shift_div": 8},
                     url=f"https://example.invalid/ckpt/{mmaction_ckpt.name}")
    monkeypatch.setitem(_registry._zoo_entries, entry.name, entry)
    dst = convert_checkpoint(mmaction_ckpt, tmp_path / "a.safetensors", entry.name)
    meta = safetensors_metadata(dst)
    assert meta["entry"] == entry.name and meta["arch"] == ARCH
    assert meta["mmaction_version"] == "0.x" and '"shift_div": 8' in meta["arch_kwargs"]
    # no arch given: the entry publishing this file name is found
    assert safetensors_metadata(convert_checkpoint(mmaction_ckpt, tmp_path / "b.safetensors"))[
        "entry"] == entry.name


def test_convert_refuses_a_checkpoint_of_another_architecture(tmp_path, mmaction_ckpt):
    with pytest.raises(CheckpointError, match="does not match"):
        convert_checkpoint(mmaction_ckpt, tmp_path / "x.safetensors", "tsn_r50")
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(ValueError, match="which architecture"):
        convert_checkpoint(mmaction_ckpt.parent / "renamed.pth", tmp_path / "y.safetensors")


def test_convert_cli(tmp_path, mmaction_ckpt, capsys):
    from videozoo.cli import main

    dst = tmp_path / "cli.safetensors"
    assert main(["convert", str(mmaction_ckpt), str(dst), "--arch", ARCH]) == 0
    out = capsys.readouterr().out
    assert str(dst) in out and ARCH in out and "5 classes" in out
    assert safetensors_metadata(dst)["source_sha256"] == sha256_file(mmaction_ckpt)

    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"<html>502 Bad Gateway</html>")
    assert main(["convert", str(broken), str(tmp_path / "b.safetensors"), "--arch", ARCH]) == 1
    assert "broken.pth" in capsys.readouterr().err


def test_converted_file_carries_a_tensor_digest_that_is_checked(tmp_path, mmaction_ckpt):
    from safetensors.torch import load_file, save_file

    from videozoo._integrity import CorruptFileError, tensors_sha256

    out = convert_checkpoint(mmaction_ckpt, tmp_path / "m.safetensors", "tsm_mobilenetv2")
    meta = safetensors_metadata(out)
    assert meta["tensors_sha256"] == tensors_sha256(load_file(str(out)))
    sd = load_file(str(out))
    key = next(k for k, v in sd.items() if v.is_floating_point() and v.numel() > 1)
    sd[key].view(-1)[0] += 1
    save_file(sd, str(out), metadata=meta)
    with pytest.raises(CorruptFileError, match="digest"):
        read_checkpoint(out)
