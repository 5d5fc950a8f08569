"""SUN-397-style scene scan and the seeded 50 / 10 / 40 split (layerwise/data/scenes.py,
thesis §1.2, SPEC §4.3)."""

import pandas as pd
import pytest

from layerwise.data import BadInput, demo_world
from layerwise.data.scenes import drop_unreadable, scan_scenes, stratified_split

# Per-class counts at 50 / 10 / 40, worked by hand. The rule: n_train = round(0.5 n),
# n_val = round(0.1 n), Python's round (ties to even), test takes the rest.
HAND_COUNTS = {
    1: (0, 0, 1),     # 0.5 -> 0
    2: (1, 0, 1),
    3: (2, 0, 1),     # 1.5 -> 2
    5: (2, 0, 3),     # 2.5 -> 2, 0.5 -> 0
    7: (4, 1, 2),     # 3.5 -> 4, 0.7 -> 1
    10: (5, 1, 4),
    11: (6, 1, 4),    # 5.5 -> 6, 1.1 -> 1
    20: (10, 2, 8),
    37: (18, 4, 15),  # 18.5 -> 18, 3.7 -> 4
}


def synthetic_scenes():
    rows = [(f"{chr(97 + k)}/s{k}/img{i:03d}.jpg", f"s{k}")
            for k, n in enumerate(HAND_COUNTS) for i in range(n)]
    return pd.DataFrame(rows, columns=["path", "scene"])


def test_scan_scenes_on_demo_world(tiny_world, tiny_demo_cfg):
    root = tiny_world / "SUN397"
    scenes = scan_scenes(root)
    assert scenes.columns.tolist() == ["path", "scene"]
    assert sorted(scenes["scene"].unique()) == sorted(s.split("/", 1)[1]
                                                      for s in demo_world.SUN_SCENES)
    assert "bakery/shop" in set(scenes["scene"]) and "beach" in set(scenes["scene"])
    assert (scenes["scene"].value_counts() == tiny_demo_cfg["sun_per_class"]).all()
    assert scenes["path"].tolist() == sorted(scenes["path"])
    for path, scene in scenes.itertuples(index=False):
        assert (root / path).is_file()
        assert path.split("/")[1:-1] == scene.split("/")  # the path below the letter


def test_scan_scenes_hand_made_tree(tmp_path):
    root = tmp_path / "SUN 397"  # a space in the path must not matter
    for rel in ["b/bakery/shop/1.jpg", "b/beach/2.JPG", "b/beach/notes.txt", "c/3.jpg",
                "a/abbey/x.jpeg", "a/abbey/y.png"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    got = scan_scenes(root)
    # c/3.jpg has no scene folder and .txt/.png are not SUN images: all three are left out.
    assert list(got.itertuples(index=False, name=None)) == [
        ("a/abbey/x.jpeg", "abbey"), ("b/bakery/shop/1.jpg", "bakery/shop"),
        ("b/beach/2.JPG", "beach")]


def test_scan_scenes_missing_or_empty_root(tmp_path):
    with pytest.raises(BadInput) as info:
        scan_scenes(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value) and "data.sun_root" in str(info.value)
    (tmp_path / "empty" / "a" / "abbey").mkdir(parents=True)
    with pytest.raises(BadInput, match="data.sun_root"):
        scan_scenes(tmp_path / "empty")


def test_split_counts_per_class_follow_rounding_rule():
    split = stratified_split(synthetic_scenes(), [0.5, 0.1, 0.4], seed=0)
    assert split.columns.tolist() == ["path", "scene", "split"]
    for k, (n, want) in enumerate(HAND_COUNTS.items()):
        got = split[split["scene"] == f"s{k}"]["split"].value_counts()
        assert tuple(int(got.get(s, 0)) for s in ("train", "val", "test")) == want, n


def test_split_assigns_every_image_once_sorted_by_path():
    scenes = synthetic_scenes()
    split = stratified_split(scenes.sample(frac=1, random_state=0), [0.5, 0.1, 0.4], seed=0)
    assert split["path"].tolist() == sorted(scenes["path"])
    assert set(split["split"]) == {"train", "val", "test"}
    merged = split.merge(scenes, on="path", suffixes=("", "_in"))
    assert len(merged) == len(scenes) and (merged["scene"] == merged["scene_in"]).all()


def test_split_is_seeded_and_deterministic():
    scenes = synthetic_scenes()
    a = stratified_split(scenes, [0.5, 0.1, 0.4], seed=0)
    b = stratified_split(scenes.copy(), [0.5, 0.1, 0.4], seed=0)
    c = stratified_split(scenes, [0.5, 0.1, 0.4], seed=1)
    pd.testing.assert_frame_equal(a, b)
    big = a["scene"] == "s8"  # 37 images: two seeds agreeing on all of them is ~impossible
    assert (a.loc[big, "split"] != c.loc[big, "split"]).any()
    # Fractions are normalised: 5 / 1 / 4 is the same split.
    pd.testing.assert_frame_equal(a, stratified_split(scenes, [5, 1, 4], seed=0))


def test_split_of_demo_world_is_stratified(tiny_world):
    split = stratified_split(scan_scenes(tiny_world / "SUN397"), [0.5, 0.1, 0.4], seed=0)
    counts = split.groupby("scene")["split"].value_counts().unstack(fill_value=0)
    assert len(counts) >= 10
    # 5 per class: round(2.5) = 2 train, round(0.5) = 0 val, 3 test.
    assert (counts["train"] == 2).all() and (counts["test"] == 3).all()
    assert "val" not in counts or (counts["val"] == 0).all()


def _corrupt_two(sun_root):
    images = sorted(sun_root.rglob("*.jpg"))
    truncated, empty = images[3], images[17]
    truncated.write_bytes(truncated.read_bytes()[:200])
    empty.write_bytes(b"")
    return truncated, empty


def test_drop_unreadable_raises_naming_file_and_key(sun_copy):
    truncated, _ = _corrupt_two(sun_copy)
    with pytest.raises(BadInput) as info:
        drop_unreadable(scan_scenes(sun_copy), sun_copy, "error")
    assert str(truncated) in str(info.value) and "data.sun_root" in str(info.value)


def test_drop_unreadable_skips_and_reports(sun_copy):
    scenes = scan_scenes(sun_copy)
    truncated, empty = _corrupt_two(sun_copy)
    kept, skipped = drop_unreadable(scenes, sun_copy, "skip")
    bad = {truncated.relative_to(sun_copy).as_posix(), empty.relative_to(sun_copy).as_posix()}
    assert set(kept["path"]) == set(scenes["path"]) - bad
    assert len(skipped) == 2
    assert str(truncated) in skipped[0] and str(empty) in skipped[1]
    assert all("data.sun_root" in s for s in skipped)


def test_drop_unreadable_keeps_everything_when_all_readable(tiny_world):
    root = tiny_world / "SUN397"
    scenes = scan_scenes(root)
    kept, skipped = drop_unreadable(scenes, root, "error")
    assert skipped == [] and kept.equals(scenes)
