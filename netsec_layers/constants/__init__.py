"""netsec_layers.constants."""
