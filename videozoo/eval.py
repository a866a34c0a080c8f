"""``python -m videozoo.eval NAME --ann FILE ...``: the ``videozoo eval`` command as a module, so
that ``torchrun --nproc_per_node N -m videozoo.eval ...`` evaluates on N processes (see
:mod:`videozoo.commands.eval`)."""
import sys

from .commands.eval import main

if __name__ == "__main__":
    sys.exit(main())
