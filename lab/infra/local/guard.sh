#!/usr/bin/env bash
# The lab's guard for a cluster owned by one test run: `guard.sh <owner pid> <node> <lab.mjs>`.
#
# While the owner (Vitest's main process) lives, remember its node children (the test workers).
# When it dies without cleaning up (SIGKILL, OOM, a crash), kill those workers, which would otherwise
# spin on against a dead cluster (seen: a re-parented Vitest worker at 100% CPU and 2 GiB, its timers
# starved), then run `lab down`, which stops every process in the run's pid files.
# Bash, not node: it idles for the whole run and costs a few hundred KiB.
owner=$1 node=$2 lab=$3
workers=""
while kill -0 "$owner" 2>/dev/null; do
  workers=""
  for child in $(cat /proc/"$owner"/task/*/children 2>/dev/null); do
    case "$(cat /proc/"$child"/comm 2>/dev/null)" in node*) workers="$workers $child" ;; esac
  done
  sleep 1
done
for worker in $workers; do
  # Only a worker that is still orphaned from this owner (not a recycled pid with a live parent).
  parent=$(awk '{print $4}' /proc/"$worker"/stat 2>/dev/null) || continue
  kill -0 "$parent" 2>/dev/null && [ "$parent" != 1 ] && continue
  echo "guard: owner $owner is gone, killing its orphaned worker $worker"
  kill -9 "$worker" 2>/dev/null
done
echo "guard: owner $owner is gone, stopping the cluster"
exec "$node" "$lab" down --quiet
