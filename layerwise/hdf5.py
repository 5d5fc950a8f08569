"""The compression of every compressed HDF5 file layerwise writes: activation dumps (SPEC §8)
and the ground-truth box patches (SPEC §4.3).

Blosc with LZ4 at level 1, from hdf5plugin, is the default, because the dump must keep pace with
the forward pass (SPEC §14) on cores the forward pass already fills. On the demo world's seven
activation layers (float16 after ReLU, 30-80% zeros) it compresses 5x faster than HDF5's own
lzf with byte shuffle (0.17 against 0.90 CPU-s for 84 MB) and decompresses 7x faster, for files
about as small (0.62 against 0.58 of the raw bytes). Byte shuffle would make the Blosc files
larger and slower (0.68 of raw, 0.24 CPU-s): LZ4 finds the zero runs in the unshuffled bytes.

HDF5 does not ship Blosc: a reader must `import hdf5plugin` (which `import layerwise` does)
before h5py opens these files, and command-line tools need HDF5_PLUGIN_PATH set to
`hdf5plugin.PLUGIN_PATH`. Compression `lzf` writes files any HDF5 reads.
"""

import hdf5plugin

COMPRESSIONS = {
    "blosc-lz4": dict(hdf5plugin.Blosc(cname="lz4", clevel=1, shuffle=hdf5plugin.Blosc.NOSHUFFLE)),
    "lzf": {"compression": "lzf", "shuffle": True},
    "gzip": {"compression": "gzip", "compression_opts": 1, "shuffle": True},
    "none": {},
}
DEFAULT = "blosc-lz4"


def filters(compression: str = DEFAULT) -> dict:
    """The `h5py.Group.create_dataset` keywords of a compression named in COMPRESSIONS."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression {compression!r}: expected one of {list(COMPRESSIONS)}")
    return COMPRESSIONS[compression]
