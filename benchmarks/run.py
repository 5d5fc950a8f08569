"""Every performance figure of SPEC §14 in one run, written to BENCHMARKS.md (`make bench`).

    .venv/bin/python benchmarks/run.py [--configfile configs/smoke.yaml] [--reps 5]
                                       [--scratch /tmp/layerwise-bench] [--out BENCHMARKS.md]
                                       [--skip STEP ...] [--resume] [--side-by-side]
                                       [--status] [--merge STATE ...]

Runs in copies of the workflow under `--scratch`, never in the user's results/:
1. `table2_3` from scratch (the headline command, `snakemake -j4`), in <scratch>/table2_3, then
   its no-op run (--reps runs, median);
2. on that run's files: dump / bare forward and training pipeline / bare steps and FC-FT / FT
   (benchmarks/features.py, benchmarks/training.py: ratios side by side, median of --reps);
3. entropy at VOC2007 scale (benchmarks/entropy.py: time and peak RSS);
4. `all` from scratch (`snakemake -j2`, SPEC §14), in <scratch>/all, then its no-op run;
5. in that run, the classification of all 7 layers of one network, re-run alone;
6. the peak RSS of every job, from the `benchmark:` files of both runs.
BENCHMARKS.md is rewritten after every step, so an interrupted run keeps what it measured, and
every row says when it was measured and under which load. To split the work over several runs
(the file lists every run it comes from): `--skip` leaves steps out; `--resume` keeps the rows
of earlier or concurrent runs in the same scratch folder; `--side-by-side` runs steps 1 and 4 at
the same time; `--status` reports the rows a concurrent run is still measuring; `--merge`
takes the finished rows of another scratch folder's rows.json.
"""

import argparse
import calendar
import fcntl
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from workflow import copy_workflow  # noqa: E402

from layerwise.runtime import OPENMP_ENV  # noqa: E402

GIB = 1024**3
SCRATCH_BUDGETS = {"table2_3": 600, "all": 900}  # seconds from scratch (SPEC §14)
# The files the micro-benchmarks read.
PREREQUISITES = ["results/data/imagenet_train_images.h5", "results/models/pretrain/iter_0.pt",
                 "results/data/voc07_trainval_proposals.h5",
                 "results/data/voc07_trainval_index.csv", "results/data/voc07_test_gtboxes.h5"]


@dataclass
class Row:
    figure: str
    value: str = "pending"
    budget: str = ""
    verdict: str = "pending"
    command: str = ""
    when: str = ""


def verdict(ok):
    return "within" if ok else "**OUTSIDE**"


def run_timed(cmd, cwd, log):
    """Run `cmd`, output to `log`; (exit code, wall seconds, peak RSS of the process tree's
    largest waited process in bytes)."""
    env = {**OPENMP_ENV, **os.environ, "PYTHONHASHSEED": "0"}  # the workflow's job environment
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss * 1024


def entropy_figures(printed):
    """(seconds, peak RSS GiB) from benchmarks/entropy.py's output: its first "N s" figure
    and its "peak RSS N GiB" (of the timed process, without the file generation)."""
    seconds = re.search(r"(\d+(?:\.\d+)?) s\b", printed)
    rss = re.search(r"peak RSS (\d+(?:\.\d+)?) GiB", printed)
    return (float(seconds[1]) if seconds else None), (float(rss[1]) if rss else None)


def load():
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def minutes(seconds):
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


