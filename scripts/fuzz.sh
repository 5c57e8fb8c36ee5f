#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for a bounded time.
#   BALLOT_FUZZ_SECONDS=N   seconds per target (default 20; the test script's run)
# A crash leaves its input in build-fuzz/crashes/<target>/; copy it into
# tests/fuzz/regressions/<target>/ when fixing the bug, so the ctest replay keeps it fixed.
# The fuzz build leaves out the coroutine code (transport, node, RESP server): see CMakeLists.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BALLOT_FUZZ=1 ./scripts/setup.sh
seconds=${BALLOT_FUZZ_SECONDS:-20}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
CXX=clang++ cmake -S . -B build-fuzz "${generator[@]}" -DBALLOT_FUZZ=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target resp_fuzz peer_fuzz
status=0
passed=0
failed=0
for target in resp_fuzz peer_fuzz; do
  crashes="build-fuzz/crashes/$target"
  corpus="build-fuzz/corpus/$target"
  mkdir -p "$crashes" "$corpus"
  echo "fuzz: $target for ${seconds}s"
  if ! "build-fuzz/tests/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" "tests/fuzz/corpus/$target" \
      >"build-fuzz/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; input in $crashes/, log in build-fuzz/$target.log"
    tail -n 30 "build-fuzz/$target.log"
    status=1
    failed=$((failed + 1))
  else
    grep -E "stat::number_of_executed_units" "build-fuzz/$target.log" | tail -n 1
    passed=$((passed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
