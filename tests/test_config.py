"""Configuration validation (layerwise/config.py with schemas/config.schema.yaml, SPEC §4.2, §15)
and the shipped configs."""

import copy
import importlib.util
import shutil

import pytest
import yaml
from snakemake.utils import update_config

from layerwise.config import ConfigError, check_real_roots, code_hash, dataset_roots, \
    validate_config


def load(repo, name):
    return yaml.safe_load((repo / name).read_text())


def layered(repo, overlay):
    """config.yaml with an overlay applied as `--configfile` does (Snakemake's own merge:
    nested dicts updated recursively, lists and scalars replaced)."""
    config = load(repo, "config.yaml")
    update_config(config, load(repo, overlay))
    return config


@pytest.fixture
def base(repo):
    return load(repo, "config.yaml")


# --- the shipped configs -------------------------------------------------------------------------

def test_default_config_is_valid(base, schema_path):
    validate_config(base, schema_path)
    assert base["data"]["source"] == "demo"
    assert base["data"]["demo"]["source_classes"] >= 100  # SPEC §4.1


@pytest.mark.parametrize("overlay", ["configs/smoke.yaml", "configs/paper.yaml"])
def test_layered_configs_are_valid(repo, schema_path, overlay):
    validate_config(layered(repo, overlay), schema_path)


def test_smoke_overlay_replaces_lists_and_keeps_the_rest(repo):
    smoke = layered(repo, "configs/smoke.yaml")
    assert smoke["pretrain"]["snapshots"] == [10, 20, 40]
    assert smoke["data"]["sun_split"] == [0.5, 0.1, 0.4]   # not in smoke.yaml: from config.yaml
    assert smoke["model"]["input_size"] == 64


def test_paper_placeholder_roots_fail_naming_the_key(repo, schema_path):
    paper = layered(repo, "configs/paper.yaml")
    with pytest.raises(ConfigError) as info:
        check_real_roots(paper)
    assert "data.imagenet_root" in str(info.value)
    assert paper["data"]["imagenet_root"] in str(info.value)  # and the path


# --- rejection: every error names the dotted key path ---------------------------------------------

def _set(path, value):
    def apply(config):
        *parents, last = path.split(".")
        node = config
        for p in parents:
            node = node[p]
        node[last] = value
    return apply


def _delete(path):
    def apply(config):
        *parents, last = path.split(".")
        node = config
        for p in parents:
            node = node[p]
        del node[last]
    return apply


REJECTED = {
    "wrong type, top level": (_set("threads", "abc"), ["config key threads:", "integer"]),
    "wrong type, nested": (_set("data.proposals.max_per_image", "many"),
                           ["config key data.proposals.max_per_image:"]),
    "wrong type, boolean": (_set("data.include_difficult", "no"),
                            ["config key data.include_difficult:"]),
    "unknown key, top level": (_set("bogus", 1), ["config key bogus: unknown", "pretrain"]),
    "unknown key, nested": (_set("data.proposals.extra", 1),
                            ["config key data.proposals.extra: unknown", "max_per_image"]),
    "unknown key, network": (_set("networks.ft.finetune.lr", 0.1),
                             ["config key networks.ft.finetune.lr: unknown", "iters"]),
    "missing key, top level": (_delete("model"), ["config key model: missing"]),
    "missing key, nested": (_delete("data.proposals.shards"),
                            ["config key data.proposals.shards: missing"]),
    "missing key, under allOf": (_delete("finetune.voc_det.fg_iou"),
                                 ["config key finetune.voc_det.fg_iou: missing"]),
    "negative snapshot": (_set("pretrain.snapshots", [-5, 10]), ["config key pretrain.snapshots.0:"]),
    "train spec, unknown layer": (_set("networks.ft.finetune.train", "from:pool5"),
                                  ["config key networks.ft.finetune.train:"]),
    "train spec, free text": (_set("networks.fcft.finetune.train", "top two"),
                              ["config key networks.fcft.finetune.train:"]),
    "enum names allowed values": (_set("device", "gpu"), ["config key device:", "auto", "cuda"]),
    "on_bad_file": (_set("data.on_bad_file", "ignore"), ["config key data.on_bad_file:", "skip"]),
    "pixel mean length": (_set("data.pixel_mean", [1, 2]), ["config key data.pixel_mean:"]),
    "split fraction zero": (_set("data.sun_split", [0.5, 0, 0.5]), ["config key data.sun_split.1:"]),
    "real without roots": (_set("data.source", "real"),
                           ["config key data.imagenet_root: missing", "data.voc_root: missing",
                            "data.sun_root: missing"]),
    "reserved network name": (_set("networks.pre-5", {"snapshot": 0}), ["config key networks:"]),
    "snapshot not kept": (_set("networks.alexnet.snapshot", 123),
                          ["config key networks.alexnet.snapshot:", "123"]),
}


