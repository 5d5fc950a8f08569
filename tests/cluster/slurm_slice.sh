#!/usr/bin/env bash
# The cluster test (issue 7): bring up a single-node SLURM on this machine, run a slice of the
# workflow through `--profile profiles/slurm` on configs/smoke.yaml, check the outputs and the
# sbatch options, then shut the cluster down and leave the machine as it was found.
#
#   bash tests/cluster/slurm_slice.sh        (as root; needs .venv, i.e. `make setup`, and apt)
#
# The slice: the demo data, one pretraining segment (iter_10), one fine-tuning job (ft-50-50) that
# asks for gpu=1, and one table (raw_pixels). The cluster has one fake GPU (gres file); the jobs
# still run on the CPU.
#
# Isolation (the plugin runs `scontrol show config` whenever it is imported, so with a SLURM
# client but no controller every snakemake call would wait ~9 s): the plugin is installed only
# in a throwaway venv layered over .venv, and the apt packages this script installed are purged
# at the end, with the files the recipe wrote. Only the daemons started here are stopped.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV_PY=$REPO/.venv/bin/python
PLUGIN="snakemake-executor-plugin-slurm==2.8.0"   # compatible with Snakemake 9.27
SLICE=(results/models/pretrain/iter_10.pt results/models/ft-50-50.pt results/tables/raw_pixels.csv)
T=$(mktemp -d /tmp/layerwise-slurm.XXXXXX)
export SLURM_WORKDIR=$T/slurm
RECIPE=$REPO/tests/cluster/slurm-single-node.sh
# Paths the recipe or the packages create; those absent now are removed at the end.
CREATED=(/etc/slurm /etc/munge /var/lib/mysql /var/lib/munge /var/log/munge /var/log/mysql
         /var/lib/slurm /var/log/slurm /var/spool/slurmctld /var/spool/slurmd /run/munge /run/mysqld)

[ -x "$VENV_PY" ] || { echo "no $VENV_PY: run 'make setup' first" >&2; exit 2; }
installed() { dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' | awk '$2 == "ii" {print $1}' | sort; }
installed > "$T/pkgs.before"
absent=(); for p in "${CREATED[@]}"; do [ -e "$p" ] || absent+=("$p"); done
host_line="127.0.0.1 $(hostname -s)"; hosts_had_name=0; getent hosts "$(hostname -s)" >/dev/null && hosts_had_name=1

cleanup() {
  set +e
  echo "== teardown"
  "$RECIPE" down
  [ -s "$T/pkgs.up" ] || installed > "$T/pkgs.up"   # (a failed `up`: whatever it got to install)
  local new; new=$(comm -13 "$T/pkgs.before" "$T/pkgs.up" | tr '\n' ' ')
  if [ -n "$new" ]; then
    echo "purging the packages this test installed: $new"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $new >/dev/null
  fi
  for p in "${absent[@]}"; do rm -rf "$p"; done
  [ "$hosts_had_name" = 1 ] || sed -i "\|^$host_line\$|d" /etc/hosts
  command -v scontrol >/dev/null && echo "note: a SLURM client remains (it was installed before)"
  rm -rf "$T"
}
trap cleanup EXIT

echo "== single-node SLURM up"
"$RECIPE" up
installed > "$T/pkgs.up"   # what `up` installed, and nothing anyone installs later

echo "== $PLUGIN in a throwaway venv over .venv"
"$VENV_PY" -m venv "$T/venv"
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
echo "import site; site.addsitedir('$(site_of "$VENV_PY")')" > "$(site_of "$T/venv/bin/python")/layerwise-venv.pth"
"$T/venv/bin/python" -m pip install -q --disable-pip-version-check "$PLUGIN" 2>&1 \
  | { grep -v "is ignored" || true; }   # (pip.conf names local indexes that may be absent)
PY=$T/venv/bin/python

echo "== workflow copy and the site's profile"
mkdir "$T/work"
(cd "$REPO/tests" && "$VENV_PY" -c "import sys; from pathlib import Path; from workflow import copy_workflow; copy_workflow(Path(sys.argv[1]))" "$T/work")
# What a user does with profiles/slurm: fill in the site values. On this CPU-only cluster the GPU
# rules ask for gpu=0 (device: cpu), so the fine-tuning job is made to ask for its fake GPU with
# a set-resources entry, the same way a user overrides any rule's resources.
"$VENV_PY" - "$REPO/profiles/slurm/config.yaml" "$T/profile/config.yaml" <<'EOF'
import sys
from pathlib import Path
import yaml
profile = yaml.safe_load(Path(sys.argv[1]).read_text())
assert profile["executor"] == "slurm", profile
profile["default-resources"].update(slurm_partition="debug", slurm_account="root")
profile["set-resources"].setdefault("finetune", {})["gpu"] = 1
Path(sys.argv[2]).parent.mkdir(parents=True)
Path(sys.argv[2]).write_text(yaml.safe_dump(profile, sort_keys=False))
EOF

echo "== snakemake --profile profiles/slurm (slice: ${SLICE[*]})"
cd "$T/work"
status=0
timeout -k 10 1800 "$PY" -m snakemake --profile "$T/profile" "${SLICE[@]}" \
  --configfile configs/smoke.yaml --slurm-init-seconds-before-status-checks 2 --verbose \
  > "$T/snakemake.log" 2>&1 || status=$?
grep -E '^(Job stats|job +count|[a-z_]+ +[0-9]+$|total +[0-9]+$)' "$T/snakemake.log" || true
if [ "$status" != 0 ]; then
  echo "snakemake failed ($status); last lines of its log:"; tail -n 60 "$T/snakemake.log"
  for f in .snakemake/slurm_logs/*/*/*.log; do echo "--- $f"; tail -n 20 "$f"; done 2>/dev/null
  exit 1
fi

echo "== checks"
# The plugin logs each submission as "... SLURM jobid <id> (log: .../slurm_logs/rule_<rule>/[<wildcards>/]<id>.log)".
grep -oE 'SLURM jobid [0-9]+ \(log: [^)]*' "$T/snakemake.log" \
  | sed -E 's|SLURM jobid ([0-9]+) .*/slurm_logs/rule_(.*)/[0-9]+\.log|\1 \2|' > "$T/jobs"
echo "jobs submitted: $(wc -l < "$T/jobs") (SLURM job id, rule[/wildcards], state, requested TRES):"
failed=0
while read -r id name; do
  info=$(sacct -j "$id" -X -n -P --format=State,ReqTRES)
  echo "  $id $name $info"
  case "$info" in COMPLETED*) ;; *) failed=1 ;; esac
