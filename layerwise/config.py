"""Configuration: schema validation at start-up, dataset roots and code hashes (SPEC §4.2, §13).

Imported by the Snakefile, so it must stay light: no torch here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jsonschema
import yaml

DEMO_ROOT = "resources/demo"


class ConfigError(ValueError):
    """A configuration that cannot run; the message names every offending key path."""


def _key_path(error: jsonschema.ValidationError, *extra: str) -> str:
    return ".".join([str(p) for p in error.absolute_path] + list(extra)) or "(top level)"


def _messages(error: jsonschema.ValidationError) -> list[str]:
    """One line per offending key, with its full dotted path and what is allowed."""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return [f"config key {_key_path(error, k)}: unknown key (allowed here: "
                f"{', '.join(allowed) or 'see the schema'})" for k in unknown]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [f"config key {_key_path(error, k)}: missing" for k in missing]
    if error.validator == "enum":
        return [f"config key {_key_path(error)}: {error.instance!r} is not one of "
                f"{error.validator_value}"]
    return [f"config key {_key_path(error)}: {error.message}"]


def validate_config(config: dict, schema_path) -> None:
    """Check `config` against the JSON schema; raise ConfigError listing every violation."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    errors = [leaf for e in errors for leaf in (_leaves(e))]
    if errors:
        lines = sorted({f"  {line}" for e in errors for line in _messages(e)})
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    _check_semantics(config)


def _leaves(error):
    """The most specific errors under allOf/if-then, which say which key is wrong."""
    if error.context:
        return [leaf for sub in error.context for leaf in _leaves(sub)]
    return [error]


def _check_semantics(config: dict) -> None:
    """Rules the schema cannot express: every network's snapshot must be a kept snapshot."""
    kept = {0, *config["pretrain"]["snapshots"]}
    for name, net in config["networks"].items():
        if net["snapshot"] not in kept:
            raise ConfigError(f"invalid configuration:\n  config key networks.{name}.snapshot: "
                              f"{net['snapshot']} is not 0 or one of pretrain.snapshots {sorted(kept)}")


def dataset_roots(config: dict) -> dict[str, str]:
    """The ImageNet-, VOCdevkit- and SUN397-style roots for this configuration."""
    data = config["data"]
    if data["source"] == "demo":
        return {"imagenet": f"{DEMO_ROOT}/ILSVRC", "voc": f"{DEMO_ROOT}/VOCdevkit",
                "sun": f"{DEMO_ROOT}/SUN397"}
    return {"imagenet": data["imagenet_root"], "voc": data["voc_root"], "sun": data["sun_root"]}


_LAYOUTS = {
    "imagenet_root": ("train", "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG"),
    "voc_root": ("VOC2007/Annotations", "the VOCdevkit folder, holding VOC2007/{JPEGImages,"
                 "Annotations,ImageSets/Main}"),
    "sun_root": ("", "<root>/<letter>/<scene>[/<subscene>]/*.jpg"),
}


def check_real_roots(config: dict) -> None:
    """Fail before any job when a real dataset root is missing or not laid out as expected."""
    if config["data"]["source"] != "real":
        return
    for key, (inside, layout) in _LAYOUTS.items():
        path = Path(config["data"][key])
        if not (path / inside).is_dir():
            raise ConfigError(f"config key data.{key}: {str(path)!r} is not a dataset root "
                              f"(missing {str(path / inside)!r}); expected {layout}")


def code_hash(*modules: str) -> str:
    """Hash of library modules (paths relative to the package, files or folders), passed as a
    rule param so that editing them re-runs the rule (SPEC §13). Only names relative to the
    package and contents count, so the hash is the same wherever the checkout lives."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for module in sorted(modules):
        path = package / module
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(package).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def iteration_label(iteration: int) -> str:
    """Column label of a pretraining snapshot, as Table 4.1 prints them (5000 -> 5K)."""
    return f"{iteration // 1000}K" if iteration >= 1000 and iteration % 1000 == 0 else str(iteration)
