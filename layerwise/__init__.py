"""layerwise: layer-by-layer analysis of CNNs (Agrawal 2014)."""

# Feature and patch files are Blosc-compressed (layerwise.hdf5). Importing hdf5plugin registers
# that filter with HDF5, so every process that imports layerwise can read them.
import hdf5plugin  # noqa: F401
