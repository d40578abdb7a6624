"""netsec_layers.layers.tls."""
