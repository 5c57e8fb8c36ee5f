#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): installs what is missing, builds, and
# runs the whole suite with ctest.
#   BALLOT_SANITIZE=1 ./scripts/test.sh     the same under ASan + UBSan (build-asan/)
#   ./scripts/test.sh -R raft               extra arguments go to ctest
#   BALLOT_SKIP_FUZZ=1 ./scripts/test.sh    skip the bounded libFuzzer run that follows ctest
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dir=$(./scripts/build.sh | tail -n 1)
(cd "$dir" && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@")
if [[ "${BALLOT_SKIP_FUZZ:-0}" != 1 && $# -eq 0 ]]; then
  ./scripts/fuzz.sh
fi
