"""netsec_layers.crypto."""
