"""MMAction2 metric definitions, their edge cases, and the score store they are computed from."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import videozoo
from videozoo.evaluation import metrics
from videozoo.evaluation.scores import (
    ScoreRecord,
    ScoreStore,
    ScoreTable,
    labels_to_array,
    load_scores,
    save_scores,
)


def test_public_names():
    assert videozoo.metrics.top_k_accuracy is metrics.top_k_accuracy
    assert callable(videozoo.metrics.mean_class_accuracy)
    assert callable(videozoo.metrics.mean_average_precision)
    assert callable(videozoo.metrics.mmit_mean_average_precision)


def test_parity_fixture(parity_dir):
    """Every case of the MMAction2 golden file, both mAP flavours included."""
    cases = json.loads((parity_dir / "fixtures" / "metrics.json").read_text())["cases"]
    for c in cases:
        s, lab = np.asarray(c["scores"]), np.asarray(c["labels"])
        if c["type"] == "single_label":
            assert metrics.top_k_accuracy(s, lab, c["topk"]) == pytest.approx(
                c["top_k_accuracy"], abs=1e-12)
            assert metrics.mean_class_accuracy(s, lab) == pytest.approx(
                c["mean_class_accuracy"], abs=1e-12)
        else:
            assert metrics.mean_average_precision(s, lab) == pytest.approx(
                c["mean_average_precision"], abs=1e-12)
            assert metrics.mmit_mean_average_precision(s, lab) == pytest.approx(
                c["mmit_mean_average_precision"], abs=1e-12)


def test_top_k_basic_and_types():
    scores = np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5]])
    labels = [2, 0, 0]
    assert metrics.top_k_accuracy(scores, labels, (1, 2, 3)) == pytest.approx([1 / 3, 2 / 3, 1.0])
    # torch tensors and an int topk are accepted; k beyond K means "all classes"
    got = metrics.top_k_accuracy(torch.from_numpy(scores), torch.tensor(labels), 1)
    assert got == pytest.approx([1 / 3])
    assert metrics.top_k_accuracy(scores, labels, (10,)) == [1.0]
    assert all(isinstance(v, float) for v in metrics.top_k_accuracy(scores, labels, (1, 5)))


def test_top_k_ties_follow_numpy_argsort():
    # all scores equal: argsort keeps index order, so "top-1" is the last class (MMAction2 too)
    scores = np.zeros((2, 4))
    assert metrics.top_k_accuracy(scores, [3, 0], (1,)) == [0.5]
    assert metrics.top_k_accuracy(scores, [3, 0], (4,)) == [1.0]


def test_mean_class_accuracy_union_of_classes():
    # class 2 is predicted but never the label: it joins the mean with accuracy 0
    scores = np.eye(3)[[0, 0, 1, 2]]
    labels = [0, 1, 1, 1]
    # class 0: 1/1, class 1: 1/3, class 2: 0 (predicted only) -> mean over three classes
    assert metrics.mean_class_accuracy(scores, labels) == pytest.approx((1 + 1 / 3 + 0) / 3)
    # a class absent from both labels and predictions is not averaged
    scores5 = np.pad(scores, ((0, 0), (0, 2)), constant_values=-1)
    assert metrics.mean_class_accuracy(scores5, labels) == pytest.approx((1 + 1 / 3) / 3)


def test_average_precision_by_hand():
    # ranks: +, -, +, -  -> precisions at the positives 1 and 2/3
    assert metrics.average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(
        (1 + 2 / 3) / 2)
    # a tie is one threshold: both enter together, precision 1/2
    assert metrics.average_precision([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert math.isnan(metrics.average_precision([0.3, 0.2], [0, 0]))


def test_map_flavours_and_nan_classes():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.6]])
    multi_hot = np.array([[1, 0, 0], [1, 1, 0]])
    # per class: class 0 AP 1, class 1 AP 1, class 2 no positive (dropped)
    assert metrics.mean_average_precision(scores, multi_hot) == pytest.approx(1.0)
    # per sample: sample 0 AP 1; sample 1 ranks class1 (+), class2 (-), class0 (+)
    assert metrics.mmit_mean_average_precision(scores, multi_hot) == pytest.approx(
        (1 + (1 + 2 / 3) / 2) / 2)
    assert math.isnan(metrics.mean_average_precision(scores, np.zeros((2, 3))))


@pytest.mark.parametrize("fn", [metrics.top_k_accuracy, metrics.mean_class_accuracy])
def test_bad_shapes_raise(fn):
    with pytest.raises(ValueError, match="num_samples, num_classes"):
        fn(np.zeros(5), [0] * 5)
    with pytest.raises(ValueError, match="labels must be a vector"):
        fn(np.zeros((3, 4)), [0, 1])
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 4)), [])


def test_map_bad_labels_raise():
    with pytest.raises(ValueError, match="many-hot"):
        metrics.mean_average_precision(np.zeros((2, 3)), [0, 1])


# -- the score store ---------------------------------------------------------------------------
def _record(idx, k=4, fail=()):
    idx = np.asarray(idx)
    ok = np.array([i not in fail for i in idx])
    rng = np.random.default_rng(int(idx[0]))
    return ScoreRecord(index=idx, labels=labels_to_array([int(i) % k for i in idx]), ok=ok,
                       scores=rng.standard_normal((int(ok.sum()), k)).astype(np.float32),
                       errors=[f"broken {i}" for i in idx if i in fail])


def test_store_roundtrip_and_torn_tail(tmp_path):
    with ScoreStore(tmp_path, rank=0) as store:
        store.append(_record([0, 1, 2], fail=(1,)))
        store.append(_record([3, 4]))
    table = ScoreStore(tmp_path).load()
    assert table.index.tolist() == [0, 2, 3, 4]
    assert table.failures == {1: "broken 1"}
    assert table.done == {0, 1, 2, 3, 4}
    assert table.single_labels().tolist() == [0, 2, 3, 0]

    # a process killed mid-write leaves a torn record: it is ignored, then cut off on reopen
    log = tmp_path / "scores.rank0.log"
    good_size = log.stat().st_size
    payload = _record([5, 6]).to_bytes()
    with open(log, "ab") as f:
        f.write(b"VZSCORE1" + len(payload).to_bytes(8, "little") + b"\0\0\0\0" + payload[:50])
    assert ScoreStore(tmp_path).load().index.tolist() == [0, 2, 3, 4]
    with ScoreStore(tmp_path, rank=0) as store:
        assert log.stat().st_size == good_size
        store.append(_record([5, 6]))
    assert ScoreStore(tmp_path).load().index.tolist() == [0, 2, 3, 4, 5, 6]


def test_store_corrupt_checksum_stops_reading(tmp_path):
    with ScoreStore(tmp_path) as store:
        store.append(_record([0]))
        store.append(_record([1]))
    log = tmp_path / "scores.rank0.log"
    data = bytearray(log.read_bytes())
    data[-5] ^= 0xFF  # flip a byte inside the last payload
    log.write_bytes(bytes(data))
    assert ScoreStore(tmp_path).load().index.tolist() == [0]


def test_store_merges_ranks_and_manifest(tmp_path):
    with ScoreStore(tmp_path, rank=0) as s0, ScoreStore(tmp_path, rank=1) as s1:
        s0.check_manifest({"model": "a", "n": 3})
        s1.check_manifest({"model": "a", "n": 3}, write=False)
        s0.append(_record([0, 2]))
        s1.append(_record([1]))
    assert ScoreStore(tmp_path).load().index.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="different evaluation.*model"):
        ScoreStore(tmp_path).check_manifest({"model": "b", "n": 3})


def test_multi_label_rows_and_saved_dump(tmp_path):
    labels = labels_to_array([[1, 3], [0], [2, 0, 1]])
    assert labels.tolist() == [[1, 3, -1], [0, -1, -1], [2, 0, 1]]
    table = ScoreTable(np.arange(3), labels, np.zeros((3, 4), np.float32), {7: "bad"})
    assert table.is_multi_label
    assert table.multi_hot().tolist() == [[0, 1, 0, 1], [1, 0, 0, 0], [1, 1, 1, 0]]
    with pytest.raises(ValueError, match="multi-label"):
        table.single_labels()
    path = save_scores(tmp_path / "s.npz", table, names=["a", "b", "c"], average=None)
    back, info = load_scores(path)
    assert back.labels.tolist() == labels.tolist() and back.failures == {7: "bad"}
    assert info == {"names": ["a", "b", "c"], "average": "none", "multi_label": True}
