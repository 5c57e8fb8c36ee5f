#!/usr/bin/env bash
# Installs what building and testing Ballot needs, from Debian 12 packages, if it is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build
  libboost1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev
  libspdlog-dev
  libedit-dev          # ballot-client's line editing and history
  libssl-dev           # OpenSSL: TLS (common/tls.cc) and constant-time password comparison (kv/auth.cc)
  libjemalloc-dev      # ballot-server's allocator (kv/CMakeLists.txt)
  openssl              # the openssl command: scripts/make-certs.sh (TLS tests, ballot-bench --tls)
  redis-tools          # redis-cli / redis-benchmark: end-to-end tests and the bench baseline
  redis-server         # the bench's optional --baseline redis reference row
  # Real Redis client libraries, run end to end by tests/client_libraries_e2e_test.cc
  python3-redis        # redis-py
  nodejs node-redis    # node-redis
  libhiredis-dev       # hiredis
)
if [[ "${BALLOT_SANITIZE:-0}" == 1 || "${BALLOT_FUZZ:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Headless Chromium for tests/live_view_browser_test.py (the live view in a real browser). Large,
# and not in every Debian mirror or architecture: without it that one test skips and says so, so a
# failure to install it does not stop the setup.
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: installing chromium (for the live view's browser test)"
  "${sudo_cmd[@]}" apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium ||
    echo "setup: chromium could not be installed; live_view_browser_test will skip"
fi
