#!/usr/bin/env bash
# Measures how many snapshot transfers a follower with a slow disk needs per outage (issue 11).
# A local 3-node cluster of PROTOCOL; node 3's fsyncs are FACTOR times slower (slow_fsync.c via
# LD_PRELOAD) and n1 or n2 leads. Under a continuous SET load (redis-benchmark, 32 clients,
# 100,000 keys), node 3 is SIGKILLed for DOWN seconds, restarted, followed until it has applied
# what was committed at its restart, and watched 5 s more with the load on (a follower that falls
# behind again would need another transfer). Prints the transfers the survivors sent, per node.
#   scripts/measure/slow-follower-outage.sh [PROTOCOL] [DOWN] [FACTOR]
# Env: BIN (ballot-server), PORT_PREFIX (3 digits, ports PREFIX1..3 and their peer ports),
# DATA (work dir, replaced), SERVER_ARGS (extra ballot-server arguments). Needs redis-cli,
# redis-benchmark and cc. Servers listen on 127.0.0.1 only and are stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
protocol=${1:-raft}; down=${2:-60}; factor=${3:-40}
bin=${BIN:-build/bin/ballot-server}; prefix=${PORT_PREFIX:-741}; data=${DATA:-/tmp/ballot-slow-follower}
rm -rf "$data"; mkdir -p "$data"
cc -O2 -shared -fPIC -o "$data/slow_fsync.so" scripts/measure/slow_fsync.c -ldl
nodes=(--node 127.0.0.1:${prefix}1:1 --node 127.0.0.1:${prefix}2:2 --node 127.0.0.1:${prefix}3:3)
declare -a pids
load=""
cleanup() {
  [[ -n "$load" ]] && kill "$load" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
start() {
  local id=$1 preload=""
  [[ $id == 3 ]] && preload="$data/slow_fsync.so"
  LD_PRELOAD=$preload SLOW_FSYNC_FACTOR=$factor "$bin" --protocol "$protocol" --id "$id" "${nodes[@]}" \
    --data-dir "$data/n$id" --log-level info ${SERVER_ARGS:-} >>"$data/log$id" 2>&1 &
  pids[$id]=$!
}
info() { redis-cli -p "${prefix}$1" INFO 2>/dev/null | tr -d '\r' | grep "^$2:" | cut -d: -f2 || true; }
wait_until() { local deadline=$((SECONDS + $1)); shift; until "$@"; do (( SECONDS < deadline )) || return 1; sleep 0.05; done; }

find_leader() { leader=""; for id in 1 2 3; do [[ "$(info $id role)" == leader ]] && leader=$id; done; [[ -n "$leader" ]]; }
start 1; start 2; start 3  # a new cluster serves once every member has met the others
if [[ "$protocol" == paxos ]]; then
  sleep 3; leader=1  # no leader: the load goes to node 1
else
  wait_until 30 find_leader || { echo "no leader within 30 s" >&2; exit 1; }
  if [[ "$leader" == 3 ]]; then  # n3 must be the slow follower: restart it so n1 or n2 leads
    kill "${pids[3]}"; wait "${pids[3]}" 2>/dev/null || true
    wait_until 30 find_leader || { echo "no leader among n1, n2 within 30 s" >&2; exit 1; }
    start 3
  fi
  [[ "$leader" == 3 ]] && { echo "n3 leads: not the scenario" >&2; exit 1; }
fi
sleep 3
timeout $((down + 300)) redis-benchmark -p "${prefix}$leader" -t set -n 100000000 -r 100000 -d 100 -c 32 -q \
  >/dev/null 2>&1 &
load=$!
sleep 10
sent_before=(0 "$(info 1 snapshots_sent)" "$(info 2 snapshots_sent)")
kill -9 "${pids[3]}"; wait "${pids[3]}" 2>/dev/null || true
echo "$protocol: n3 (fsync ${factor}x slower) killed at commit index $(info $leader commit_index)"
sleep "$down"
target=$(info $leader commit_index)
started=$(date +%s%N); start 3
echo "restarted n3 after ${down} s: target index $target, n$leader log_first_index $(info $leader log_first_index)"
caught_up() { local a; a=$(info 3 applied_index); [[ -n "$a" && "$a" -ge "$target" ]]; }
if wait_until 120 caught_up; then
  echo "n3 caught up in $(( ($(date +%s%N) - started) / 1000000 )) ms"
else
  echo "n3 did not catch up within 120 s"
fi
sleep 5
for id in 1 2; do
  echo "n$id sent $(( $(info $id snapshots_sent) - ${sent_before[$id]} )) snapshot transfer(s) to n3"
done
echo "n3 installed $(info 3 snapshots_installed) snapshot(s); applied $(info 3 applied_index), leader commit $(info $leader commit_index)"
