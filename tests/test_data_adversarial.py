"""Bad and tricky inputs at every data entry point: each gives the right result or one clear
error, and nothing blocks.

Root causes covered: decord's open-GOP mis-seeks (frames numbered in the picture, so the frame
returned is checked, not just its shape), frame-folder gaps and short folders, FIFOs and devices
where files are expected, decoded / resized size without a cap, annotation lists (BOM, CRLF,
blank lines, malformed lines, labels out of range or missing, bad class counts).
"""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from videozoo.data import (
    VideoDataset,
    VideoDecodeError,
    make_views,
    open_video,
    read_annotations,
    resize_frames,
    resolve_data_config,
)
from videozoo.data.frame_index import probe_stream
from videozoo.data.synthetic import (
    numbered_frames,
    read_frame_number,
    write_frame_folder,
    write_video,
)

OPEN_GOP = {"x264-params": "open_gop=1:bframes=3:keyint=32:min-keyint=32:scenecut=0"}
CLOSED_GOP = {"x264-params": "bframes=3:b-adapt=0:keyint=32:min-keyint=32:scenecut=0"}
HEVC_OPEN_GOP = {"x265-params": "keyint=32:min-keyint=32:open-gop=1:bframes=4:scenecut=0:"
                                "log-level=error"}


@pytest.fixture(scope="module")
def numbered(tmp_path_factory):
    root = tmp_path_factory.mktemp("numbered")
    frames = numbered_frames(120, (96, 128))
    return {"open": write_video(root / "open_gop.mp4", frames, codec="libx264",
                                options=OPEN_GOP),
            "closed": write_video(root / "closed_gop.mp4", frames, codec="libx264",
                                  options=CLOSED_GOP),
            "hevc_open": write_video(root / "hevc_open_gop.mp4", frames, codec="libx265",
                                     options=HEVC_OPEN_GOP)}


def _numbers(frames):
    return [read_frame_number(f) for f in frames]


def test_numbered_frames_read_back():
    frames = numbered_frames(300, (64, 80))
    assert _numbers(frames) == list(range(300))


def test_probe_sees_open_gops(numbered):
    assert probe_stream(numbered["open"]).open_gop and probe_stream(numbered["hevc_open"]).open_gop
    closed = probe_stream(numbered["closed"])
    assert not closed.open_gop and len(closed) == 120
    assert closed.keyframes.tolist() == [0, 32, 64, 96]


@pytest.mark.parametrize("kind", ["open", "hevc_open"])
def test_decord_really_misreads_these_open_gop_files(numbered, kind):
    """The fixtures reproduce the failure: MMAction2's call returns other frames."""
    import decord

    asked = [30, 33, 40, 53, 63, 96]
    got = _numbers(decord.VideoReader(numbered[kind], num_threads=1).get_batch(asked)
                   .asnumpy())
    assert got != asked


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
@pytest.mark.parametrize("kind", ["open", "closed", "hevc_open"])
def test_default_decoders_return_the_frames_asked_for(numbered, decoder, kind):
    rng = np.random.default_rng(0)
    cases = [[30, 33, 40, 53, 63, 96], [119, 0, 64, 31, 32, 31], list(range(0, 120, 7)),
             list(range(120)), rng.integers(0, 120, 17).tolist()]
    with open_video(numbered[kind], decoder) as dec:
        assert len(dec) == 120
        for asked in cases:
            assert _numbers(dec.get_frames(asked)) == list(asked)


def test_mmaction2_compatible_is_decord_bit_for_bit(numbered):
    import decord

    asked = [30, 33, 40, 53, 63, 96]
    with open_video(numbered["open"], mmaction2_compatible=True) as dec:
        assert dec.backend == "decord"
        ours = dec.get_frames(asked)
    ref = decord.VideoReader(numbered["open"], num_threads=1).get_batch(asked).asnumpy()
    np.testing.assert_array_equal(ours, ref)
    with open_video(numbered["open"], "decord_mmaction2") as dec:  # the same, by name
        np.testing.assert_array_equal(dec.get_frames(asked), ref)


def test_exact_frames_have_decords_pixels(numbered):
    """Where decord is right (closed GOPs, sequential reads) the default path gives its pixels."""
    import decord

    for kind in ("closed", "open"):
        with open_video(numbered[kind]) as dec:
            assert dec.backend == "pyav"
            ours = dec.get_frames(range(120))
        ref = decord.VideoReader(numbered[kind], num_threads=1).get_batch(list(range(120)))
        np.testing.assert_array_equal(ours, ref.asnumpy())


