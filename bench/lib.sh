# Shared by the bench scripts (sourced, not run).

# await_address NAME PID: waits (30 s at most) until the process PID, whose output goes to
# $WORK/NAME.out and $WORK/NAME.err, prints `listening on http://127.0.0.1:<port>`, and sets
# ADDR to 127.0.0.1:<port>; exits the script if the process dies or never prints it.
await_address() {
  local name=$1 pid=$2
  ADDR=""
  for _ in $(seq 1 300); do
    ADDR=$(sed -n 's#^listening on http://\(127\.0\.0\.1:[0-9]*\)$#\1#p' "$WORK/$name.out" | head -n1)
    [ -n "$ADDR" ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited:" >&2
      cat "$WORK/$name.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name did not start within 30 s" >&2
  exit 1
}

# ensure_tool TOOL: installs the Debian package TOOL when the command TOOL is missing (as root,
# else with sudo).
ensure_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "== installing $1 (Debian package)" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >/dev/null &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# ensure_wrk: installs wrk when it is missing.
ensure_wrk() { ensure_tool wrk; }

# target_dir: prints the workspace's cargo target directory.
target_dir() {
  cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}
