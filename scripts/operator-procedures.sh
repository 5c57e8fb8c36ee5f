#!/usr/bin/env bash
# Runs the operator procedures of README "Changing the members" on a fresh local cluster of one
# engine, as an operator types them (redis-cli against ballot-server), and checks every answer:
#   1. hand leadership away before maintenance (basic Paxos: there is no leader; it says so),
#      stop a member, write while it is down, start it again and see it catch up;
#   2. move a member to a new host: a fourth node started with --join is added (a learner,
#      promoted once caught up), then the old member is removed and stopped;
#   3. replace a member whose disk died: SIGKILL, wipe, MEMBER REMOVE, start on an empty dir with
#      --join, MEMBER ADD under the same id and address.
# Every command and its answer is printed; the first answer that is not the expected one stops
# the run with exit 1. Waits are bounded polls (up to 20 s), not fixed sleeps.
#
#   scripts/operator-procedures.sh raft|multipaxos|paxos [PORT]
# PORT (default 7001): nodes 1-4 serve clients on PORT..PORT+3 (peers 10000 above). Servers come
# from build/bin (BALLOT_BIN overrides); data dirs and logs go to a temp dir removed at the end.
set -uo pipefail

protocol=${1:-}
base=${2:-7001}
case "$protocol" in raft | multipaxos | paxos) ;; *)
    echo "usage: $0 raft|multipaxos|paxos [PORT]" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BALLOT_BIN:-$root/build/bin}
command -v redis-cli >/dev/null || { echo "$0: redis-cli not found (apt-get install redis-tools)" >&2; exit 2; }
[ -x "$bin/ballot-server" ] || { echo "$0: $bin/ballot-server not built" >&2; exit 2; }

work=$(mktemp -d /tmp/ballot-operator-XXXXXX)
declare -A pid
cleanup() {
    for p in "${pid[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port() { echo $((base + $1 - 1)); }
addr() { echo "127.0.0.1:$(port "$1")"; }
member() { echo "--node $(addr "$1"):$1"; }
bootstrap="$(member 1) $(member 2) $(member 3)"

# start ID ARGS...: a ballot-server on the node's port, its data dir and log in the work dir.
start() {
    local id=$1
    shift
    # shellcheck disable=SC2068
    "$bin/ballot-server" --protocol "$protocol" --id "$id" --data-dir "$work/node-$id" $@ \
        >>"$work/log-$id.txt" 2>&1 &
    pid[$id]=$!
}
stop() { kill "-${2:-TERM}" "${pid[$1]}" && wait "${pid[$1]}" 2>/dev/null; unset "pid[$1]"; }

fail() {
    echo "FAILED: $*" >&2
    for f in "$work"/log-*.txt; do echo "--- $f" >&2; tail -5 "$f" >&2; done
    exit 1
}
ask() { redis-cli -p "$(port "$1")" "${@:2}" 2>&1 | tr -d '\r'; }
# eventually ID WANT COMMAND...: prints the command and its answer, which must contain WANT;
# another answer (an election under way, a change in progress: "...; try again") is printed in
# parentheses and the command asked again, every 100 ms for up to 20 s.
eventually() {
    local id=$1 want=$2 got shown=""
    shift 2
    echo "\$ redis-cli -p $(port "$id") $*"
    for _ in $(seq 200); do
        got=$(ask "$id" "$@")
        if grep -qF -- "$want" <<<"$got"; then
            echo "    ${got//$'\n'/$'\n'    }"
            return 0
        fi
        [ "$got" != "$shown" ] && echo "    (not yet: $(tr '\n' ' ' <<<"$got"))"
        shown=$got
        sleep 0.1
    done
    fail "node $id: '$*' answered '$got', expected '$want'"
}
# expect ID WANT COMMAND...: asked once.
expect() {
    local id=$1 want=$2 got
    shift 2
    echo "\$ redis-cli -p $(port "$id") $*"
    got=$(ask "$id" "$@")
    echo "    ${got//$'\n'/$'\n'    }"
    grep -qF -- "$want" <<<"$got" || fail "node $id: '$*' answered '$got', expected '$want'"
}
info() { ask "$1" INFO | sed -n "s/^$2://p"; }

# Multi-Paxos and basic Paxos: a change governs from config_governs_from on; take the next node
# away only once a majority of the voters applied up to there (README "Changing the members").
in_force() {
    local via=$1 from voters there
    from=$(info "$via" config_governs_from)
    [ "${from:-0}" = 0 ] && return 0  # Raft: in force once applied
    for _ in $(seq 200); do
        voters=$(ask "$via" MEMBER LIST | sed -n 's/@.* voter$//p')
        there=0
        for v in $voters; do
            local applied
            applied=$(info "$v" applied_index)
            [ -n "$applied" ] && [ $((applied + 1)) -ge "$from" ] && there=$((there + 1))
        done
        [ $((there * 2)) -gt "$(wc -w <<<"$voters")" ] && { echo "    (in force: $there voters applied through $((from - 1)))"; return 0; }
        sleep 0.1
    done
    fail "the change through node $via never came into force"
}

echo "== $protocol: a 3-node cluster on ports $(port 1)-$(port 3)"
for id in 1 2 3; do start "$id" "$bootstrap"; done
eventually 1 OK SET before 1

echo "== hand leadership away before maintenance"
if [ "$protocol" = paxos ]; then
    expect 1 "ERR basic Paxos has no leader" MEMBER TRANSFER 2
    down=3
else
    eventually 1 leader_id INFO >/dev/null
    old=$(info 1 leader_id)
    target=1
    [ "$old" = 1 ] && target=2
    echo "    (node $old leads)"
    expect 3 OK MEMBER TRANSFER "$target"
    eventually "$target" role:leader INFO >/dev/null
    echo "    (node $target leads now)"
    down=$old
fi
stop "$down"
up=1
[ "$down" = 1 ] && up=2
eventually "$up" OK SET during maintenance
start "$down" "$bootstrap"
eventually "$down" maintenance GET during

echo "== move node 2 to $(addr 4)"
start 4 --join "$(member 1)" "$(member 4)"
eventually 4 role:joining INFO >/dev/null
eventually 3 OK MEMBER ADD 4 "$(addr 4)"
eventually 3 "4@$(addr 4) voter" MEMBER LIST
eventually 3 OK MEMBER REMOVE 2
in_force 3
expect 3 "" MEMBER LIST
stop 2
rm -rf "$work/node-2"
eventually 4 maintenance GET during

echo "== replace node 3, whose disk died"
stop 3 KILL
rm -rf "$work/node-3"
eventually 1 OK MEMBER REMOVE 3
in_force 1
start 3 --join "$(member 1)" "$(member 3)"
eventually 1 OK MEMBER ADD 3 "$(addr 3)"
eventually 1 "3@$(addr 3) voter" MEMBER LIST
eventually 3 maintenance GET during
eventually 3 OK SET after replace
eventually 1 replace GET after
echo "== $protocol: every procedure answered as expected"
