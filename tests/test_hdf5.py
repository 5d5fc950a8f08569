"""layerwise.hdf5: every compression round-trips, and Blosc files need the plugin (README)."""

import os
import subprocess
import sys

import h5py
import hdf5plugin
import numpy as np
import pytest

from layerwise import hdf5


def relu_like(shape, seed=0):
    """float16 activations after ReLU and a bias: 84% zeros, as in fc7 of the demo dumps."""
    values = np.random.default_rng(seed).normal(size=shape).astype(np.float16)
    return np.maximum(values - 1, 0)


def write(path, data, compression):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=data, chunks=(64,) + data.shape[1:],
                         **hdf5.filters(compression))


@pytest.mark.parametrize("compression", list(hdf5.COMPRESSIONS))
def test_every_compression_round_trips(tmp_path, compression):
    data = relu_like((256, 8, 6, 6))
    path = tmp_path / "x.h5"
    write(path, data, compression)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["x"][:], data)
        stored = f["x"].id.get_storage_size()
    # The zeros compress: every codec but "none" stores less than the raw bytes.
    assert (stored < 0.8 * data.nbytes) == (compression != "none")


def test_unknown_compression_names_itself():
    with pytest.raises(ValueError, match="'zstd'.*blosc-lz4"):
        hdf5.filters("zstd")


def test_blosc_files_need_the_plugin(tmp_path):
    path = tmp_path / "x.h5"
    write(path, relu_like((256, 8, 6, 6)), "blosc-lz4")
    read = [sys.executable, "-c", "import h5py, sys; h5py.File(sys.argv[1])['x'][:]", str(path)]
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    assert subprocess.run(read, env=env, capture_output=True).returncode != 0
    env["HDF5_PLUGIN_PATH"] = hdf5plugin.PLUGIN_PATH
    subprocess.run(read, env=env, check=True, capture_output=True)
