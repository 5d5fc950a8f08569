"""The data stage (SPEC §4): the demo world, dataset indices and derived caches."""


class BadInput(ValueError):
    """A dataset file that cannot be used; the message names the file and the config key."""


def bad_input(path, problem: str, key: str) -> BadInput:
    return BadInput(f"{path}: {problem} (dataset root from config key {key})")
