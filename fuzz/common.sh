# Shared by run.sh and cmin.sh: build fuzz/FastPT.Fuzz for one target and instrument it.
# Needs: apt-get install -y afl++; dotnet tool install -g SharpFuzz.CommandLine --version 2.3.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sharpfuzz=$(command -v sharpfuzz || echo "$HOME/.dotnet/tools/sharpfuzz")
dotnet=$(readlink -f "$(command -v dotnet)")  # afl-cmin wants a path

# dotnet is not an AFL-instrumented binary (SharpFuzz instruments the IL); the machine is shared,
# so no CPU pinning and no demands on the CPU governor or core_pattern.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1

# build DIR: publish the fuzz project into DIR and instrument the engine, our parsers and TraceEvent (the
# .nettrace parser proper) in place there; the normal build output is never instrumented.
build() {
  rm -rf "$1" && mkdir -p "$1"
  dotnet publish "$root/fuzz/FastPT.Fuzz" -c Release -o "$1" --nologo -v q >"$1.log"
  for dll in FastPT FastPT.Scenarios FastPT.Traces Microsoft.Diagnostics.Tracing.TraceEvent Microsoft.Diagnostics.FastSerialization; do
    "$sharpfuzz" "$1/$dll.dll" >>"$1.log"
  done
}
