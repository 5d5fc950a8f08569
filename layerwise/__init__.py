"""layerwise: layer-by-layer analysis of CNNs (Agrawal 2014)."""
