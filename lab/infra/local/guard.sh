#!/usr/bin/env bash
# The lab's guard for a cluster owned by one test run: `guard.sh <owner pid> <node> <lab.mjs> <pid dir>`.
#
# While the owner (Vitest's main process) lives, remember its node children (the test workers).
# When it dies without cleaning up (SIGKILL, OOM, a crash, and SIGINT/SIGTERM too: Vitest's handler
# exits at once without running the global teardown), kill those workers, which would otherwise
# spin on against a dead cluster (seen: a re-parented Vitest worker at 100% CPU and 2 GiB, its timers
# starved), SIGKILL every process group in the run's pid files, then run `lab down --now`, which
# removes the pid files and the run dir (and stops anything the bash pass could not read).
# Bash, not node: it idles for the whole run and costs a few hundred KiB, and it kills at once where
# `lab down --now` alone took 18.6 s of wall time for 1.9 s of CPU (starting node, at load 31 on 2 cores).
owner=$1 node=$2 lab=$3 pids=$4
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
echo "guard: owner $owner is gone, killing the cluster"
# The supervisor's pid files (JSON.stringify(record, null, 2): the top-level "pid" and "startTime" are
# the only keys indented by two spaces). Like the supervisor, signal a pid only while its start time
# (field 22 of /proc/<pid>/stat) is the recorded one, so a recycled pid is never hit. No graceful
# shutdown: the cluster was the dead run's alone and its data is deleted with it.
for file in "$pids"/*.json; do
  [ -f "$file" ] || continue
  pid=$(sed -n 's/^  "pid": \([0-9][0-9]*\),\{0,1\}$/\1/p' "$file")
  recorded=$(sed -n 's/^  "startTime": "\([0-9]*\)",\{0,1\}$/\1/p' "$file")
  [ -n "$pid" ] && [ "$pid" != $$ ] || continue
  stat=$(cat /proc/"$pid"/stat 2>/dev/null) || continue
  read -r -a fields <<<"${stat##*) }"
  [ "${fields[19]}" = "$recorded" ] || continue
  echo "guard: killing $(basename "$file" .json) (process group $pid)"
  kill -KILL -- -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
done
exec "$node" "$lab" down --quiet --now
