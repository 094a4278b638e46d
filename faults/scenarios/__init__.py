"""The scenario families, one module each (see faults.registry for the order they run in)."""
