"""Carrying commands out: router decisions, the executor, client, pipeline, pub/sub, scripts."""
