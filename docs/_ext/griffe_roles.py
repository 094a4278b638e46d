"""A griffe extension for this site: Sphinx cross-reference roles in docstrings become code.

clustercore's docstrings use reStructuredText roles (``:class:`~.remap.Remapper```,
``:meth:`from_config```) that read well in the source and in ``help()``; rendered as Markdown
they would show the role name. This turns each into an inline code span of the name a reader
would see in Sphinx (the last part with ``~``, leading dots dropped), leaving the text unchanged
otherwise. Loaded by mkdocs.yml (``extensions:`` of the python handler); not part of the package.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const|ref):`(?P<target>[^`]+)`")


def _shown(match: re.Match[str]) -> str:
    target = match.group("target").strip()
    if "<" in target and target.endswith(">"):          # :ref:`text <label>`
        return f"`{target[:target.index('<')].strip()}`"
    short = target.startswith("~")
    target = target.lstrip("~").lstrip(".")
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def strip_roles(text: str) -> str:
    """The docstring text with every role replaced by a code span."""
    return _ROLE.sub(_shown, text)


class SphinxRolesToCode(griffe.Extension):
    """Rewrites every docstring as it is loaded (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
