"""``python -m compat.redispy_suite``: see ``compat.redispy_suite.runner``."""

import sys

from .runner import main

sys.exit(main())
