#!/usr/bin/env bash
# Adds the checked-out commit to its machine's history in one command:
#
#   perf/history/add-point.sh [BENCH ARGS...]      (default: --quick --repetitions 9)
#
# Builds the CLI in Release, runs `fastpt bench --json` under `nice -n 19` (the load average
# before and after goes into the entry), and appends the run to perf/history/<cpu-key>.jsonl.
# The tree must be clean: a history entry names the commit it measured. Commit the .jsonl after.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "add-point: the tree has uncommitted changes; commit first (the history records commits)" >&2
  exit 2
fi
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--quick --repetitions 9)
dotnet build src/FastPT.Cli -c Release -nologo -v q >&2
cli=src/FastPT.Cli/bin/Release/net10.0/FastPT.Cli
run=$(mktemp --suffix=.json)
trap 'rm -f "$run"' EXIT
nice -n 19 "$cli" bench --json "${args[@]}" > "$run"
"$cli" history add "$run"
