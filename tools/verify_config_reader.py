"""Check videozoo's config reader against mmengine's ``Config.fromfile`` (not part of the tests).

Run with the MMAction2 1.2.0 reference environment, which has mmengine:

    PYTHONPATH=. /work/venv-mma12/bin/python tools/verify_config_reader.py [CONFIG_DIR ...]

Without arguments it reads every config of the installed mmaction's shipped ``.mim/configs``
(``recognition/`` and ``_base_``-using files). For each file it compares the two dicts and the
``pretty_text`` round trip (what a checkpoint's ``meta['cfg']`` holds), and prints a summary.
"""
from __future__ import annotations

import glob
import os
import sys


def _normalise(value):
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_normalise(v) for v in value)
    return value


def main(argv: list[str]) -> int:
    from mmengine.config import Config

    from videozoo._mmaction_config import ConfigError, load_config, parse_config_text

    if argv:
        files = [f for d in argv for f in glob.glob(os.path.join(d, "**", "*.py"), recursive=True)]
    else:
        import mmaction
        root = os.path.join(os.path.dirname(mmaction.__file__), ".mim", "configs", "recognition")
        files = sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))
    same = differ = refused = pretty_same = 0
    for f in files:
        try:
            ref = _normalise(Config.fromfile(f).to_dict())
        except Exception as e:  # mmengine itself cannot read it
            print(f"SKIP (mmengine: {type(e).__name__}) {f}")
            continue
        try:
            ours = _normalise(load_config(f))
        except ConfigError as e:
            refused += 1
            print(f"REFUSED {f}: {e}")
            continue
        if ours == ref:
            same += 1
        else:
            differ += 1
            keys = sorted(k for k in ref.keys() | ours.keys() if ref.get(k) != ours.get(k))
            print(f"DIFFER {f}: keys {keys}")
        pretty = Config.fromfile(f).pretty_text
        if _normalise(parse_config_text(pretty)) == ref:
            pretty_same += 1
        else:
            print(f"PRETTY-DIFFER {f}")
    print(f"{len(files)} files: {same} identical to mmengine, {differ} differ, {refused} refused; "
          f"pretty_text round trip identical for {pretty_same}")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
