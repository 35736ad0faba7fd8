#!/usr/bin/env bash
# Fuzz one target with AFL++ until it has used CPU_SECONDS of CPU time (default one CPU-hour):
#   fuzz/run.sh TARGET [CPU_SECONDS]        TARGET: script | perf-script | nettrace
# Builds fuzz/FastPT.Fuzz into fuzz/out/TARGET/build, instruments our parsers (and TraceEvent,
# the .nettrace parser proper) with SharpFuzz, starts from fuzz/corpus/TARGET (or the seeds when
# that is empty) and runs afl-fuzz under nice 19. Findings go to fuzz/out/TARGET/findings;
# fuzz/out/TARGET/cpu.log records the CPU seconds used. See docs/fuzzing.md.
set -euo pipefail
source "$(dirname "$0")/common.sh"
target=${1:?usage: fuzz/run.sh TARGET [CPU_SECONDS]}
budget=${2:-3600}
work=$root/fuzz/out/$target
mkdir -p "$work"
build "$work/build"

seeds=$root/fuzz/corpus/$target
if [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
  seeds=$work/seeds && rm -rf "$seeds" && mkdir -p "$seeds"
  cp "$root"/fuzz/seeds/"$target"/* "$seeds"/ 2>/dev/null || true
  [ "$target" = script ] && cp "$root"/tests/scenarios/*.script "$seeds"/
fi

setsid nice -n 19 afl-fuzz -i "$seeds" -o "$work/findings" -t 5000 -m none -- "$dotnet" "$work/build/FastPT.Fuzz.dll" "$target" >"$work/afl.log" 2>&1 &
afl=$!

# CPU time of afl-fuzz and every process below it (utime+stime of the living, cutime+cstime of
# the reaped); afl-fuzz starts the target in a session of its own, so walk the parent links.
cpu() {
  ps -e -o pid=,ppid= | awk -v root="$afl" -v hz="$(getconf CLK_TCK)" '
    { parent[$1] = $2 }
    END {
      total = 0
      for (p in parent) {
        q = p
        while (q != "" && q != root && q > 1) q = parent[q]
        if (q != root) continue
        if ((getline line < ("/proc/" p "/stat")) > 0) {
          sub(/^.*\) /, "", line); split(line, f, " ")
          total += f[12] + f[13] + f[14] + f[15]
        }
        close("/proc/" p "/stat")
      }
      print int(total / hz)
    }'
}
used=0
while kill -0 "$afl" 2>/dev/null; do
  sleep 30
  now=$(cpu)  # 0 once afl-fuzz has exited: keep the last figure
  [ "$now" -gt "$used" ] && used=$now
  echo "$(date -u +%FT%TZ) cpu_seconds=$now" >>"$work/cpu.log"
  if [ "$used" -ge "$budget" ]; then
    kill -INT "$afl"  # afl-fuzz writes its final stats and exits
    break
  fi
done
wait "$afl" || true
echo "$target: $used CPU seconds; stats in $work/findings/default/fuzzer_stats"
