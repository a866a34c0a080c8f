"""Subcommands of the ``videozoo`` CLI, one module each (see ``videozoo.cli``)."""
