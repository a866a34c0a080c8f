"""Label names: shipped for every zoo dataset (no network), checked when downloaded."""
from __future__ import annotations

from importlib import resources

import pytest
from _servers import FileServer

import videozoo
from videozoo import _registry
from videozoo._pretrained import ZooEntry
from videozoo.data.labels import LabelMapError, builtin_label_names, label_names, read_label_map
from videozoo.zoo._common import DATASETS


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HF_HUB_OFFLINE", "VIDEOZOO_OFFLINE", "VIDEOZOO_MIRROR", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_every_zoo_dataset_ships_its_class_names_with_the_right_count(dataset):
    names = builtin_label_names(dataset)
    assert names is not None, f"no label map shipped for {dataset}"
    assert len(names) == DATASETS[dataset].num_classes
    assert len(set(names)) == len(names)  # no duplicate class
    assert all(n == n.strip() and n and not n.startswith("<") for n in names)


def test_label_maps_are_package_data_found_through_importlib_resources():
    folder = resources.files("videozoo.data").joinpath("label_maps")
    shipped = {p.name for p in folder.iterdir()}
    assert {f"{d}.txt" for d in DATASETS} <= shipped
    sources = folder.joinpath("SOURCES.md").read_text()
    for dataset in DATASETS:  # each file's origin is written down
        assert f"| {dataset} | {DATASETS[dataset].num_classes} |" in sources


def test_package_data_is_declared_for_wheel_and_sdist():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")

    pyproject = tomllib.loads((Path(videozoo.__file__).parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["videozoo.data"]
    assert "label_maps/*.txt" in patterns


def test_known_facts_of_the_lists():
    assert builtin_label_names("kinetics400")[0] == "abseiling"
    assert builtin_label_names("ucf101")[0] == "ApplyEyeMakeup"
    assert builtin_label_names("hmdb51")[0] == "brush_hair"
    assert builtin_label_names("nonexistent_dataset") is None
    assert builtin_label_names("../labels") is None


def test_zoo_entry_names_need_no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = next(e for e in videozoo.list_pretrained() if _registry.get_entry(e).dataset
                 == "kinetics400")
    names = label_names(entry)
    assert len(names) == 400 and names[0] == "abseiling"
    assert label_names(_registry.get_entry(entry)) == names


@pytest.fixture
def files():
    with FileServer() as server:
        yield server


def _user_entry(monkeypatch, url: str, num_classes: int) -> ZooEntry:
    e = ZooEntry(name="tsm_mobilenetv2_labels-test", arch="tsm_mobilenetv2", config="test",
                 mmaction_version="1.x", dataset="my_dataset", num_classes=num_classes,
                 label_map=url)
    monkeypatch.setitem(_registry._zoo_entries, e.name, e)
    return e


def test_user_dataset_label_map_is_downloaded_and_checked(files, monkeypatch, tmp_path):
    url = files.add("/maps/mine.txt", b"walk\nrun\njump\n")
    entry = _user_entry(monkeypatch, url, 3)
    assert label_names(entry.name, cache_dir=tmp_path / "c") == ["walk", "run", "jump"]
    assert len(files.gets("/maps/mine.txt")) == 1


def test_html_page_served_as_a_label_map_is_refused_and_not_kept(files, monkeypatch, tmp_path):
    url = files.add("/maps/mine.txt", b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n")
    entry = _user_entry(monkeypatch, url, 2)
    with pytest.raises(LabelMapError, match="HTML"):
        label_names(entry.name, cache_dir=tmp_path / "c")
    assert not list((tmp_path / "c").glob("*.txt"))  # nothing bad stays cached
    files.files["/maps/mine.txt"] = b"yes\nno\n"  # the server is fixed
    assert label_names(entry.name, cache_dir=tmp_path / "c") == ["yes", "no"]


def test_wrong_count_is_refused(files, monkeypatch, tmp_path):
    url = files.add("/maps/mine.txt", b"a\nb\nc\n")
    entry = _user_entry(monkeypatch, url, 5)
    with pytest.raises(LabelMapError, match="3 class names, expected 5"):
        label_names(entry.name, cache_dir=tmp_path / "c")


def test_a_bad_cached_label_map_is_replaced(files, monkeypatch, tmp_path):
    url = files.add("/maps/mine.txt", b"a\nb\n")
    entry = _user_entry(monkeypatch, url, 2)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "mine.txt").write_text("<html>cached error page</html>\n")
    assert label_names(entry.name, cache_dir=tmp_path / "c") == ["a", "b"]


@pytest.mark.parametrize("data, match", [
    (b"", "no class names"), (b"\n\n", "no class names"), (b"a\0b\n", "binary"),
    (b"\xff\xfe\xfa\n", "not UTF-8"), (b"<?xml version='1.0'?>\n<a/>", "HTML"),
])
def test_read_label_map_refuses_bad_files(tmp_path, data, match):
    path = tmp_path / "map.txt"
    path.write_bytes(data)
    with pytest.raises(LabelMapError, match=match):
        read_label_map(path)


def test_read_label_map_handles_bom_and_crlf(tmp_path):
    path = tmp_path / "map.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert read_label_map(path, 2) == ["one", "two"]


def test_label_names_of_a_non_name_is_a_type_error():
    with pytest.raises(TypeError, match="int"):
        label_names(123)
