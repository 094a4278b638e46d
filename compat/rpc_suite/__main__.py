"""``python -m compat.rpc_suite``: see :mod:`compat.rpc_suite.runner`."""

import sys

from .runner import main

sys.exit(main())
