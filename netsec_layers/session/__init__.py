"""netsec_layers.session."""
