"""FakeCluster: an in-process cluster speaking real RESP through FakeNetwork."""
