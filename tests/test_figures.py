import matplotlib.pyplot as plt
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
