"""The reliability drill (SPEC §15): crashes, bad inputs, unsafe checkpoints and odd paths, each
run end to end through the workflow on configs/smoke.yaml in a scratch folder.

    .venv/bin/python drill/run.py [--scratch /tmp/layerwise-drill] [--seed 0] [--out FILE]

(`make drill`). Prints one row per case: case, expected, observed, PASS/FAIL; exits 1 if any
case fails. The user's results/ is never touched.

1. kill -9 (the whole Snakemake process group) a pretraining segment, a fine-tuning job and a
   feature dump at a seeded random moment of the job's run, then `--rerun-incomplete`: right
   after the kill no output may look complete unless it is the finished file, and after the
   rerun every output is byte-identical to an uninterrupted run of the same job;
2. a corpus of bad dataset files and configs: a clear error naming the file or key (or, with
   `data.on_bad_file: skip`, a logged skip) and no output;
3. a checkpoint holding a pickled object is refused and its code never runs;
4. a workdir and dataset roots whose paths hold spaces and both kinds of quotes, end to end.
"""

import argparse
import filecmp
import json
import os
import re
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from bad_inputs import (box_outside, drop_bndbox, empty_file,  # noqa: E402
                        first_test_image, truncate, zero_bytes)
from workflow import copy_workflow, snakemake, snakemake_command  # noqa: E402

SMOKE = ("--configfile", "configs/smoke.yaml", "drill.yaml")
# Longer fine-tuning with frequent saves and a dump in small batches: each job runs long enough
# for a random kill to land inside it, and a killed fine-tuning job has a state to resume from.
DRILL_YAML = """\
finetune: {checkpoint_every: 5}
networks: {ft: {snapshot: 40, finetune: {task: voc_det, train: all, iters: 20}}}
features: {batch_size: 4}
"""
LAYERS = ["pool1", "pool2", "conv3", "conv4", "pool5", "fc6", "fc7"]
DUMP = "results/features/ft/voc07_test_gtboxes"
# Killed jobs: (case, outputs of the one job, its log).
KILLED = [
    ("kill -9 pretraining segment 20->40",
     ["results/models/pretrain/iter_40.pt", "results/logs/pretrain/segment_40.csv"],
     "results/logs/pretrain/iter_40.log"),
    ("kill -9 fine-tuning (ft)",
     ["results/models/ft.pt", "results/logs/finetune/ft.csv"], "results/logs/finetune/ft.log"),
    ("kill -9 feature dump (ft, test gt boxes)",
     [f"{DUMP}/{layer}.h5" for layer in LAYERS], "results/logs/features/ft/voc07_test_gtboxes.log"),
]
TABLE = "results/tables/table2_4.csv"  # the end-to-end target of the odd-paths case


@dataclass
class Row:
    case: str
    expected: str
    observed: str
    passed: bool


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(empty)"


# --- 1. crashes ---------------------------------------------------------------------------------

def same_contents(a, b):
    """True when two files hold the same bytes, or (HDF5) the same datasets and attributes."""
    if filecmp.cmp(a, b, shallow=False):
        return True
    if not str(a).endswith(".h5"):
        return False
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        if set(fa.attrs) != set(fb.attrs) or set(fa) != set(fb):
            return False
        same_attrs = all(np.array_equal(fa.attrs[k], fb.attrs[k]) for k in fa.attrs)
        return same_attrs and all(fa[k][()].tobytes() == fb[k][()].tobytes() for k in fa)