def _returns_within(fn, seconds=10.0):
    """Run fn in a thread; (finished, exception)."""
    box = {}

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_fifo_as_video_is_refused_without_blocking(tmp_path, decoder):
    fifo = tmp_path / "video.mp4"
    os.mkfifo(fifo)
    done, err = _returns_within(lambda: open_video(fifo, decoder))
    assert done, "opening a FIFO blocked"
    assert isinstance(err, VideoDecodeError) and "FIFO" in str(err) and str(fifo) in str(err)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_as_frame_file_is_refused_without_blocking(tmp_path):
    folder = write_frame_folder(tmp_path / "clip", numbered_frames(3, (48, 64)))
    os.remove(os.path.join(folder, "img_00002.jpg"))
    os.mkfifo(os.path.join(folder, "img_00002.jpg"))
    dec = open_video(folder, "rawframes", total_frames=3)
    done, err = _returns_within(lambda: dec.get_frames([0, 1, 2]))
    assert done, "reading a FIFO frame blocked"
    assert isinstance(err, VideoDecodeError) and "img_00002.jpg" in str(err)
    assert "FIFO" in str(err)


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_devices_and_directories_are_not_videos(tmp_path, decoder):
    for path in (os.devnull, tmp_path):
        with pytest.raises(VideoDecodeError, match="not a regular file"):
            open_video(path, decoder)


def test_frame_folder_gap_names_the_first_missing_frame(tmp_path):
    folder = write_frame_folder(tmp_path / "gap", numbered_frames(6, (48, 64)))
    os.remove(os.path.join(folder, "img_00003.jpg"))
    with pytest.raises(VideoDecodeError, match="img_00003.jpg is missing"):
        open_video(folder, "rawframes")  # counted: a gap is an error, not 2 frames


def test_frame_count_beyond_the_folder_is_named(tmp_path):
    folder = write_frame_folder(tmp_path / "short", numbered_frames(4, (48, 64)))
    dec = open_video(folder, "rawframes", total_frames=9)
    assert len(dec) == 9  # as the list says; reading past the folder says what is wrong
    assert _numbers(dec.get_frames([3, 0])) == [3, 0]
    with pytest.raises(VideoDecodeError, match=r"img_00006.jpg.*list gives 9 frames.*holds 4"):
        dec.get_frames([5])


def test_decoded_size_is_capped(tmp_path, numbered, monkeypatch):
    folder = write_frame_folder(tmp_path / "f", numbered_frames(4, (48, 64)))
    monkeypatch.setenv("VIDEOZOO_MAX_FRAME_BYTES", str(3 * 48 * 64 * 3))
    with open_video(numbered["closed"]) as dec:  # 96x128: 36 KiB a frame
        with pytest.raises(VideoDecodeError, match="VIDEOZOO_MAX_FRAME_BYTES"):
            dec.get_frames([0])
    dec = open_video(folder, "rawframes", total_frames=4)
    assert dec.get_frames([0, 1, 2]).shape == (3, 48, 64, 3)
    with pytest.raises(VideoDecodeError, match="over the"):
        dec.get_frames([0, 1, 2, 3])
    monkeypatch.setenv("VIDEOZOO_MAX_FRAME_BYTES", "lots")
    with pytest.raises(ValueError, match="VIDEOZOO_MAX_FRAME_BYTES"):
        dec.get_frames([0])


def test_a_2000x2_video_is_refused_before_resizing_to_gigabytes(tmp_path):
    path = write_video(tmp_path / "thin.mp4", np.full((8, 2, 2000, 3), 100, np.uint8),
                       codec="libx264")
    assert os.path.getsize(path) < 20_000
    cfg = resolve_data_config("tsm_r50").replace(crop="center")
    with open_video(path) as dec:
        frames = dec.get_frames(range(8))
    with pytest.raises(ValueError, match="MiB limit"):
        make_views(frames, cfg)
    with pytest.raises(ValueError, match="MiB limit"):
        resize_frames(frames, (256, 256000))


