#!/usr/bin/env bash
# Checks issue 7's first requirement end to end: a test run interrupted at any moment (cluster start-up
# included) leaves no process and no port of the lab behind 15 s later.
#
#   lab/infra/local/interrupt-check.sh [seconds …]      default: 5 12 25
#   SIGNAL=TERM SUITE=lab/e-000 lab/infra/local/interrupt-check.sh 8
#
# For each delay: stop any cluster of this checkout (`lab down`, so the run starts cold and its global
# setup starts an ephemeral cluster), start `vitest run $SUITE`, send SIG$SIGNAL to the Vitest process
# (not its group: like `kill`, and unlike a terminal's Ctrl-C, nothing else gets the signal) after that
# many seconds, then watch for 15 s. Lab processes are this checkout's java, mariadbd, redis-server,
# lab-toxiproxy-server and guard.sh (recognised by their working directory or command line, so other
# checkouts' clusters on the machine are not counted), plus node processes (orphaned test workers,
# services, a `lab down`). On the containers provider (LAB_PROVIDER=containers, or the default where an
# engine answers) the processes inside the containers are seen the same way (their command lines name
# the bind-mounted run dir), and the checkout's containers (label lab.home) are counted too, running or
# not. Exits 1 if anything was left; then cleans up with `lab down`.
set -u
root=$(cd "$(dirname "$0")/../../.." && pwd)
suite=${SUITE:-lab/e-002}
signal=${SIGNAL:-INT}
delays=("$@")
[ ${#delays[@]} -eq 0 ] && delays=(5 12 25)
logs=$(mktemp -d /tmp/lab-interrupt-check.XXXXXX)
cd "$root" || exit 2

# "pid name" of every lab process of this checkout: its working directory is inside the checkout (the
# registry runs in .lab/apicurio, MariaDB and Redis in their data dirs) or its command line names a path
# in it (a broker restarted by a test worker of another directory). One `find` and one `grep` over
# /proc, then one `ps`: a shell loop over every process on a busy machine took seconds.
lab_processes() {
  local pids pid stat comm args
  pids=$({
    find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "$root" -o -lname "$root/*" -o -lname "$root (deleted)" \) 2>/dev/null
    grep -laF -- "$root/" /proc/[0-9]*/cmdline 2>/dev/null
  } | cut -d/ -f3 | sort -u | grep -vx "$$" | paste -sd, -)
  [ -n "$pids" ] || return 0
  ps -o pid=,stat=,comm=,args= -p "$pids" | while read -r pid stat comm args; do
    case "$stat" in Z*) continue ;; esac # a zombie has exited (holds no port), only its parent has not reaped it yet
    case "$comm" in
      java | mariadbd | redis-server | lab-toxiproxy-s) echo "$pid $comm" ;;
      bash) case "$args" in *guard.sh*) echo "$pid guard.sh" ;; esac ;;
      node | vitest) echo "$pid $comm" ;; # Vitest, its workers, services, a `lab down`
    esac
  done
}

# "id container" of every container of this checkout, running or not (none without an engine).
lab_containers() {
  docker ps --all --quiet --filter "label=lab.home=$root/.lab" 2>/dev/null | sed 's/$/ container/'
}

# Listening TCP ports of the given pids.
ports_of() {
  [ $# -eq 0 ] && return
  local listening pid
  listening=$(ss -ltnpH 2>/dev/null)
  for pid in "$@"; do echo "$listening" | grep -F "pid=$pid," | awk '{print $4}' | sed 's/.*://'; done | sort -un
}

# Of the given ports, those something still listens on.
still_listening() {
  [ $# -eq 0 ] && return
  local listening port
  listening=$(ss -ltnH 2>/dev/null | awk '{print $4}' | sed 's/.*://')
  for port in "$@"; do echo "$listening" | grep -qx "$port" && echo "$port"; done | sort -un
}

summary() { awk '{print $2}' | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "} END {if (NR == 0) printf "none"}'; }

failed=0
for delay in "${delays[@]}"; do
  node tools/lab-cli/lab.mjs down --quiet >/dev/null 2>&1
  if [ -n "$(lab_processes; lab_containers)" ]; then
    echo "lab processes of $root are running before the run, not cold:"; lab_processes; exit 2
  fi
  log="$logs/vitest-$delay.log"
  set -m # own process group for the run, as a shell gives a foreground job; the signal goes to Vitest only
  node_modules/.bin/vitest run "$suite" >"$log" 2>&1 &
  vitest=$!
  launched=$(date +%s.%N)
  set +m
  sleep "$delay"
  # What runs at the signal. Taken just before it: on a loaded machine the scan takes a moment, so the
  # signal's real time is printed too.
  at_signal=$(lab_processes; lab_containers)
  ports=$(ports_of $(lab_processes | awk '{print $1}'))
  phase=$(grep -E '^\[lab\]|✓|×' "$log" | tail -1 | cut -c1-100)
  kill -"$signal" "$vitest" 2>/dev/null
  signalled=$(date +%s.%N)
  cluster_gone="" all_gone=""
  # Poll until 15 s after the signal (by the clock: a poll itself takes a while on a busy machine).
  # Two moments: the cluster's processes and ports gone, and also every node process (orphaned
  # workers, the guard's `lab down` tidying up pid files) gone.
  while [ "$(echo "$(date +%s.%N) - $signalled < 15" | bc)" = 1 ]; do
    now=$(lab_processes; lab_containers)
    since=$(echo "$(date +%s.%N) - $signalled" | bc | xargs printf '%.1f')
    if [ -z "$cluster_gone" ] && [ -z "$(echo "$now" | grep -v ' node$' | grep -v ' vitest$')" ] && [ -z "$(still_listening $ports)" ]; then
      cluster_gone=$since
    fi
    [ -n "$cluster_gone" ] && [ -z "$all_gone" ] && [ -z "$now" ] && all_gone=$since
    sleep 0.5
  done
  left=$(lab_processes; lab_containers)
  left_ports=$(still_listening $ports $(ports_of $(lab_processes | awk '{print $1}')) | tr '\n' ' ')
  echo "SIG$signal at ${delay} s (sent $(echo "$signalled - $launched" | bc | xargs printf '%.1f') s after the start; last output: ${phase:-none})"
  echo "  at the signal: $(echo -n "$at_signal" | grep . | summary); listening ports: $(echo $ports | wc -w)"
  if [ -z "$left" ] && [ -z "$left_ports" ]; then
    echo "  15 s later: no process, no port (cluster processes and ports gone ${cluster_gone:-?} s after the signal, node processes ${all_gone:-?} s)"
  else
    failed=1
    echo "  15 s later: LEFT $(echo -n "$left" | grep . | summary); ports still listening: ${left_ports:-none}"
    echo "$left" | grep -v ' container$' | awk '{print $1}' | xargs -r ps -o pid,etimes,args -p | cut -c1-160 | sed 's/^/    /'
    node tools/lab-cli/lab.mjs down --quiet >/dev/null 2>&1
  fi
  wait "$vitest" 2>/dev/null
done
echo "Vitest output: $logs"
exit $failed
