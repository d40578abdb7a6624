"""netsec_layers.cli."""
