"""The score log under damage: a corrupt record in the middle costs only its batch, records of
another evaluation are refused, a damaged manifest says how to start over."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from videozoo.evaluation.scores import (
    MAGIC,
    ScoreRecord,
    ScoreStore,
    ScoreTable,
    _read_records,
    labels_to_array,
    load_scores,
    save_scores,
)

MANIFEST = {"model": "a", "weights": "w1", "num_videos": 6}


def _record(idx, k=4):
    idx = np.asarray(idx)
    rng = np.random.default_rng(int(idx[0]))
    return ScoreRecord(index=idx, labels=labels_to_array([int(i) % k for i in idx]),
                       ok=np.ones(len(idx), bool),
                       scores=rng.standard_normal((len(idx), k)).astype(np.float32))


def _write(tmp_path, batches, manifest=MANIFEST, rank=0, k=4):
    store = ScoreStore(tmp_path, rank)
    store.check_manifest(manifest)
    with store:
        for b in batches:
            store.append(_record(b, k))
    return tmp_path / f"scores.rank{rank}.log"


def _offsets(log):
    data = log.read_bytes()
    out, pos = [], data.find(MAGIC)
    while pos >= 0:
        out.append(pos)
        pos = data.find(MAGIC, pos + 1)
    return out


@pytest.mark.parametrize("where", ["header", "payload", "length"])
def test_a_corrupt_record_keeps_every_valid_record_after_it(tmp_path, where):
    log = _write(tmp_path, [[0, 1], [2, 3], [4], [5]])
    second = _offsets(log)[1]
    data = bytearray(log.read_bytes())
    pos = {"header": second + 2, "payload": second + 40, "length": second + 12}[where]
    data[pos] ^= 0xFF
    log.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="skipped corrupt score records"):
        table = ScoreStore(tmp_path).load()
    assert table.index.tolist() == [0, 1, 4, 5]  # only the damaged batch is lost
    # reopening for a resumed run rewrites the log with the valid records only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = ScoreStore(tmp_path)
        store.check_manifest(MANIFEST)
        with store:
            store.append(_record([2, 3]))
        assert ScoreStore(tmp_path).load().index.tolist() == list(range(6))
        assert len(_read_records(log)[0]) == 4


def test_a_torn_tail_is_silent_and_a_corrupt_tail_warns(tmp_path):
    log = _write(tmp_path, [[0], [1]])
    payload = _record([2]).to_bytes()
    with open(log, "ab") as f:  # killed mid-write: the length runs past the end of the file
        f.write(MAGIC + len(payload).to_bytes(8, "little") + b"\0\0\0\0" + payload[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ScoreStore(tmp_path).load().index.tolist() == [0, 1]
    data = bytearray(_write(tmp_path / "b", [[0], [1]]).read_bytes())
    data[-3] ^= 0x01
    (tmp_path / "b" / "scores.rank0.log").write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupt"):
        assert ScoreStore(tmp_path / "b").load().index.tolist() == [0]


def test_records_of_another_evaluation_are_refused(tmp_path):
    _write(tmp_path, [[0, 1]])
    other = tmp_path / "other"
    _write(other, [[2, 3]], manifest={**MANIFEST, "model": "b"}, k=7)
    (other / "scores.rank0.log").rename(tmp_path / "scores.rank1.log")
    store = ScoreStore(tmp_path)
    with pytest.raises(ValueError, match="scores.rank1.log holds scores of another evaluation"):
        store.check_manifest(MANIFEST)
        store.load()
    with pytest.raises(ValueError, match="another evaluation"):
        load_scores(tmp_path)


def test_mixed_class_counts_are_an_error_not_a_crash():
    a = ScoreTable(np.arange(2), labels_to_array([0, 1]), np.zeros((2, 4), np.float32))
    b = ScoreTable(np.arange(2, 4), labels_to_array([0, 1]), np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError, match="different class counts"):
        ScoreTable.merge([a, b])


@pytest.mark.parametrize("content", ["", "   \n", '{"model": "a", "weig', "[1, 2]", "\xff\xfe"])
def test_a_damaged_manifest_says_how_to_start_over(tmp_path, content):
    _write(tmp_path, [[0]])
    path = tmp_path / "manifest.json"
    if content == "\xff\xfe":
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(content)
    with pytest.raises(ValueError, match="manifest.json .*(empty|damaged|cannot be read).*"
                                         "delete"):
        ScoreStore(tmp_path).check_manifest(MANIFEST)
    # deleting it writes it again, and the scores of the same evaluation are kept
    path.unlink()
    store = ScoreStore(tmp_path)
    store.check_manifest(MANIFEST)
    assert store.load().index.tolist() == [0]
    assert json.loads(path.read_text())["model"] == "a"


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_unreadable_score_files_are_value_errors(tmp_path, content):
    path = tmp_path / "scores.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable videozoo score file"):
        load_scores(path)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_scores(tmp_path / "single.npy")
    np.savez(tmp_path / "bad_shape.npz", scores=np.zeros(3), index=np.arange(3))
    with pytest.raises(ValueError, match="shape"):
        load_scores(tmp_path / "bad_shape.npz")


def test_a_saved_dump_still_round_trips(tmp_path):
    table = ScoreTable(np.arange(3), labels_to_array([0, 1, 2]),
                       np.arange(12, dtype=np.float32).reshape(3, 4), {5: "bad"})
    back, _ = load_scores(save_scores(tmp_path / "s.npz", table))
    np.testing.assert_array_equal(back.scores, table.scores)
    assert back.failures == {5: "bad"}