def test_uint8_views_are_the_normalised_views_before_normalising(numbered):
    cfg = resolve_data_config("tsn_r50").replace(num_clips=3, resize=(-1, 80), crop_size=64)
    with open_video(numbered["closed"]) as dec:
        frames = dec.get_frames(range(0, 120, 40))
    raw = make_views(frames, cfg, normalize=False)
    views = make_views(frames, cfg)
    assert raw.dtype == torch.uint8 and raw.shape == views.shape == (1, 3, 30, 64, 64)
    mean = torch.tensor(cfg.mean).view(3, 1, 1, 1)
    std = torch.tensor(cfg.std).view(3, 1, 1, 1)
    torch.testing.assert_close(views[0], (raw[0].float() - mean) / std, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# annotation lists
# --------------------------------------------------------------------------------------------
def _list(tmp_path, data, name="list.txt"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_bom_crlf_and_blank_lines(tmp_path):
    path = _list(tmp_path, "\ufeffa.mp4 3\r\n\r\n  \r\nb.mp4 1\r\n\n")
    anns = read_annotations(path)
    assert [(a.path, a.labels, a.line) for a in anns] == [("a.mp4", (3,), 1), ("b.mp4", (1,), 4)]
    raw = read_annotations(_list(tmp_path, "\ufeffclip 16 2\r\n", "raw.txt"), rawframes=True)
    assert raw[0].total_frames == 16 and raw[0].labels == (2,)


@pytest.mark.parametrize("text, rawframes, message", [
    ("a.mp4 0\nb.mp4 x\n", False, r"list.txt:2: label 'x' is not an integer"),
    ("a.mp4 0\nb.mp4 -1\n", False, r"list.txt:2: label -1 is negative"),
    ("a.mp4 0\n\nb.mp4\n", False, r"list.txt:3: no label"),
    ("a.mp4 2.5\n", False, r"list.txt:1: label '2.5'"),
    ("clip\n", True, r"list.txt:1: no frame count"),
    ("clip 0 1\n", True, r"list.txt:1: frame count 0 is not positive"),
    ("clip -4 1\n", True, r"frame count -4"),
    ("clip many 1\n", True, r"frame count 'many' is not an integer"),
])
def test_malformed_lines_are_named(tmp_path, text, rawframes, message):
    with pytest.raises(ValueError, match=message):
        read_annotations(_list(tmp_path, text), rawframes=rawframes)


def test_labels_out_of_range_and_unlabelled_lists(tmp_path):
    path = _list(tmp_path, "a.mp4 0\nb.mp4 999\n")
    assert len(read_annotations(path)) == 2  # no class count: nothing to check against
    with pytest.raises(ValueError, match=r"list.txt:2: label 999 is outside \[0, 400\)"):
        read_annotations(path, num_classes=400)
    cfg = resolve_data_config("tsm_r50")
    with pytest.raises(ValueError, match="label 999"):
        VideoDataset(path, cfg, num_classes=400)
    assert VideoDataset(path, cfg, num_classes=1000).num_classes == 1000
    unlabelled = _list(tmp_path, "a.mp4\nb.mp4 1\n", "predict.txt")
    with pytest.raises(ValueError, match="predict.txt:1: no label"):
        VideoDataset(unlabelled, cfg)
    ds = VideoDataset(unlabelled, cfg, require_labels=False)
    assert [a.labels for a in ds.annotations] == [(), (1,)]


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True])
def test_num_classes_must_be_a_positive_int(tmp_path, bad):
    path = _list(tmp_path, "a.mp4 0\n")
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        VideoDataset(path, resolve_data_config("tsm_r50"), num_classes=bad)


def test_list_files_that_are_not_lists(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_annotations(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_annotations(_list(tmp_path, b"a.mp4 0\n\xff\xfe\x00junk\n"))
    with pytest.raises(ValueError, match="not a regular file"):
        read_annotations(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.txt"
        os.mkfifo(fifo)
        done, err = _returns_within(lambda: read_annotations(fifo))
        assert done and isinstance(err, ValueError) and "not a regular file" in str(err)
    with pytest.raises(ValueError, match="is empty"):
        VideoDataset(_list(tmp_path, "\n\n", "blank.txt"), resolve_data_config("tsm_r50"))


def _decode_in_child(path, queue):
    with open_video(path) as dec:
        queue.put(_numbers(dec.get_frames([5, 9])))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_decoding_after_fork_does_not_hang(numbered):
    """DataLoader workers fork after the parent decoded: no swscale/FFmpeg thread pool may be
    inherited half-alive (it once deadlocked here)."""
    import multiprocessing as mp

    with open_video(numbered["closed"]) as dec:
        dec.get_frames([1, 2])
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_decode_in_child, args=(numbered["closed"], queue))
    child.start()
    child.join(30)
    if child.is_alive():
        child.kill()
        pytest.fail("decoding in a forked child hung")
    assert child.exitcode == 0 and queue.get(timeout=5) == [5, 9]