def start_killable(workdir, args):
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.Popen(snakemake_command(*args), cwd=workdir, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def job_started(log, since):
    return log.exists() and log.stat().st_mtime >= since


def timed_job(workdir, outputs, log):
    """Run one job uninterrupted; return its window: seconds from its log's creation to the
    moment its last output appears."""
    launch = time.time()
    proc = start_killable(workdir, ("-j1", *outputs, "--forcerun", *outputs, *SMOKE))
    started = finished = None
    while proc.poll() is None:
        if started is None and job_started(workdir / log, launch):
            started = time.time()
        if started and finished is None and all(
                (workdir / p).exists() and (workdir / p).stat().st_mtime >= launch
                for p in outputs):
            finished = time.time()
        time.sleep(0.02)
    if proc.returncode != 0 or started is None or finished is None:
        raise RuntimeError(f"uninterrupted run of {outputs[0]} failed")
    return finished - started


def kill_job(workdir, outputs, log, delay):
    """Force the job, SIGKILL Snakemake's process group `delay` s after the job's log appears.
    Returns False if the job ended first."""
    launch = time.time()
    proc = start_killable(workdir, ("-j1", *outputs, "--forcerun", *outputs, *SMOKE))
    while not job_started(workdir / log, launch):
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    end = time.time() + delay
    while time.time() < end:
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def visible_files(folder):
    """Files under `folder` that look like outputs: no path component starts with a dot."""
    return {p for p in folder.rglob("*") if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def crash_case(workdir, reference, rng, name, outputs, log):
    window = timed_job(workdir, outputs, log)
    for path in outputs:
        shutil.copy(workdir / path, reference / path.replace("/", "__"))
    ref = {path: reference / path.replace("/", "__") for path in outputs}
    for _ in range(5):  # redraw if the job ended before its kill moment
        delay = rng.uniform(0.05, 0.75) * window
        before = time.time()
        if kill_job(workdir, outputs, log, delay):
            break
    else:
        return Row(name, "killed mid-job", f"job always ended before the kill ({window:.1f} s)",
                   False)
    # Whatever looks like an output now must be a finished file: one of this job's outputs,
    # identical to the uninterrupted run's (logs and benchmark records are not outputs).
    visible = [str(p.relative_to(workdir)) for p in visible_files(workdir / "results")
               if p.stat().st_mtime >= before and p.suffix != ".log"
               and "results/benchmarks/" not in str(p.relative_to(workdir))]
    visible += [p for p in outputs if (workdir / p).exists() and p not in visible]
    finished = [p for p in visible if p in ref and same_contents(workdir / p, ref[p])]
    looks_complete = [p for p in visible if p not in finished]
    snakemake(workdir, *SMOKE, "--unlock")  # a killed Snakemake leaves its lock
    code, _ = snakemake(workdir, "-j1", *outputs, *SMOKE, "--rerun-incomplete")
    identical = code == 0 and all(same_contents(workdir / p, ref[p]) for p in outputs)
    byte_equal = code == 0 and all(filecmp.cmp(workdir / p, ref[p], shallow=False)
                                   for p in outputs)
    resumed = "resum" in (workdir / log).read_text().lower()
    observed = (f"killed {delay:.1f} s into a {window:.1f} s job; "
                f"{len(finished)} finished output(s) then, {len(looks_complete)} partial visible; "
                f"rerun exit {code}, outputs "
                + ("byte-identical" if byte_equal else "same contents" if identical
                   else "DIFFERENT")
                + ("; resumed from a saved state" if resumed else ""))
    return Row(name, "no partial output visible; rerun byte-identical",
               observed, not looks_complete and byte_equal)


# --- 2. bad inputs ------------------------------------------------------------------------------

# (case, file under VOC2007 given the first test image id, corruption, can it be skipped)
BAD_FILES = [
    ("truncated JPEG", "JPEGImages/{}.jpg", truncate, True),
    ("zero-byte JPEG", "JPEGImages/{}.jpg", zero_bytes, True),
    ("XML missing <bndbox>", "Annotations/{}.xml", drop_bndbox, True),
    ("box outside the image", "Annotations/{}.xml", box_outside, True),
    ("empty ImageSets file", "ImageSets/Main/test.txt", empty_file, False),
]


def real_world(world, voc=None):
    """Overlay pointing the workflow at real-layout roots: a copy of the smoke world. Paths are
    written as JSON strings, which YAML reads whatever quotes they hold."""
    voc = voc or world / "VOCdevkit"
    return ("data:\n  source: real\n"
            f"  imagenet_root: {json.dumps(str(world / 'ILSVRC'))}\n"
            f"  voc_root: {json.dumps(str(voc))}\n"
            f"  sun_root: {json.dumps(str(world / 'SUN397'))}\n")


def bad_file_cases(root, world):
    rows = []
    target = "results/data/voc07_test_index.csv"
    log = "results/logs/data/voc07_test_index.log"
    for name, pattern, corrupt, skippable in BAD_FILES:
        for mode in ("error", "skip"):
            case = root / f"bad {len(rows)}"
            workdir = copy_workflow(_fresh(case / "run"))
            voc = case / "VOCdevkit"
            shutil.copytree(world / "VOCdevkit", voc)
            bad = voc / "VOC2007" / pattern.format(first_test_image(voc))
            corrupt(bad)
            (workdir / "drill.yaml").write_text(
                DRILL_YAML + real_world(world, voc) + f"  on_bad_file: {mode}\n")
            code, out = snakemake(workdir, "-j1", target, *SMOKE)
            text = (workdir / log).read_text() if (workdir / log).exists() else out
            if mode == "skip" and skippable:
                skipped = [line for line in text.splitlines() if "skipped:" in line]
                ok = (code == 0 and (workdir / target).exists()
                      and any(str(bad) in line for line in skipped))
                rows.append(Row(f"{name} (on_bad_file: skip)", "job succeeds, skip logged "
                                "naming the file", f"exit {code}; log: "
                                + (skipped[0].split(" WARNING ")[-1] if skipped else "no skip"),
                                ok))
            else:
                message = last_line(text)
                ok = (code != 0 and str(bad) in message and not (workdir / target).exists())
                rows.append(Row(f"{name} (on_bad_file: {mode})", "error naming the file, no "
                                "output", f"exit {code}; {message}", ok))
    return rows


def start_up_error(root, world, name, overlay, expected_text):
    """A run that must stop before any job, with a message holding `expected_text`."""
    workdir = copy_workflow(_fresh(root / f"config {name}"))
    (workdir / "drill.yaml").write_text(overlay)
    code, out = snakemake(workdir, "-j1", "results/data/voc07_test_index.csv", *SMOKE)
    lines = [line.strip() for line in out.splitlines() if expected_text in line]
    ran_a_job = (workdir / "results").exists()
    ok = code != 0 and bool(lines) and not ran_a_job
    return Row(name, f"stops at start-up naming {expected_text}",
               f"exit {code}; " + (lines[0] if lines else last_line(out))
               + ("; a job ran" if ran_a_job else ""), ok)


def config_cases(root, world):
    return [
        start_up_error(root, world, "dataset root that does not exist",
                       real_world(world, root / "no such folder" / "VOCdevkit"),
                       "data.voc_root"),
        start_up_error(root, world, "config: wrong type", "threads: two\n", "config key threads"),
        start_up_error(root, world, "config: unknown key", "data: {on_bad_files: skip}\n",
                       "config key data.on_bad_files"),
        start_up_error(root, world, "config: negative iteration",
                       DRILL_YAML.replace("iters: 20", "iters: -20"),
                       "config key networks.ft.finetune.iters"),
    ]


# --- 3. a checkpoint holding a pickled object ---------------------------------------------------

class Pickled:
    """Unpickling this creates `marker`: proof that the file's code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_checkpoint_case(root, base):
    workdir = root / "pickled"
    shutil.copytree(base, workdir, symlinks=True)
    snapshot = workdir / "results/models/pretrain/iter_40.pt"
    marker = root / "pickled code ran"
    evil = torch.load(snapshot, weights_only=True)
    evil["extra"] = Pickled(marker)
    torch.save(evil, snapshot)
    target = "results/features/alexnet/voc07_test_gtboxes/pool5.h5"
    code, out = snakemake(workdir, "-j1", target, *SMOKE)
    log = workdir / "results/logs/features/alexnet/voc07_test_gtboxes.log"
    text = log.read_text() if log.exists() else out
    refusal = [line.strip() for line in text.splitlines()
               if "iter_40.pt: refused" in line and "Unsupported global" in line]
    ok = code != 0 and bool(refusal) and not marker.exists() and not (workdir / target).exists()
    observed = " / ".join(line[:110] for line in refusal) or last_line(text)[:160]
    return Row("checkpoint with a pickled object", "refused (weights_only=True), naming the "
               "file; its code never runs", f"exit {code}; code ran: {marker.exists()}; {observed}", ok)


# --- 4. paths with spaces and quotes ------------------------------------------------------------

def odd_paths_case(root, base):
    odd = root / "odd dir 'single' \"double\""
    world = odd / "my 'VOC' \"data\""
    shutil.copytree(base / "resources/demo", world)
    workdir = copy_workflow(_fresh(odd / "run dir"))
    (workdir / "drill.yaml").write_text(DRILL_YAML + real_world(world))
    code, out = snakemake(workdir, "-j2", TABLE, *SMOKE, timeout=1800)
    same = code == 0 and filecmp.cmp(workdir / TABLE, base / TABLE, shallow=False)
    return Row("paths with spaces and quotes (workdir and dataset roots)",
               f"{TABLE} built, identical to the plain-path run",
               f"exit {code}; " + ("identical" if same else last_line(out)[:160]), same)


# --- the drill ----------------------------------------------------------------------------------

def _fresh(folder):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


GROUPS = ("crashes", "bad-files", "configs", "pickled", "paths")


def drill(scratch, seed, groups=GROUPS):
    root = Path(scratch)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():  # a previous drill's cases; its base run is brought up to date
        if old.name != "base":
            shutil.rmtree(old)
    base = root / "base"
    base.mkdir(exist_ok=True)
    for old in base.iterdir():  # keep the run's outputs, never an older copy of the workflow
        if old.name in ("results", "resources", ".snakemake"):
            continue
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    copy_workflow(base)
    (base / "drill.yaml").write_text(DRILL_YAML)
    targets = [out for _, outputs, _ in KILLED for out in outputs] + [TABLE]
    code, out = snakemake(base, "-j2", *targets, *SMOKE, "--rerun-incomplete", timeout=3600)
    if code != 0:
        raise RuntimeError("the drill's uninterrupted smoke run failed:\n" + out[-3000:])
    rng = random.Random(seed)
    rows = []
    if "crashes" in groups:
        # The crash cases run in a copy, so `base` stays the uninterrupted reference.
        crashes = root / "crashes"
        shutil.copytree(base, crashes, symlinks=True)
        reference = _fresh(root / "reference")
        for name, outputs, log in KILLED:
            rows.append(crash_case(crashes, reference, rng, name, outputs, log))
            print_row(rows[-1])
    world = base / "resources/demo"
    for group, cases in (("bad-files", bad_file_cases), ("configs", config_cases)):
        for row in cases(root, world) if group in groups else []:
            rows.append(row)
            print_row(row)
    for group, case in (("pickled", pickled_checkpoint_case), ("paths", odd_paths_case)):
        if group in groups:
            rows.append(case(root, base))
            print_row(rows[-1])
    return rows


def print_row(row):
    print(f"{'PASS' if row.passed else 'FAIL'}  {row.case}: {row.observed}", flush=True)


def read_table(path):
    """The rows of a table written by `table` (pipes inside cells are escaped)."""
    rows = []
    for line in Path(path).read_text().splitlines()[2:]:
        if not line.startswith("| "):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append(Row(cells[0], cells[1], cells[2].replace("\\|", "|"), cells[3] == "pass"))
    return rows


def merged(old, new):
    """`old` rows with those of the same case replaced by `new`; new cases appended."""
    fresh = {r.case: r for r in new}
    return [fresh.pop(r.case, r) for r in old] + list(fresh.values())


def table(rows):
    lines = ["| case | expected | observed | result |", "|---|---|---|---|"]
    for r in rows:
        observed = r.observed.replace("|", "\\|").replace("`", "'")
        lines.append(f"| {r.case} | {r.expected} | {observed} | "
                     f"{'pass' if r.passed else '**FAIL**'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scratch", default="/tmp/layerwise-drill")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--out", help="also write the table (Markdown) to this file")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=GROUPS,
                        help="run these groups of cases; --out keeps the other rows it holds")
    args = parser.parse_args()
    start = time.time()
    rows = drill(args.scratch, args.seed, args.only)
    this_run = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}: "
                f"{', '.join(args.only)}; drill seed {args.seed}; {time.time() - start:.0f} s; "
                f"torch {torch.__version__}, {os.cpu_count()} cores")
    runs = [this_run]
    if args.out and set(args.only) != set(GROUPS) and Path(args.out).exists():
        previous = Path(args.out).read_text()
        rows = merged(read_table(args.out), rows)
        runs = re.findall(r"^- run (.*)$", previous, re.M) + runs
    summary = (f"{sum(r.passed for r in rows)} of {len(rows)} cases pass.\n\n"
               + "\n".join(f"- run {r}" for r in runs))
    print("\n" + table(rows) + "\n\n" + summary)
    if args.out:
        Path(args.out).write_text(table(rows) + "\n\n" + summary + "\n")
    sys.exit(0 if all(r.passed for r in rows) else 1)


if __name__ == "__main__":
    main()
