"""netsec_layers.keys."""
