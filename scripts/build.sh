#!/usr/bin/env bash
# Configures and builds Ballot into build/ (or $BALLOT_BUILD_DIR). BALLOT_SANITIZE=1 builds with
# AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${BALLOT_SANITIZE:-0}" == 1 ]]; then
  dir="${BALLOT_BUILD_DIR:-build-asan}"
  extra=(-DBALLOT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
else
  dir="${BALLOT_BUILD_DIR:-build}"
  extra=(-DCMAKE_BUILD_TYPE="${BALLOT_BUILD_TYPE:-RelWithDebInfo}")
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$dir" "${generator[@]}" "${extra[@]}" >&2
cmake --build "$dir" -j "$(nproc)" >&2  # progress on stderr; stdout is the build dir
echo "$dir"
