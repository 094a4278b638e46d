"""The class every command-family mixin extends: the hooks the client implements and the
reply-callback registry.

Hooks (see each docstring): ``execute_command``, ``_execute_on_node`` and ``_nodes_for_scan``.
Callbacks: ``response_callbacks`` (name -> ``callback(reply, **options)``, a fresh
:class:`~.callbacks.CallbackDict` of :data:`~.callbacks.DEFAULT_CALLBACKS` and
:data:`~.callbacks_admin.ADMIN_CALLBACKS`) parse one reply;
``result_callbacks`` replace a fan-out command's merge rule; ``_parse_reply`` and
``_merge_results`` apply them. One base for all families, so that every family module sees the
same ``self.execute_command`` and the client overrides each hook in one place.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from .callbacks import DEFAULT_CALLBACKS, Callback, CallbackDict
from .callbacks_admin import ADMIN_CALLBACKS
from .merge import merge_replies
from .specs import Merge

__all__ = ["CommandsBase"]


class CommandsBase:
    """The client hooks and callback registry under every command family (module docstring)."""

    response_callbacks: Dict[str, Callback]
    result_callbacks: Dict[str, Callback]

    # --- hooks the client implements -------------------------------------------------------------
    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Abstract: route and send one command, apply its callback, return the result."""
        raise NotImplementedError("the client class implements execute_command")

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        """Abstract: send one command to exactly ``node`` (no slot routing, no redirects) and
        return the raw reply (no callback); ``node`` is what ``_nodes_for_scan`` returns or
        what a caller passed as ``target_node``."""
        raise NotImplementedError("the client class implements _execute_on_node")

    def _nodes_for_scan(self) -> List[Any]:
        """Abstract: one node per shard (the primaries) for iterating the whole key space."""
        raise NotImplementedError("the client class implements _nodes_for_scan")

    # --- callbacks -------------------------------------------------------------------------------
    @staticmethod
    def _default_callbacks() -> Dict[str, Callback]:
        """A fresh, case-insensitive copy of :data:`DEFAULT_CALLBACKS` and the administration
        commands' :data:`~.callbacks_admin.ADMIN_CALLBACKS`."""
        return CallbackDict({**DEFAULT_CALLBACKS, **ADMIN_CALLBACKS})

    def _callbacks(self) -> Dict[str, Callback]:
        try:
            return self.response_callbacks
        except AttributeError:
            self.response_callbacks = self._default_callbacks()
            return self.response_callbacks

    def _merge_callbacks(self) -> Dict[str, Callback]:
        try:
            return self.result_callbacks
        except AttributeError:
            self.result_callbacks = CallbackDict()
            return self.result_callbacks

    def set_response_callback(self, command: str, callback: Callback) -> None:
        """Parse ``command``'s reply with ``callback(reply, **options)`` (redis-py)."""
        self._callbacks()[command.upper()] = callback

    def set_result_callback(self, command: str, callback: Callback) -> None:
        """Combine a fan-out command's per-node replies with ``callback(command, {node: reply},
        **options)`` instead of its merge rule (redis-py-cluster)."""
        self._merge_callbacks()[command.upper()] = callback

    def _parse_reply(self, name: str, reply: Any, **options: Any) -> Any:
        """Apply ``name``'s response callback (if any) to one raw reply."""
        callback = self._callbacks().get(name)
        return reply if callback is None else callback(reply, **options)

    def _merge_results(self, name: str, merge: Merge, replies: Mapping[Any, Any],
                       **options: Any) -> Any:
        """Combine parsed per-node replies: the user's result callback, else ``merge``.

        A reply that is an exception is raised first (except for ``Merge.ANY_OK``).
        """
        callback = self._merge_callbacks().get(name)
        if callback is None:
            return merge_replies(merge, replies)
        for reply in replies.values():
            if isinstance(reply, BaseException):
                raise reply
        return callback(name, dict(replies), **options)
