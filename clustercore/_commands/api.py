"""redis-py's command methods, composed into one mixin for the cluster client to inherit.

:class:`CommandsMixin` builds each command's arguments and calls ``self.execute_command(*args,
**options)``; it never routes, retries or touches a socket. The client applies the reply
callbacks (``self.response_callbacks``, name -> ``callback(reply, **options)``), keyed by the
command's table name (``"GET"``, ``"CLUSTER INFO"``: :func:`.specs.name_of`).
The options a method passes (``withscores=True``, ``get=True`` ...) are for the callback, never
sent to the server.

Fan-out commands: the client parses every node's reply with its response callback first, then
combines the parsed replies with :meth:`CommandsMixin._merge_results`, which applies a user's
result callback when one was set (redis-py-cluster's ``set_result_callback(command,
callback(command, {node_name: reply}))``) and the spec's :class:`~.specs.Merge`
otherwise. So ``ping()`` is True, ``dbsize()`` the sum over primaries, ``keys()`` one list,
``info()`` / ``config_get()`` / ``client_list()`` / ``lastsave()`` a dict per node name (as
redis-py-cluster returned them), ``scan()`` without ``target_node`` a dict per primary.

Return types follow redis-py 8 with RESP2 "legacy" shapes for both ``decode_responses`` False
(bytes) and True (str); RESP3-native shapes are accepted where that costs nothing. Cluster
commands follow redis-py-cluster 2.1.3: ``cluster_info()`` is a dict with numbers converted,
``cluster_nodes()`` a list of node dicts, ``cluster_slots()`` a dict keyed by slot range.

Multi-key commands: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH are split by slot by the client
(not atomic across slots). Every other multi-key command is atomic: its keys must share a slot
(use ``{hash tags}``), or the client raises ClusterCrossSlotError before sending anything --
unlike redis-py-cluster 2.1.3, there are no client-side emulations of RENAME, SMOVE, SINTER,
PFMERGE ... across slots.

Hooks the client implements (see each docstring): ``execute_command``, ``_execute_on_node``
and ``_nodes_for_scan``; its ``__init__`` should set ``self.response_callbacks =
self._default_callbacks()`` (created lazily otherwise).

The methods live in one mixin per command family, in this order: ``strings``, ``keyspace``,
``hashes``, ``lists``, ``sets``, ``zsets``, ``hyperloglog``, ``bitmaps``, ``geo``, ``streams``,
``scripting``, ``pubsub``, ``server`` and ``cluster``, each over :class:`~.base.CommandsBase`
(the hooks and the callback registry). No two families define the same method, so the order
only fixes the MRO. The reply callbacks are in :mod:`.callbacks`, the argument helpers the
families share in :mod:`.args`.
The Redis 8 families come last: ``arrays``, ``vectorsets`` (``vset()``), ``redis8`` (the
other Redis 8.x commands) and ``himport`` (HIMPORT and its fieldset registry); their table rows
are :mod:`.specs_redis8`, their callbacks :mod:`.callbacks_redis8`.
"""

from __future__ import annotations

from .arrays import ArrayCommands
from .bitmaps import BitmapCommands
from .cluster import ClusterCommands
from .geo import GeoCommands
from .hashes import HashCommands
from .himport import HImportCommands
from .hyperloglog import HyperLogLogCommands
from .keyspace import KeyspaceCommands
from .lists import ListCommands
from .pubsub import PubSubCommands
from .redis8 import Redis8Commands
from .scripting import ScriptingCommands
from .server import ServerCommands
from .sets import SetCommands
from .streams import StreamCommands
from .strings import StringCommands
from .vectorsets import VectorSetCommands
from .zsets import SortedSetCommands

__all__ = ["CommandsMixin"]


class CommandsMixin(
    StringCommands,
    KeyspaceCommands,
    HashCommands,
    ListCommands,
    SetCommands,
    SortedSetCommands,
    HyperLogLogCommands,
    BitmapCommands,
    GeoCommands,
    StreamCommands,
    ScriptingCommands,
    PubSubCommands,
    ServerCommands,
    ClusterCommands,
    ArrayCommands,
    VectorSetCommands,
    Redis8Commands,
    HImportCommands,
):
    """redis-py's command methods over ``execute_command`` (see the module docstring)."""

