# Shared by scripts/consul.sh and scripts/etcd.sh (sourced, not run): waiting for, and stopping, the
# one server a demo starts in the background. The sourcing script sets STATE (the folder holding
# the server's pid file) and its own log and die message functions.

# ds_await WHAT LOGFILE CHECK [ARGS...]: waits up to 30 s for CHECK to succeed while the server whose
# pid is in $STATE/pid runs; on failure prints the log's tail and dies naming WHAT.
ds_await() {
  local what=$1 logfile=$2
  shift 2
  for _ in $(seq 1 150); do
    "$@" && return 0
    kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { tail -n 30 "$logfile" >&2; die "$what exited"; }
    sleep 0.2
  done
  tail -n 30 "$logfile" >&2
  die "$what was not ready within 30 s"
}

# ds_stop WHAT: stops the server whose pid is in $STATE/pid (up to 10 s), forgetting its address.
ds_stop() {
  if [[ -f "$STATE/pid" ]]; then
    local pid
    pid=$(cat "$STATE/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    rm -f "$STATE/pid" "$STATE/addr"
    log "$1 stopped"
  fi
}
