#!/usr/bin/env bash
# Records golden reports from the live kernel: NAME.expected (stdout) and, for scripts that
# end in an error, NAME.error (the stderr line). Never edit the outputs by hand.
# Usage: tests/scenarios/record.sh [NAME.script ...]   (default: every script here)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dotnet build "$root/src/FastPT.Cli" -c Release -v q -nologo >/dev/null
cli="$root/src/FastPT.Cli/bin/Release/net10.0/FastPT.Cli.dll"
cd "$here"
scripts=("$@")
[ ${#scripts[@]} -eq 0 ] && scripts=(*.script)
for s in "${scripts[@]}"; do
  name=${s%.script}
  rc=0
  dotnet "$cli" script --kernel "$s" >"$name.expected" 2>"$name.stderr" || rc=$?
  if [ $rc -eq 0 ]; then
    rm -f "$name.error" "$name.stderr"
  elif [ $rc -eq 2 ] && grep -q '^error: line ' "$name.stderr"; then
    mv "$name.stderr" "$name.error"
  else
    echo "$s: exit $rc" >&2; cat "$name.stderr" >&2; exit 1
  fi
  echo "recorded $name (exit $rc)"
done
