"""Public path of the cluster pipeline (``clustercore.pipeline.ClusterPipeline``, as documented
since the first release); the implementation lives in ``clustercore._execution.pipeline``."""

from __future__ import annotations

from ._execution.pipeline import ClusterPipeline, ConcurrentPipelineError

__all__ = ["ClusterPipeline", "ConcurrentPipelineError"]