class Bench:
    def __init__(self, args):
        self.args = args
        self.scratch = Path(args.scratch)
        self.config = ("--configfile", *args.configfile) if args.configfile else ()
        self.config_text = " ".join(self.config)
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
        self.threads = cfg["threads"]
        self.machine = (f"{os.cpu_count()} cores, torch {torch.__version__.split('+')[0]}, "
                        f"{self.threads} threads")
        self.rows, self.notes, self.jobs = {}, [], []
        self.started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self.invocations = []
        self.state = self.scratch / "rows.json"
        self.mine = set()  # the rows this run measures; the others are read back from the state
        self.lock = threading.Lock()
        if args.resume and self.state.exists():
            self.read_state()
        self.invocations.append(f"{' '.join(['benchmarks/run.py', *sys.argv[1:]])} "
                                f"(started {self.started}, load {load()})")

    # --- bookkeeping ---------------------------------------------------------------------------

    def read_state(self):
        """Merge the state file: its rows, notes, jobs and runs, except the rows this run owns
        (another --resume run in the same scratch folder may be writing beside this one)."""
        state = json.loads(self.state.read_text())
        mine = {k: self.rows[k] for k in self.mine}
        self.rows = {k: mine.get(k, Row(**r)) for k, r in state["rows"].items()}
        self.rows.update(mine)
        self.notes += [n for n in state["notes"] if n not in self.notes]
        self.invocations = state["invocations"] + [i for i in self.invocations
                                                   if i not in state["invocations"]]
        self.jobs = self.jobs or state.get("jobs", [])

    def merge(self, path):
        """Take another state file's rows that this one lacks or has not finished, its notes
        and its runs."""
        state = json.loads(Path(path).read_text())
        unfinished = ("pending", "running", "still running")
        for key, fields in state["rows"].items():
            row = Row(**fields)
            if key not in self.rows or (self.rows[key].value.startswith(unfinished)
                                        and not row.value.startswith(unfinished)):
                self.rows[key] = row
                self.mine.add(key)
        self.notes += [n for n in state["notes"] if n not in self.notes]
        self.invocations += [i for i in state["invocations"] if i not in self.invocations]
        self.jobs = self.jobs or state.get("jobs", [])
        self.save()

    def row(self, key, **fields):
        with self.lock:
            self.mine.add(key)
            self.rows.setdefault(key, Row(figure=fields.pop("figure", key)))
            for name, value in fields.items():
                setattr(self.rows[key], name, value)
            self.rows[key].when = f"{time.strftime('%H:%M', time.gmtime())}, {load()}"
        self.save()

    def save(self):
        """Write the state file and BENCHMARKS.md, merged with a concurrent --resume run's."""
        with self.lock:
            self.scratch.mkdir(parents=True, exist_ok=True)
            with open(self.scratch / "rows.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if self.args.resume and self.state.exists():
                    self.read_state()
                self.state.write_text(json.dumps({
                    "rows": {k: asdict(r) for k, r in self.rows.items()}, "notes": self.notes,
                    "invocations": self.invocations, "jobs": self.jobs}))
                self.write()

    def snakemake(self, *args):
        return [sys.executable, "-m", "snakemake", *args, *self.config]

    def shown(self, workdir, *args):
        """The command as a user types it (Snakemake targets before --configfile)."""
        return f"`cd {workdir} && .venv/bin/snakemake {' '.join(args)} {self.config_text}`" \
            .replace("  ", " ").replace(" `", "`")

    def fresh_workdir(self, name):
        workdir = self.scratch / name
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        copy_workflow(workdir)
        (workdir / ".venv").symlink_to(REPO / ".venv")  # so the shown commands run as written
        return workdir

    # --- the workflow runs ---------------------------------------------------------------------

    def from_scratch(self, key, figure, workdir, args, budget_s):
        self.row(key, figure=figure, budget=f"<= {budget_s / 60:.0f} min",
                 command=self.shown(workdir, *args), value="running")
        before = load()
        code, wall, _ = run_timed(self.snakemake(*args), workdir, workdir / "bench.log")
        if code != 0:
            tail = (workdir / "bench.log").read_text()[-1500:]
            self.row(key, value=f"FAILED (exit {code}) after {minutes(wall)}", verdict="failed")
            self.notes.append(f"{figure} failed; the end of its output:\n\n```\n{tail}\n```")
            return False
        self.row(key, value=f"{minutes(wall)}; load before: {before}",
                 verdict=verdict(wall <= budget_s))
        return True

    def status(self):
        """Rows still "running" in another run.py (--status): for a from-scratch run, the time
        so far (a lower bound) and the steps done, outside its budget once past it."""
        now = time.strftime("%H:%M", time.gmtime())
        for key, row in list(self.rows.items()):
            if not row.value.startswith(("running", "still running")):
                continue
            since = row.when.split(",")[0]
            log = self.scratch / key / "bench.log"
            if key not in SCRATCH_BUDGETS or not log.exists():
                self.row(key, value=f"still running at {now} (since {since})")
                continue
            text = log.read_text()
            stamp = re.search(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", text, re.M)
            steps = re.findall(r"\d+ of \d+ steps", text)
            elapsed = time.time() - calendar.timegm(time.strptime(stamp[1],
                                                                  "%a %b %d %H:%M:%S %Y"))
            self.row(key, value=f"still running at {now}: more than {minutes(elapsed)} "
                     f"after its first job, {steps[-1] if steps else 'no step'} done",
                     verdict=verdict(False) if elapsed > SCRATCH_BUDGETS[key] else "pending")
        if not {"noop_table2_3", "noop"} & set(self.rows) and (self.scratch / "micro").exists():
            # Neither from-scratch run has finished: time the no-op of the micro-benchmarks'
            # complete run instead, and say so.
            self.noop("noop_micro", "no-op run (the micro-benchmarks' input files up to date; "
                      "no from-scratch run had finished)", self.scratch / "micro",
                      ("-j2", *PREREQUISITES))
        workdirs = [self.scratch / name for name in ("micro", *SCRATCH_BUDGETS)]
        self.job_memory(*[w for w in workdirs if (w / "results/benchmarks").exists()])

    def table2_3(self):
        workdir = self.fresh_workdir("table2_3")
        if not (workdir / "rules/detection.smk").exists():
            self.row("table2_3", figure="`table2_3` from scratch", value="no table2_3 rule yet",
                     verdict="missing")
            return workdir
        args = ("-j4", "results/tables/table2_3.csv")
        if self.from_scratch("table2_3", "`table2_3` from scratch", workdir, args,
                             SCRATCH_BUDGETS["table2_3"]):
            self.noop("noop_table2_3", "no-op run (`table2_3` up to date)", workdir, args)
        return workdir

    def everything(self):
        workdir = self.fresh_workdir("all")
        done = self.from_scratch("all", "`all` from scratch", workdir, ("-j2",),
                                 SCRATCH_BUDGETS["all"])
        if done:
            self.noop("noop", "no-op run (`all` up to date)", workdir, ("-j2",))
        return workdir

    def classification(self, workdir):
        """Image classification at all 7 layers of one network, re-run alone after `all`."""
        key, network = "classify", "alexnet"
        target = f"results/analysis/classification/{network}/images/unroll.csv"
        args = ("-j2", target, "--forcerun", "classify")  # --forcerun takes every word after it
        self.row(key, figure=f"classification, 7 layers x 20 classes of one network ({network}, "
                 "VOC images, plain features), alone", budget="state the time", value="running",
                 command=self.shown(workdir, *args))
        if not (workdir / target).exists():
            self.row(key, value="not measured: needs the `all` run", verdict="not measured")
            return
        code, wall, _ = run_timed(self.snakemake(*args), workdir, workdir / "classify.log")
        if code != 0:
            self.row(key, value=f"failed (exit {code}, see classify.log)", verdict="failed")
            return
        tsv = workdir / f"results/benchmarks/classification/{network}/images/unroll.tsv"
        seconds = float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
        self.row(key, value=f"{seconds:.1f} s (the job's `benchmark:` file; {wall:.1f} s with "
                 "Snakemake's start-up)", verdict="stated")

    def noop(self, key, figure, workdir, args):
        # A dry run first: a real run with work to do would do it. When the library changed
        # since the run (other people edit it), only modification times make it a no-op.
        run_timed(self.snakemake(*args, "-n"), workdir, workdir / "noop.log")
        if "Nothing to be done" not in (workdir / "noop.log").read_text():
            args = (*args, "--rerun-triggers", "mtime")
            figure += " (`--rerun-triggers mtime`: the library changed after the run)"
            run_timed(self.snakemake(*args, "-n"), workdir, workdir / "noop.log")
            if "Nothing to be done" not in (workdir / "noop.log").read_text():
                self.row(key, figure=figure, budget="<= 3 s", verdict="not measured",
                         value="not a no-op: jobs out of date", command=self.shown(workdir, *args))
                return
        times = []
        for _ in range(self.args.reps):
            code, wall, _ = run_timed(self.snakemake(*args), workdir, workdir / "noop.log")
            said = "Nothing to be done" in (workdir / "noop.log").read_text()
            times.append(wall if code == 0 and said else float("inf"))
        median = statistics.median(times)
        nothing = all(t < float("inf") for t in times)
        self.row(key, figure=figure,
                 value=(f"{median:.2f} s (median of {len(times)}: "
                        f"{', '.join(f'{t:.2f}' for t in times)})" if nothing
                        else "a run found work to do: " + ", ".join(map(str, times))),
                 budget="<= 3 s", verdict=verdict(nothing and median <= 3),
                 command=self.shown(workdir, *args))

    # --- the micro-benchmarks ------------------------------------------------------------------

    def prerequisites(self, workdir):
        """The files the micro-benchmarks read (built here if the headline run did not)."""
        code, _, _ = run_timed(self.snakemake("-j2", *PREREQUISITES), workdir,
                               workdir / "prerequisites.log")
        return code == 0

    def python(self, workdir, key, script, *args):
        """Run a benchmark script in `workdir`; (exit code, its json figures, wall s, peak RSS)."""
        out = workdir / f"{key}.json"
        cmd = [sys.executable, str(REPO / "benchmarks" / script), *args, "--json", str(out)]
        code, wall, rss = run_timed(cmd, workdir, workdir / f"{key}.log")
        figures = json.loads(out.read_text()) if code == 0 and out.exists() else None
        shown = f"`cd {workdir} && .venv/bin/python {REPO}/benchmarks/{script} {' '.join(args)}`"
        return figures, shown, rss

    def micro(self, workdir):
        reps = str(self.args.reps)
        if not self.prerequisites(workdir):
            for key in ("dump", "train", "fcft"):
                self.row(key, value="not measured: its input files could not be built",
                         verdict="failed")
            return
        self.row("dump", figure="dump throughput / bare forward", budget=">= 0.9",
                 value="running")
        figures, shown, _ = self.python(workdir, "dump", "features.py", "--results", "results",
                                        "--config", "config.yaml", "--reps", reps,
                                        "--threads", str(self.threads))
        if figures:
            self.row("dump", value=f"{figures['dump_ratio']:.3f} ({figures['dump_rate']:.0f} "
                     f"samples/s dumped, {figures['samples']} test gt boxes, median of {reps}; "
                     f"{figures['compression']} files: {figures['bytes_per_value']:.2f} bytes "
                     "per activation)",
                     verdict=verdict(figures["dump_ratio"] >= 0.9), command=shown)
        else:
            self.row("dump", value="failed (see dump.log)", verdict="failed", command=shown)
        self.row("train", figure="train throughput / bare step", budget=">= 0.9",
                 value="running")
        self.row("fcft", figure="FC-FT / FT wall time (same iterations)", budget="<= 0.5")
        figures, shown, _ = self.python(workdir, "training", "training.py", "--results",
                                        "results", "--reps", reps,
                                        "--threads", str(self.threads))
        if figures:
            self.row("train", value=f"{figures['train_ratio']:.3f} "
                     f"({figures['train_rate']:.0f} img/s through the pipeline, median of {reps})",
                     verdict=verdict(figures["train_ratio"] >= 0.9), command=shown)
            self.row("fcft", value=f"{figures['fcft_ratio']:.3f} (FC-FT {figures['fcft_s']:.1f} s,"
                     f" FT {figures['ft_s']:.1f} s for 20 iterations, median of {reps})",
                     verdict=verdict(figures["fcft_ratio"] <= 0.5), command=shown)
        else:
            for key in ("train", "fcft"):
                self.row(key, value="failed (see training.log)", verdict="failed", command=shown)
        self.row("cached", figure="FC-FT with a cached conv trunk", budget="-",
                 value="no such variant: FC-FT runs the frozen conv layers forward every "
                 "iteration (without gradients)", verdict="n/a")

    def entropy(self):
        script = REPO / "benchmarks/entropy.py"
        key = "entropy"
        self.row(key, figure="entropy, one layer at VOC2007 scale (15,000 x 96 x 27 x 27 from "
                 "HDF5)", budget="<= 2 min, <= 2 GiB")
        if not script.exists():
            self.row(key, value="benchmarks/entropy.py does not exist yet", verdict="missing")
            return
        workdir = self.scratch / "entropy"
        workdir.mkdir(parents=True, exist_ok=True)
        self.row(key, value="running")
        cmd = [sys.executable, str(script)]
        code, _, _ = run_timed(cmd, workdir, workdir / "entropy.log")
        printed = (workdir / "entropy.log").read_text().strip()
        shown = f"`cd {workdir} && {REPO}/.venv/bin/python {script}`"
        if code != 0:
            self.row(key, value=f"failed (exit {code})", verdict="failed", command=shown)
            self.notes.append(f"benchmarks/entropy.py failed:\n\n```\n{printed[-1500:]}\n```")
            return
        seconds, rss = entropy_figures(printed)
        found = seconds is not None and rss is not None
        self.row(key, value=f"{seconds:.0f} s, peak RSS {rss:.2f} GiB" if found else "see below",
                 verdict=verdict(found and seconds <= 120 and rss <= 2), command=shown)
        self.notes.append("benchmarks/entropy.py printed:\n\n```\n" + printed[-2000:] + "\n```")

    # --- peak memory ---------------------------------------------------------------------------

    def job_memory(self, *workdirs):
        """Every job's wall time and peak RSS, from the `benchmark:` files."""
        rows = []
        for workdir in workdirs:
            folder = workdir / "results/benchmarks"
            for tsv in sorted(folder.rglob("*.tsv")):
                record = pd.read_csv(tsv, sep="\t").iloc[0]
                rss = pd.to_numeric(record["max_rss"], errors="coerce")
                rows.append({"run": workdir.name, "job": str(tsv.relative_to(folder))[:-4],
                             "s": float(record["s"]), "max_rss_mib": rss})
        self.jobs = rows
        if not rows:
            self.row("rss", figure="peak RSS of any job", value="no benchmark files",
                     verdict="failed")
            return
        top = max(rows, key=lambda r: -1 if pd.isna(r["max_rss_mib"]) else r["max_rss_mib"])
        self.row("rss", figure="peak RSS of any job (`benchmark:` files)",
                 value=f"{top['max_rss_mib']:.0f} MiB ({top['job']}, {top['run']} run; "
                 f"{len(rows)} finished jobs, all listed below)", budget="<= 4 GiB",
                 verdict=verdict(top["max_rss_mib"] <= 4096),
                 command="`max_rss` column of results/benchmarks/**/*.tsv in the runs above")

    # --- the report ----------------------------------------------------------------------------

    def write(self):
        cpu = platform.processor() or platform.machine()
        try:
            cpu = next(line.split(":", 1)[1].strip() for line in
                       Path("/proc/cpuinfo").read_text().splitlines()
                       if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        lines = [
            "# Benchmarks (SPEC §14)",
            "",
            "Written by `make bench` (`.venv/bin/python benchmarks/run.py`); this file comes from "
            + "; then ".join(f"`{i}`" for i in self.invocations) + ". "
            f"Config: `config.yaml`{' + ' + ' '.join(self.args.configfile) if self.config else ''}"
            f" (the demo world: demo numbers, not the thesis'). Runs happen in copies of the "
            f"workflow under `{self.scratch}`, never in `results/`.",
            "",
            f"Machine: {cpu}, {os.cpu_count()} cores, no GPU, torch {torch.__version__}, "
            f"{self.threads} torch threads per job (config `threads`). The machine is shared "
            "with other work: each row gives the time (UTC) and the load average (1, 5, 15 min) "
            "when it was measured. A load above 2 (the core count) slows every figure, the "
            "side-by-side ratios least.",
            "",
            "| figure | measured | budget | verdict | machine | measured at (UTC, load) "
            "| command |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows.values():
            lines.append(f"| {r.figure} | {r.value} | {r.budget} | {r.verdict} | {self.machine} "
                         f"| {r.when} | {r.command} |")
        for note in self.notes:
            lines += ["", note]
        if self.jobs:
            jobs = pd.DataFrame(self.jobs)
            jobs["stage"] = jobs["job"].str.split("/").str[0]
            stages = jobs.groupby(["run", "stage"]).agg(jobs=("s", "size"), s=("s", "sum"),
                                                         rss=("max_rss_mib", "max"))
            lines += ["", "## Where the time goes: job seconds by stage (`benchmark:` files)",
                      "", "Jobs of one run overlap when Snakemake runs them side by side, so "
                      "the sums can exceed the run's wall time.", "",
                      "| run | stage | jobs | job seconds | peak RSS MiB |",
                      "|---|---|---|---|---|"]
            for (run, stage), r in stages.sort_values("s", ascending=False).iterrows():
                lines.append(f"| {run} | {stage} | {r['jobs']:.0f} | {r['s']:.0f} | "
                             f"{r['rss']:.0f} |")
            lines += ["", "## Every job: wall time and peak RSS (`benchmark:` files)", "",
                      "| run | job | wall s | peak RSS MiB |", "|---|---|---|---|"]
            for job in sorted(self.jobs, key=lambda j: (j["run"], -j["s"])):
                lines.append(f"| {job['run']} | {job['job']} | {job['s']:.1f} | "
                             f"{job['max_rss_mib']:.0f} |")
        Path(self.args.out).write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", nargs="*", default=[],
                        help="overlays (relative to the repo), e.g. configs/smoke.yaml")
    parser.add_argument("--scratch", default="/tmp/layerwise-bench")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["table2_3", "micro", "entropy",
                                                                  "all", "classify"],
                        help="leave these steps out (their rows stay pending, or as --resume "
                        "found them)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows an earlier (or concurrent) run in the same --scratch "
                        "measured")
    parser.add_argument("--merge", nargs="*", default=[], metavar="STATE",
                        help="take the finished rows of other runs' rows.json files")
    parser.add_argument("--status", action="store_true",
                        help="with --resume: report the rows another run is still measuring, "
                        "the jobs finished so far and, if no from-scratch run has finished, a "
                        "no-op run of the micro-benchmarks' inputs")
    parser.add_argument("--note", nargs="*", default=[], help="add these notes to the file")
    parser.add_argument("--side-by-side", action="store_true",
                        help="run the two from-scratch runs at the same time (each slows the "
                        "other; the file says so)")
    args = parser.parse_args()
    bench = Bench(args)
    bench.notes += [n for n in args.note if n not in bench.notes]
    for state in args.merge:
        bench.merge(state)
    if args.status:
        bench.status()
    runs = []
    if args.side_by_side and not {"table2_3", "all"} & set(args.skip):
        bench.notes.append("`table2_3` and `all` from scratch ran side by side (`--side-by-side`), "
                           "each slowing the other.")
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [run.result() for run in (pool.submit(bench.table2_3),
                                             pool.submit(bench.everything))]
        args.skip += ["table2_3", "all"]
        bench.job_memory(*runs)
    if "table2_3" not in args.skip:
        runs.append(bench.table2_3())
        bench.job_memory(*runs)
    if "micro" not in args.skip:
        bench.micro(runs[0] if runs else bench.fresh_workdir("micro"))
    if "entropy" not in args.skip:
        bench.entropy()
    if "all" not in args.skip:
        runs.append(bench.everything())
        bench.job_memory(*runs)
    if "classify" not in args.skip:
        bench.classification(bench.scratch / "all")
    bench.save()
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
