#!/usr/bin/env bash
# The prepared simulator runs in docs/runs/ (issue 14): each engine README (and tests/sim/README.md)
# names a page and the ballot-sim command that renders it. This script runs exactly those commands.
#
#   scripts/runs.sh [BIN_DIR]           regenerate every page in docs/runs/ (BIN_DIR: build/bin)
#   scripts/runs.sh --check [BIN_DIR]   render each into a temp dir and compare with docs/runs/;
#                                       exit 1 naming every page that differs (ctest runs this, so
#                                       a change that alters a run says so until the pages are
#                                       regenerated and committed with it)
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
bin="${1:-build/bin}"
[[ -x "$bin/ballot-sim" ]] || { echo "runs.sh: no ballot-sim in $bin (build first)" >&2; exit 1; }

# Every "build/bin/ballot-sim ... --out docs/runs/NAME.html" written in a README, once.
mapfile -t commands < <(grep -ho 'build/bin/ballot-sim [^`]*--out docs/runs/[A-Za-z0-9._-]*\.html' \
    README.md ./*/README.md tests/sim/README.md | sort -u)
[[ ${#commands[@]} -gt 0 ]] || { echo "runs.sh: no ballot-sim commands found in the READMEs" >&2; exit 1; }

out_dir=docs/runs
if [[ $check == 1 ]]; then
    out_dir=$(mktemp -d)
    trap 'rm -rf "$out_dir"' EXIT
fi
failed=0
for command in "${commands[@]}"; do
    page=${command##*--out docs/runs/}
    read -r -a args <<< "${command#build/bin/ballot-sim }"
    args=("${args[@]/#docs\/runs\/$page/$out_dir/$page}")
    if ! timeout 300 "$bin/ballot-sim" "${args[@]}" > /dev/null; then
        echo "FAILED: $command" >&2
        failed=1
        continue
    fi
    if [[ $check == 1 ]]; then
        if cmp -s "$out_dir/$page" "docs/runs/$page"; then
            echo "same: docs/runs/$page"
        else
            echo "DIFFERS: docs/runs/$page is not what its README command renders now; run scripts/runs.sh and commit the pages" >&2
            failed=1
        fi
    else
        echo "wrote docs/runs/$page"
    fi
done
# A page no README names any more is stale.
for page in docs/runs/*.html; do
    if ! printf '%s\n' "${commands[@]}" | grep -q -- "--out $page\$"; then
        echo "STALE: $page is named by no README command" >&2
        failed=1
    fi
done
exit $failed
