"""Who owns which slot: the frozen Topology, reply parsing, view merging, discovery, refresh."""
