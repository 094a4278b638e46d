"""Every scenario, in the order a run goes through them; ``SHORT`` is the CI subset."""

from __future__ import annotations

from typing import Dict, List

from .runner import Scenario
from .scenarios.clientkill import ClientKill
from .scenarios.failover import ManualFailover
from .scenarios.freeze import FreezeDefault, FreezeShort
from .scenarios.kill import MasterKill, TLSMasterKill
from .scenarios.partition import Partition
from .scenarios.pipelines import PipelineFailover, TransactionFailover
from .scenarios.pool import PoolExhaustion, PoolExhaustionFailover
from .scenarios.pubsub import PubSubFailover
from .scenarios.replicas import ReplicaRestart
from .scenarios.resharding import ManySlots, SlowMigration
from .scenarios.seeds import BadSeeds
from .scenarios.slow import SlowNode, SlowNodeLong

ALL: List[Scenario] = [
    MasterKill(), FreezeDefault(), FreezeShort(), ManualFailover(), SlowMigration(),
    ManySlots(), ReplicaRestart(), SlowNode(), SlowNodeLong(),
    ClientKill(), BadSeeds(), PoolExhaustion(),
    PoolExhaustionFailover(), PipelineFailover(), TransactionFailover(), PubSubFailover(),
    TLSMasterKill(), Partition(),
]

BY_NAME: Dict[str, Scenario] = {s.name: s for s in ALL}

#: The CI profile's scenarios (tests/integration/test_fault_suite_real.py).
SHORT = ["master_kill", "freeze_short", "client_kill", "pipeline_failover", "partition"]
