#!/usr/bin/env bash
# Minimize what a campaign found into the committed corpus:
#   fuzz/cmin.sh TARGET DIR...     (e.g. fuzz/out/TARGET/findings/default/queue)
# Keeps the smallest set of inputs with the same coverage (afl-cmin) in fuzz/corpus/TARGET,
# merged with what is there already. See docs/fuzzing.md.
set -euo pipefail
source "$(dirname "$0")/common.sh"
target=${1:?usage: fuzz/cmin.sh TARGET DIR...}; shift
work=$root/fuzz/out/$target-cmin
build "$work/build"
rm -rf "$work/in" "$work/min" && mkdir -p "$work/in" "$root/fuzz/corpus/$target"
cp "$root/fuzz/corpus/$target"/* "$work/in"/ 2>/dev/null || true
for d in "$@"; do cp "$d"/* "$work/in"/ 2>/dev/null || true; done
nice -n 19 afl-cmin -i "$work/in" -o "$work/min" -t 5000 -m none -- "$dotnet" "$work/build/FastPT.Fuzz.dll" "$target"
# Short, stable names: the content hash.
rm -f "$root/fuzz/corpus/$target"/*
for f in "$work/min"/*; do cp "$f" "$root/fuzz/corpus/$target/$(sha1sum "$f" | cut -c1-16)"; done
echo "$target: $(ls "$root/fuzz/corpus/$target" | wc -l) inputs, $(cat "$root/fuzz/corpus/$target"/* | wc -c) bytes"
