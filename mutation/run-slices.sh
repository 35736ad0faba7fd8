#!/usr/bin/env bash
# The whole core as file-disjoint slices, one Stryker run each, so each slice's report lands
# when it finishes (a whole-core run reports only at its end, hours later). Scores add up:
# the slices share stryker-config.json's tests and settings and differ only in what they mutate.
#   mutation/run-slices.sh [slice ...]     slices: walk-paging kernels operations uffd entries
# Run it on a copy of the repository: Stryker builds in place. Counts are scaled down
# (FASTPT_TEST_SCALE, FASTPT_STRESS_MS, and the engine-vs-kernel script counts) because the
# covering tests run once per mutant.
set -euo pipefail -f  # -f: the globs below are for Stryker, not the shell
cd "$(dirname "$0")"
export FASTPT_TEST_SCALE=${FASTPT_TEST_SCALE:-0.1} FASTPT_STRESS_MS=${FASTPT_STRESS_MS:-50}
export FASTPT_DIFF_SCRIPTS=${FASTPT_DIFF_SCRIPTS:-20} FASTPT_DIFF_EXPLORE_SCRIPTS=${FASTPT_DIFF_EXPLORE_SCRIPTS:-10} FASTPT_DIFF_SCAN_SCRIPTS=${FASTPT_DIFF_SCAN_SCRIPTS:-20}
export FASTPT_DIFF_WORD_SCRIPTS=${FASTPT_DIFF_WORD_SCRIPTS:-10} FASTPT_DIFF_WALKEND_SCRIPTS=${FASTPT_DIFF_WALKEND_SCRIPTS:-10}
declare -A files=(
  [walk-paging]='**/Walk/*.cs **/Paging/*.cs'
  [kernels]='**/Kernels/*.cs !**/Kernels/*.g.cs'
  [operations]='**/Operations/*.cs'
  [uffd]='**/Uffd/*.cs'
  [entries]='**/Entries/*.cs'
)
slices=("$@")
[ ${#slices[@]} -gt 0 ] || slices=(walk-paging kernels operations uffd entries)
for slice in "${slices[@]}"; do
  [ -n "${files[$slice]:-}" ] || { echo "run-slices.sh: unknown slice '$slice' (walk-paging kernels operations uffd entries)" >&2; exit 2; }
  config=$(mktemp --suffix=.json -p .)
  python3 - "$config" ${files[$slice]} <<'PY'
import json, sys
c = json.load(open('stryker-config.json'))
c['stryker-config']['mutate'] = sys.argv[2:]
json.dump(c, open(sys.argv[1], 'w'), indent=2)
PY
  echo "== slice $slice: ${files[$slice]} ($(date -u +%H:%M) UTC)"
  dotnet-stryker -f "$config" --output "StrykerOutput/$slice" || { rm -f "$config"; exit 1; }
  rm -f "$config"
done
