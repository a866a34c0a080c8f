"""evaluate's options and checks: bad settings fail before any video is read, NaN scores are
failures (not wrong answers), a fine-tuned model is not compared with its starting table, and
results name the videozoo version. View averaging lives in one module."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import videozoo
from videozoo.data import resolve_data_config
from videozoo.data.synthetic import make_synthetic_dataset
from videozoo.evaluation import EvalOptions, average_views, video_probabilities
from videozoo.evaluation.options import check_data_config
from videozoo.evaluation.result import comparable_entry
from videozoo.evaluation.views import average_view_features

REPO = Path(__file__).resolve().parents[1]
K400 = "tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb"


def tiny_config(**changes):
    cfg = resolve_data_config("tsm_mobilenetv2").replace(
        num_clips=4, num_segments=4, resize=(-1, 32), crop="center", crop_size=32)
    return cfg.replace(**changes)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("opt_synth"), num_videos=4,
                                  num_classes=3, frames=(8, 12), size=(32, 40), seed=3)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return videozoo.create_model("tsm_mobilenetv2", num_classes=3).eval()


def _dataset(synth, cfg=None):
    return videozoo.VideoDataset(synth.ann_file, cfg or tiny_config(), root=synth.root)


@pytest.mark.parametrize("kwargs,match", [
    ({"batch_size": -1}, "batch_size"), ({"batch_size": 0}, "batch_size"),
    ({"limit": 0}, "limit"), ({"num_workers": -1}, "num_workers"),
    ({"topk": (0,)}, "topk"), ({"average": "max"}, "average"),
])
def test_bad_options_raise_before_any_work(model, synth, kwargs, match):
    with pytest.raises(ValueError, match=match):
        videozoo.evaluate(model, _dataset(synth), **kwargs)


def test_unknown_option_and_out_dir_on_a_file(model, synth, tmp_path):
    with pytest.raises(TypeError, match="batchsize"):
        videozoo.evaluate(model, _dataset(synth), batchsize=2)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        videozoo.evaluate(model, _dataset(synth), out_dir=tmp_path / "f")


def test_options_object_equals_keywords(model, synth):
    a = videozoo.evaluate(model, _dataset(synth), options=EvalOptions(batch_size=2,
                                                                      num_workers=0))
    b = videozoo.evaluate(model, _dataset(synth), batch_size=2, num_workers=0)
    np.testing.assert_array_equal(a.table.scores, b.table.scores)


@pytest.mark.parametrize("changes,match", [
    ({"num_clips": 0}, "num_clips"), ({"clip_len": -1}, "clip_len"),
    ({"crop_size": 0}, "crop_size"), ({"crop": "round"}, "crop"),
    ({"resize": (0, 0)}, "resize"),
    ({"num_segments": 0}, "num_segments"), ({"frame_interval": 0}, "frame_interval"),
    ({"std": (0.0, 1.0, 1.0)}, "std"),
])
def test_a_config_that_cannot_work_is_an_error_not_failed_videos(model, synth, changes, match):
    with pytest.raises(ValueError, match=match):
        check_data_config(tiny_config(**changes))
    with pytest.raises(ValueError, match=match):
        videozoo.evaluate(model, _dataset(synth), tiny_config(**changes), num_workers=0)
    with pytest.raises(ValueError, match=match):  # the dataset's own config: the same check
        videozoo.evaluate(model, _dataset(synth, tiny_config(**changes)), num_workers=0)


def test_an_unknown_decoder_is_refused(model, synth):
    bad = tiny_config(decoder="nope")
    with pytest.raises(ValueError, match="unknown decoder"):
        check_data_config(bad)
    with pytest.raises(ValueError, match="decoder"):
        videozoo.evaluate(model, _dataset(synth, bad), num_workers=0)


def test_valid_configs_pass():
    for cfg in (tiny_config(), tiny_config(resize=(340, 256)), tiny_config(resize=None),
                tiny_config(crop="none", crop_size=0), tiny_config(resize=0.5)):
        check_data_config(cfg)
    for name in ("tsn_r50", "tpn_slowonly_r50", "tsm_r50"):
        check_data_config(resolve_data_config(name))


def test_non_finite_scores_are_failures(synth):
    nan_model = videozoo.create_model("tsm_mobilenetv2", num_classes=3).eval()
    with torch.no_grad():
        nan_model.get_classifier().bias.fill_(float("nan"))
    result = videozoo.evaluate(nan_model, _dataset(synth), num_workers=0, batch_size=2)
    assert result.num_scored == 0 and result.num_failed == 4
    assert "non-finite" in result.failures[0]["error"]
    assert result.metrics == {}


def test_results_carry_the_version(model, synth, tmp_path):
    result = videozoo.evaluate(model, _dataset(synth), num_workers=0, out_dir=tmp_path / "o")
    assert result.videozoo_version == videozoo.__version__
    saved = json.loads((tmp_path / "o" / "results.json").read_text())
    assert saved["videozoo_version"] == saved["environment"]["videozoo"] == videozoo.__version__


def test_a_fine_tuned_model_is_not_compared_with_its_starting_table():
    entry = videozoo._registry.get_entry(K400)
    if entry is None:
        pytest.skip("zoo entry not registered")
    same = videozoo.create_model(K400)
    assert comparable_entry(entry, same) is entry
    tuned = videozoo.create_model(K400, num_classes=3)  # a reset head
    assert comparable_entry(entry, tuned) is None
    no_dataset = videozoo.create_model(K400)
    no_dataset.pretrained_cfg = {k: v for k, v in no_dataset.pretrained_cfg.items()
                                 if k not in ("dataset", "metrics")}
    assert comparable_entry(entry, no_dataset) is None
    assert comparable_entry(None, same) is None


def test_evaluate_reports_the_table_only_for_the_entrys_own_model(synth):
    entry = videozoo._registry.get_entry(K400)
    if entry is None:
        pytest.skip("zoo entry not registered")
    cfg = tiny_config()
    own = videozoo.create_model(K400)
    tuned = videozoo.create_model(K400, num_classes=3)
    ds = videozoo.VideoDataset(synth.ann_file, cfg, root=synth.root)
    kw = dict(num_workers=0, batch_size=4, topk=(1, 2))
    cfg = cfg.replace(protocol=entry.protocol().name)
    fine_tuned = videozoo.evaluate(tuned, ds, cfg, **kw)
    assert fine_tuned.reported == {} and fine_tuned.expected_videos is None
    assert "the table's test set: unknown" in fine_tuned.summary()
    got = videozoo.evaluate(own, ds, cfg, **kw)
    assert got.reported and got.expected_videos == 19796


def test_view_averaging_is_written_once():
    """views.py is the only module that averages views (no softmax/mean over views elsewhere in
    the evaluation package, the commands or the examples)."""
    pattern = re.compile(r"softmax\(.*\)\.mean\(|\.mean\((0|1|dim=1)\)\.softmax|reshape\(.*-1\)"
                         r"\.mean\(1\)")
    files = list((REPO / "videozoo" / "evaluation").glob("*.py")) + \
        list((REPO / "videozoo" / "commands").glob("*.py")) + list((REPO / "examples").glob("*.py"))
    offenders = [f.name for f in files if f.name != "views.py" and pattern.search(f.read_text())]
    assert offenders == []
    logits = torch.randn(6, 5)
    probs = video_probabilities(logits, 2, "prob")
    torch.testing.assert_close(probs, average_views(logits, 2, "prob"))
    torch.testing.assert_close(video_probabilities(logits, 2, "score"),
                               average_views(logits, 2, "score").double().softmax(-1).float())
    torch.testing.assert_close(average_view_features(logits, 3),
                               logits.reshape(3, 2, 5).mean(1))
    with pytest.raises(ValueError, match="do not split"):
        average_views(logits, 4, "prob")