done < "$T/jobs"
[ "$(wc -l < "$T/jobs")" -ge 10 ] && [ "$failed" = 0 ] || { echo "FAIL: too few jobs, or not all COMPLETED"; exit 1; }

ft_call=$(grep 'sbatch call:' "$T/snakemake.log" | grep -- '--comment rule_finetune' | head -1)
echo "sbatch call of the fine-tuning job (up to --wrap):"; echo "  ${ft_call#*sbatch call: }" | sed 's/ --wrap=.*//'
echo "$ft_call" | sed 's/ --wrap=.*//' | grep -qE -- '--gpus[= ]1|--gres[= ]gpu:1' || { echo "FAIL: no GPU request"; exit 1; }
if grep 'sbatch call:' "$T/snakemake.log" | grep -v -- '--comment rule_finetune' | sed 's/ --wrap=.*//' \
   | grep -qE -- '--gpus|--gres'; then echo "FAIL: a CPU job asked for a GPU"; exit 1; fi
ft_id=$(awk '$2 ~ /^finetune\// {print $1}' "$T/jobs")
sacct -j "$ft_id" -X -n -P --format=AllocTRES | grep -q 'gres/gpu=1' \
  || { echo "FAIL: SLURM did not allocate a GPU to the fine-tuning job"; exit 1; }
echo "  SLURM job $ft_id (finetune) was allocated: $(sacct -j "$ft_id" -X -n -P --format=AllocTRES)"

"$VENV_PY" - "${SLICE[@]}" <<'EOF'
import sys
from pathlib import Path
import pandas as pd
import torch
for path in sys.argv[1:]:
    assert Path(path).stat().st_size > 0, path
    if path.endswith(".pt"):
        state = torch.load(path, map_location="cpu", weights_only=False)
        print(f"  {path}: checkpoint with keys {sorted(state)[:6]}")
    else:
        table = pd.read_csv(path)
        assert len(table) and table.notna().all().all(), table
        print(f"  {path}: {len(table)} rows x {len(table.columns)} columns, no missing values")
print("  " + ", ".join(sorted(p.name for p in Path("resources/demo").iterdir())) + " in resources/demo")
EOF
# The same slice, planned locally from the SLURM run's outputs (plain .venv, no plugin): nothing to do.
"$REPO/.venv/bin/snakemake" -n "${SLICE[@]}" --configfile configs/smoke.yaml 2>&1 | grep -q 'Nothing to be done' \
  || { echo "FAIL: a local dry run after the SLURM run still has jobs"; exit 1; }
echo "  local dry run after the SLURM run: nothing to be done"
echo "SLURM slice test: passed"
