#!/usr/bin/env bash
# The official MCP conformance suite against the release binary over streamable HTTP, twice:
# `mcp-conductor http` as installed (sessions for 2025-11-25 clients) and `--stateless`. Every
# server scenario of the pinned suite runs (`--suite all`: active and pending); the scenarios we
# are expected to fail, each with its reason, are in the expected-failures file given (one per
# pinned suite version), and the suite itself fails a run whose failures differ from that list in
# either direction.
# Run by .ci/clients: conformance.sh <node> <conformance dist/index.js> <expected failures yaml>
set -euo pipefail
node=$1 suite=$2 expected_file=$3
label=${CLIENT_LABEL:-conformance}
: "${MCP_CONDUCTOR_BIN:?run through .ci/clients}"

work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

passed=0 failed=0
run_mode() { # <mode name> <expected failures file> <extra args...>
  local mode=$1 expected=$2; shift 2
  local home="$work/$mode"
  mkdir -p "$home/workspace"
  HOME="$home" MCP_CONDUCTOR_WORKSPACE="$home/workspace" "$MCP_CONDUCTOR_BIN" http --port 0 "$@" \
    2>"$home/server.log" &
  server_pid=$!
  local url=
  for _ in $(seq 300); do
    url=$(grep -oE 'listening on http://[^ ]+' "$home/server.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "$label ($mode): the server did not start:"; cat "$home/server.log"
    failed=$((failed + 1)); return
  fi
  # The suite connects as http://localhost:<port> (its DNS-rebinding scenario sends that Host).
  url=${url/127.0.0.1/localhost}
  echo "$label ($mode): conformance suite against $url"
  local status=0
  "$node" "$suite" server --url "$url" --suite all --expected-failures "$expected" \
    -o "$home/results" >"$home/suite.log" 2>&1 || status=$?
  # (indented: .ci/clients counts lines of the form "<name>: N passed, M failed")
  sed -n '/=== SUMMARY ===/,$p' "$home/suite.log" | sed 's/^/  /'
  # Each scenario has a summary line ("✓ name: ..." or "✗ name: ..."; a warning still shows ✓ but
  # fails the scenario); the baseline's matches are listed as "  ~ name".
  local all bad ok
  all=$(grep -cE '^(✓|✗) ' "$home/suite.log" || true)
  bad=$(grep -cE '^  ~ ' "$home/suite.log" || true)
  ok=$((all - bad))
  if [ "$status" -ne 0 ]; then
    echo "$label ($mode): FAILED (exit $status): failures differ from conformance-expected-failures.yaml"
    grep -vE '^(Running|Results saved|=== Running)' "$home/suite.log" | grep -B2 -A12 -E 'FAILURE|WARNING' | head -80 || true
    failed=$((failed + 1))
  fi
  # A scenario counts as passed when it passed; the expected failures are neither.
  passed=$((passed + ok))
  echo "$label ($mode): $ok scenarios passed, $bad expected to fail"
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
  server_pid=
}

run_mode session "$expected_file"
# Stateless mode opens no sessions by design (`--stateless`: every request stands alone), so the
# scenario that needs a session id to open several streams of one session cannot apply.
cp "$expected_file" "$work/stateless.yaml"
echo "  - server-sse-multiple-streams # needs a session id; --stateless issues none" >>"$work/stateless.yaml"
run_mode stateless "$work/stateless.yaml" --stateless
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
