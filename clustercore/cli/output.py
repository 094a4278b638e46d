"""Where the commands print: a rich console per stream."""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["console"]


def console(stderr: bool = False) -> Console:
    """A rich console; on a pipe or file it is wide and colourless, so output stays greppable."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return Console(file=stream, width=None if terminal else 200, soft_wrap=not terminal,
                   no_color=not terminal or "NO_COLOR" in os.environ, highlight=False)
