"""Every rule that runs something has a `log:` and a `benchmark:` (SPEC §2; issue 7).

`snakemake --lint` (`make lint`) checks the logs but not the benchmarks, hence this test.
"""

import re

from conftest import REPO

RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)
ACTION = re.compile(r"^    (script|shell|run|notebook|wrapper):", re.MULTILINE)


def rules_missing(directive, text):
    """Names of the rules in `text` that have an action but not `directive`."""
    return [name for name, body in RULE.findall(text)
            if ACTION.search(body) and not re.search(rf"^    {directive}:", body, re.MULTILINE)]


def test_the_check_finds_a_missing_benchmark():
    text = ('rule a:\n    log:\n        "a.log"\n    script:\n        "a.py"\n\n\n'
            'rule b:\n    log:\n        "b.log"\n    benchmark:\n        "b.tsv"\n'
            '    script:\n        "b.py"\n\n\nrule all:\n    input:\n        "x",\n')
    assert rules_missing("benchmark", text) == ["a"]
    assert rules_missing("log", text) == []


def test_every_rule_with_an_action_has_a_log_and_a_benchmark():
    missing = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        assert RULE.search(text) or path.name in ("Snakefile", "common.smk"), path
        for directive in ("log", "benchmark"):
            for name in rules_missing(directive, text):
                missing.setdefault(directive, []).append(f"{path.name}: {name}")
    assert not missing
