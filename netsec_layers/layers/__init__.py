"""netsec_layers.layers."""
