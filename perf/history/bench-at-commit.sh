#!/usr/bin/env bash
# Runs an old commit's `fastpt bench --json` several times and keeps each run with where and
# when it ran, for `fastpt history add --runs` (docs/results-format.md, "legacy runs").
#
#   perf/history/bench-at-commit.sh COMMIT OUTDIR [RUNS] [-- BENCH ARGS...]
#
# Commits before the results format v1 printed one median per operation, so one run gives one
# sample per operation; RUNS runs give RUNS samples ("samples_kind": "run-medians"). The
# commit is checked out in its own worktree under /tmp (never under the caller's tree), built
# in Release, and run under `nice -n 19`; the load average is read before and after each run.
set -euo pipefail
commit=$(git rev-parse --verify "${1:?commit}^{commit}")
out=${2:?output directory}
runs=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--quick --no-kernel)

repo=$(git rev-parse --show-toplevel)
wt=/tmp/fastpt-bench-$commit
mkdir -p "$out"
if [ ! -d "$wt" ]; then
  git -C "$repo" worktree add --detach "$wt" "$commit" >/dev/null
fi
echo "building $commit in $wt" >&2
nice -n 19 dotnet build "$wt/src/FastPT.Cli" -c Release -nologo -v q >&2
# The CLI's assembly was called fastpt before 4470db5.
cli=$wt/src/FastPT.Cli/bin/Release/net10.0/FastPT.Cli
[ -x "$cli" ] || cli=$wt/src/FastPT.Cli/bin/Release/net10.0/fastpt

json_str() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g'; }
runtime=$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ { v=$2 } END { print v }')
os=$(. /etc/os-release && echo "$PRETTY_NAME")
flags=$(awk -F': ' '/^flags/ { print $2; exit }' /proc/cpuinfo)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
hyper=false; grep -qw hypervisor /proc/cpuinfo && hyper=true
ctime=$(git -C "$repo" log -1 --format=%cI "$commit")
subject=$(git -C "$repo" log -1 --format=%s "$commit" | cut -c1-120)

for i in $(seq 1 "$runs"); do
  before=$(loadavg); start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  bench=$(nice -n 19 "$cli" bench --json "${args[@]}" 2>"$out/${commit:0:12}-run$i.log")
  after=$(loadavg)
  f=$out/${commit:0:12}-run$i.json
  cat > "$f.tmp" <<JSON
{
  "format": "fastpt-legacy-run",
  "commit": "$commit",
  "commit_time": "$ctime",
  "subject": "$(json_str "$subject")",
  "time": "$start",
  "args": "$(json_str "${args[*]}")",
  "runtime": "$runtime",
  "os": "$(json_str "$os")",
  "kernel": "$(uname -r)",
  "cpu_model": "$(json_str "$model")",
  "cpu_flags": "$flags",
  "cores": $(nproc),
  "hypervisor": $hyper,
  "load_before": [$before],
  "load_after": [$after],
  "bench": $bench
}
JSON
  mv "$f.tmp" "$f"
  echo "run $i/$runs of ${commit:0:12}: load $before -> $after" >&2
done
git -C "$repo" worktree remove --force "$wt"
