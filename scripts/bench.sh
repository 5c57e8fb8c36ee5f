#!/usr/bin/env bash
# The bench command (README): installs what is missing, builds, and compares the engines under
# the same load on local 3-node clusters. Extra arguments go to ballot-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dir=$(./scripts/build.sh | tail -n 1)
if [[ -x "$dir/bin/ballot-bench" ]]; then
  exec "$dir/bin/ballot-bench" --server "$dir/bin/ballot-server" "$@"
fi

# A build without ballot-bench: a plain write load with redis-benchmark against each engine's leader.
requests=${BALLOT_BENCH_REQUESTS:-50000}
clients=${BALLOT_BENCH_CLIENTS:-32}
printf '%-11s %12s   (redis-benchmark -t set -c %s -d 100 -n %s, 3 nodes, fsync on)\n' engine "SET ops/s" "$clients" "$requests"
for protocol in raft multipaxos paxos; do
  work=$(mktemp -d /tmp/ballot-bench-XXXXXX)
  # Client ports 16000-22701, peer ports 10000 above: below Linux's ephemeral ports (32768 on),
  # which any outgoing connection may take between the pick and the bind (bench/local_cluster.h).
  base=$((16000 + RANDOM % 6700))
  nodes=(--node 127.0.0.1:$base:1 --node 127.0.0.1:$((base + 1)):2 --node 127.0.0.1:$((base + 2)):3)
  pids=()
  for id in 1 2 3; do
    "$dir/bin/ballot-server" --protocol "$protocol" --id $id "${nodes[@]}" --data-dir "$work/node-$id" \
      --log-level warn >"$work/node-$id.log" 2>&1 &
    pids+=($!)
  done
  ok=0
  for _ in $(seq 1 100); do
    if redis-cli -p $base SET warmup 1 2>/dev/null | grep -q OK; then ok=1; break; fi
    sleep 0.1
  done
  if ((ok)); then
    leader=$base
    for id in 1 2 3; do
      port=$((base + id - 1))
      redis-cli -p $port INFO 2>/dev/null | grep -q 'role:leader' && leader=$port
    done
    rps=$(redis-benchmark -p "$leader" -t set -c "$clients" -d 100 -n "$requests" -q 2>/dev/null | tr '\r' '\n' |
          grep -oE 'SET: [0-9.]+' | tail -n 1 | awk '{print $2}')
    printf '%-11s %12s\n' "$protocol" "${rps:-failed}"
  else
    printf '%-11s %12s\n' "$protocol" "no-start"
    tail -n 5 "$work/node-1.log"
  fi
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
done
