# Counted CI steps, sourced by .ci/packages and .ci/native. Each step prints one line
# "step passed|FAILED|skipped: NAME (N s)" that .ci/run counts; `failed` becomes 1 if one fails.
failed=0

step() {  # step NAME COMMAND...: one counted step; it fails if COMMAND fails or called `fail`
  local name=$1 t0=$SECONDS
  shift
  step_failed=0
  "$@" || step_failed=1
  if [ "$step_failed" -eq 0 ]; then echo "step passed: $name ($((SECONDS - t0)) s)"; else echo "step FAILED: $name ($((SECONDS - t0)) s)"; failed=1; fi
}
skip() { echo "step skipped: $1 ($2)"; }
fail() { echo "  $*" >&2; step_failed=1; return 1; }
