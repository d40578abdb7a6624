"""netsec_layers.io."""
