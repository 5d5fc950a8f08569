import matplotlib.pyplot as plt
import numpy as np
import pytest

from layerwise.figures import ALEXNET_COLOUR, FT_COLOUR, save_figure, set_style


def _figure():
    set_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], color=ALEXNET_COLOUR, label="alexnet")
    ax.plot([0, 1, 2], [2, 1, 0], color=FT_COLOUR, label="ft")
    ax.legend()
    return fig


def test_save_figure_writes_png_and_pdf_and_closes(tmp_path):
    fig = _figure()
    save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png"]  # no temporaries


def test_save_figure_is_byte_stable(tmp_path):
    save_figure(_figure(), tmp_path / "a.png")
    save_figure(_figure(), tmp_path / "b.png")
    for ext in ("png", "pdf"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()


def test_save_figure_rejects_other_suffix(tmp_path):
    with pytest.raises(ValueError, match="must end in .png"):
        save_figure(_figure(), tmp_path / "f.svg")


def test_filter_grid_tiles_filters_stretched_on_their_own():
    from layerwise.figures import filter_grid

    w = np.zeros((3, 3, 2, 2))
    w[0] = np.arange(12).reshape(3, 2, 2)  # 0..11 -> (v - 0) / 11
    w[1] = 5.0  # constant: mid grey, not a division by zero
    w[2, 0, 0, 0] = -2.0  # min -2, max 0
    grid = filter_grid(w)
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1, 3)  # 2 x 2 tiles of 2 px, 1 px gaps
    np.testing.assert_allclose(grid[1:3, 1:3], np.arange(12).reshape(3, 2, 2).transpose(1, 2, 0) / 11)
    np.testing.assert_allclose(grid[1:3, 4:6], 0.5)
    np.testing.assert_allclose(grid[4:6, 1:3, 0], [[0, 1], [1, 1]])
    np.testing.assert_allclose(grid[4:6, 4:6], 1.0)  # the empty fourth tile stays white
    assert (grid[0] == 1).all() and (grid[:, 3] == 1).all()