@pytest.mark.parametrize("case", REJECTED)
def test_rejected_with_key_path(base, schema_path, case):
    mutate, expected = REJECTED[case]
    mutate(base)
    with pytest.raises(ConfigError) as info:
        validate_config(base, schema_path)
    for text in expected:
        assert text in str(info.value)


def test_every_violation_is_listed(base, schema_path):
    base["threads"] = "abc"
    base["model"]["arch"] = "vgg99"
    with pytest.raises(ConfigError) as info:
        validate_config(base, schema_path)
    assert "config key threads:" in str(info.value) and "config key model.arch:" in str(info.value)


@pytest.mark.parametrize("train", ["all", "fc", "from:conv1", "from:conv5", "from:fc6", "from:fc8"])
def test_valid_train_specs(base, schema_path, train):
    base["networks"]["ft"]["finetune"]["train"] = train
    validate_config(base, schema_path)


def test_network_on_initialisation_snapshot_is_valid(base, schema_path):
    base["networks"]["alexnet"]["snapshot"] = 0  # iter_0 always exists
    validate_config(base, schema_path)


def test_validation_does_not_modify_config(base, schema_path):
    before = copy.deepcopy(base)
    validate_config(base, schema_path)
    assert base == before


# --- dataset roots -------------------------------------------------------------------------------

def _real_roots(tmp_path):
    (tmp_path / "ILSVRC" / "train").mkdir(parents=True)
    (tmp_path / "VOCdevkit" / "VOC2007" / "Annotations").mkdir(parents=True)
    (tmp_path / "SUN 397").mkdir()
    return {"source": "real", "imagenet_root": str(tmp_path / "ILSVRC"),
            "voc_root": str(tmp_path / "VOCdevkit"), "sun_root": str(tmp_path / "SUN 397")}


def test_check_real_roots_accepts_laid_out_roots(base, tmp_path):
    base["data"].update(_real_roots(tmp_path))
    check_real_roots(base)
    assert dataset_roots(base) == {"imagenet": str(tmp_path / "ILSVRC"),
                                   "voc": str(tmp_path / "VOCdevkit"),
                                   "sun": str(tmp_path / "SUN 397")}


def test_check_real_roots_names_the_bad_root(base, tmp_path):
    base["data"].update(_real_roots(tmp_path))
    shutil.rmtree(tmp_path / "VOCdevkit" / "VOC2007")
    with pytest.raises(ConfigError) as info:
        check_real_roots(base)
    assert "data.voc_root" in str(info.value) and str(tmp_path / "VOCdevkit") in str(info.value)


def test_demo_source_needs_no_roots(base):
    check_real_roots(base)  # nothing to check: the workflow generates the world
    assert dataset_roots(base) == {"imagenet": "resources/demo/ILSVRC",
                                   "voc": "resources/demo/VOCdevkit",
                                   "sun": "resources/demo/SUN397"}


# --- code hashes (SPEC §13) ----------------------------------------------------------------------

def config_module_at(package):
    """layerwise/config.py imported from a copy of the package at `package`."""
    spec = importlib.util.spec_from_file_location(f"lwconfig_{abs(hash(str(package)))}",
                                                  package / "config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def two_checkouts(repo, tmp_path):
    """Two identical copies of the library in different places (one with a space in its path)."""
    copies = [tmp_path / "one" / "layerwise", tmp_path / "two words" / "layerwise"]
    for c in copies:
        shutil.copytree(repo / "layerwise", c, ignore=shutil.ignore_patterns("__pycache__"))
    return copies


def test_code_hash_names_modules_relative_to_the_package():
    single = code_hash("data/voc.py")
    assert single == code_hash("data/voc.py")
    assert len(single) == 16 and int(single, 16) >= 0
    assert code_hash("data/voc.py", "data/warp.py") == code_hash("data/warp.py", "data/voc.py")
    assert len({single, code_hash("data/warp.py"), code_hash("data/voc.py", "data/warp.py"),
                code_hash("data")}) == 4


def test_code_hash_is_the_same_wherever_the_checkout_lives(two_checkouts):
    one, two = (config_module_at(c) for c in two_checkouts)
    for modules in [("data/voc.py",), ("data",), ("data/demo_world.py", "data/primitives.py")]:
        assert one.code_hash(*modules) == two.code_hash(*modules) == code_hash(*modules)


def test_code_hash_follows_the_content_of_the_named_modules(two_checkouts):
    one, two = (config_module_at(c) for c in two_checkouts)
    voc = two_checkouts[1] / "data" / "voc.py"
    voc.write_text(voc.read_text() + "\n# an edit\n")
    assert one.code_hash("data/voc.py") != two.code_hash("data/voc.py")
    assert one.code_hash("data") != two.code_hash("data")       # a folder covers its modules
    assert one.code_hash("data/warp.py") == two.code_hash("data/warp.py")  # others unaffected
    before = two.code_hash("data")
    (two_checkouts[1] / "data" / "notes.txt").write_text("not code")
    assert two.code_hash("data") == before  # only .py files count
