"""``python -m clustercore`` and the ``clustercore`` console script.

The command line lives in :mod:`clustercore.cli` and needs the ``cli`` extra (click, rich); the
core needs nothing beyond the standard library. Without the extra this prints one line saying
how to install it and exits 2, instead of an ImportError traceback.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

MISSING_EXTRA = ("clustercore: the command line needs its extra: "
                 "pip install clustercore[cli] ({name} is not installed)")


def main() -> int:
    """Run the command line, or explain what to install (exit 2)."""
    for name in ("click", "rich"):
        try:
            __import__(name)
        except ImportError:
            print(MISSING_EXTRA.format(name=name), file=sys.stderr)
            return 2
    from clustercore.cli.app import cli

    result: object = cli.main(prog_name="clustercore")
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
