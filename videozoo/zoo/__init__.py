"""The MMAction2 zoo tables as registry entries: one :class:`~videozoo._pretrained.ZooEntry` per
published checkpoint, one family file each (``tsn.py``, ``tsm.py``, ``tpn.py``).

Naming scheme (names are stable: they never change once published)
-------------------------------------------------------------------
* An entry's canonical name is the MMAction2 config name its table row shows, without ``.py``:
  ``tsm_r50_1x1x8_100e_kinetics400_rgb`` (0.x),
  ``tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb`` (1.x, whose table shows only
  the sampling strategy, so the linked config file names the row).
* When one config produced several checkpoints (the same config trained on differently resized
  data), each gets a tag after a dot, from the table's resolution column: ``.340x256`` (frames
  resized to 340x256), ``.256p`` / ``.320p`` (short side 256 / 320), e.g.
  ``tsm_r50_1x1x8_50e_kinetics400_rgb.320p``. The bare config name is an alias of the row the
  table lists first (the ``.340x256`` one), so ``create_model("tsm_r50_1x1x8_50e_kinetics400_rgb")``
  works.
* Aliases also include the checkpoint file's stem (``tsm_r50_1x1x8_50e_kinetics400_rgb_20200607-
  af7fb746``), its stem without date and hash when no other checkpoint shares it
  (``tsm_r50_256p_1x1x8_50e_kinetics400_rgb``), the config that produced the checkpoint when
  the row's label differs from it, and the Kinetics-400 data-benchmark config names of the rows
  that link a main-table checkpoint (``tsn_r50_multiscalecrop_340x256_1x1x3_100e_kinetics400_rgb``).
* Every name is a valid Hugging Face repository name; the weights live at
  ``{VIDEOZOO_HUB_ORG or 'videozoo'}/{name}``.

Rows without a checkpoint link are :class:`~videozoo._pretrained.ReportedResult` s of the
entries they concern: the two-stream fusion rows (kind ``'fusion'``, on the RGB and the flow
entry), the data benchmark's extra test protocols (kind ``'weights'``, protocol ``'25x3'`` /
``'25x10'``), the rows and values only the other TSM table revision ``002_...`` has (kind
``'revision'``), the authors' reference-code numbers (``'reference'``) and the MixUp/CutMix
changes (``'delta'``).

Test protocols are named ``'<clips>x<crops>'`` (a TSN clip is one frame, a TSM clip is
``num_segments`` frames, a 3D clip is ``clip_len`` frames), or ``'efficient'`` / ``'accurate'``
for the Something-Something and Jester TSM rows.
"""
from __future__ import annotations

from .._pretrained import ZooEntry
from .._registry import register_pretrained
from . import tpn, tpn_1x, tsm, tsn, tsn_1x

ENTRIES: tuple[ZooEntry, ...] = (tsn.ENTRIES + tsm.ENTRIES + tpn.ENTRIES + tsn_1x.ENTRIES
                                  + tpn_1x.ENTRIES)

for _entry in ENTRIES:
    register_pretrained(_entry)
del _entry
