"""Pipelines and MULTI/EXEC transactions while a primary is killed."""

from __future__ import annotations

from .kill import MasterKill


class PipelineFailover(MasterKill):
    name = "pipeline_failover"
    family = "pipelines"
    title = "Pipelines across a failover (SIGKILL)"
    what = ("Workers send non-transactional pipelines of 4 SETs over several slots (and GETs) "
            "while the primary of half of their keys is SIGKILLed. A pipeline that raises "
            "counts as an error; its SETs as 'may have run'.")
    ops = ("pipe", "get", "pipe", "set")


class TransactionFailover(MasterKill):
    name = "transaction_failover"
    family = "pipelines"
    title = "Transactions across a failover (SIGKILL)"
    what = ("Workers run MULTI/SET/INCR/EXEC on one slot of the victim (and plain SET/GET "
            "elsewhere) while that primary is SIGKILLed: EXEC is not idempotent, so a lost "
            "reply must be an OutcomeUnknownError, never a silent second run.")
    ops = ("multi", "get", "set", "multi")
