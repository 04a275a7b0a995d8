#!/usr/bin/env bash
# Failover, once for real, on this machine: a private PostgreSQL 15 primary, a streaming standby
# made with `pg_basebackup -R`, HAProxy (TCP mode) in front of both, and `credreg serve` behind
# HAProxy. Loops reveal and rotate one credential, and poll /readyz and /healthz, while the primary
# is stopped hard (`pg_ctl stop -m immediate`) and the standby promoted (`pg_ctl promote`); the
# service is not restarted. At the end it prints a timeline (seconds from the kill), every status seen, and
# whether each write acknowledged before the kill survived it.
#
#   scripts/failover-demo.sh                         # HAProxy routes to whichever server is writable
#   FAILOVER_CHECK=backup scripts/failover-demo.sh   # primary as the server, standby as `backup`
#   FAILOVER_SYNC=1 scripts/failover-demo.sh         # synchronous replication to the standby
#
# Settings (environment): FAILOVER_CHECK=writable|backup (default writable), FAILOVER_SYNC=0|1
# (default 0), FAILOVER_GAP_SECONDS (kill to promote, default 5), FAILOVER_STEADY_SECONDS (load
# before the kill, default 3), FAILOVER_LOOPS (request loops side by side, default 4),
# FAILOVER_HAPROXY_RETRIES (HAProxy `retries`, default 2), FAILOVER_KEEP=1 keeps the temp dir.
#
# How HAProxy picks the server (FAILOVER_CHECK):
# - writable: both servers are ordinary servers and an external check runs
#   `SELECT pg_is_in_recovery()` on each, so only a server that accepts writes is "up". During the
#   gap neither is, HAProxy closes new connections at once, and the service answers 503. After
#   `pg_ctl promote` the standby passes its next check and traffic moves to it. `option pgsql-check`
#   cannot do this: it only proves a PostgreSQL server answers a startup packet, and a standby does.
# - backup: the primary is the server and the standby a `backup` with `pgsql-check`. When the
#   primary's check fails the standby takes traffic at once, still read-only until promoted: writes
#   fail with SQLSTATE 25006, which the service answers 503. It also means HAProxy would send traffic
#   back to an old primary that comes back on its own: fence it (here it stays stopped).
#
# Needs root (initdb and the clusters run as the `postgres` OS user), PostgreSQL 15 binaries in
# /usr/lib/postgresql/15/bin, HAProxy at /usr/sbin/haproxy, node (with this repo's node_modules),
# curl, jq and openssl. Loopback addresses and random free ports only; every process it starts is
# stopped, and its temp dir removed, on exit.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
CHECK=${FAILOVER_CHECK:-writable}
SYNC=${FAILOVER_SYNC:-0}
GAP=${FAILOVER_GAP_SECONDS:-5}
STEADY=${FAILOVER_STEADY_SECONDS:-3}
RETRIES=${FAILOVER_HAPROXY_RETRIES:-2}
REPO=$(cd "$(dirname "$0")/.." && pwd)

case $CHECK in writable | backup) ;; *) echo "FAILOVER_CHECK must be writable or backup" >&2; exit 2 ;; esac
[[ $(id -u) == 0 ]] || { echo "run as root: initdb and the clusters run as the postgres OS user" >&2; exit 2; }
for tool in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/pg_basebackup" "$PGBIN/psql" "$HAPROXY"; do
  [[ -x $tool ]] || { echo "missing $tool" >&2; exit 2; }
done
for tool in node curl jq openssl runuser; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/credreg-failover.XXXXXX)
chmod 700 "$WORK"
chown postgres: "$WORK"
mkdir "$WORK/sock" && chown postgres: "$WORK/sock"

SERVICE_PID='' HAPROXY_PID='' DRIVER_PIDS=()
cleanup() {
  local rc=$?
  set +e
  # The request loops stop after the request they are in (curl gives up after 15 s at most).
  touch "$WORK/stop"
  for p in "${DRIVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ -n $SERVICE_PID ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill -TERM "$SERVICE_PID"
    for _ in $(seq 50); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVICE_PID" 2>/dev/null
  fi
  [[ -n $HAPROXY_PID ]] && kill "$HAPROXY_PID" 2>/dev/null && wait "$HAPROXY_PID" 2>/dev/null
  for d in primary standby; do
    [[ -f $WORK/$d/postmaster.pid ]] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$d" -m fast -w stop >/dev/null 2>&1
  done
  if [[ ${FAILOVER_KEEP:-0} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() { runuser -u postgres -- env PGPASSFILE="$WORK/pgpass" "$@"; }
say() { printf '==> %s\n' "$*"; }
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# Four distinct free ports.
ports=()
while ((${#ports[@]} < 4)); do
  p=$(free_port)
  [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
P1=${ports[0]} P2=${ports[1]} PH=${ports[2]} PS=${ports[3]}

PW=$(openssl rand -hex 24)
printf '%s\n' "$PW" >"$WORK/pwfile"
printf '127.0.0.1:*:*:postgres:%s\n' "$PW" >"$WORK/pgpass"
chown postgres: "$WORK/pwfile" "$WORK/pgpass"
chmod 600 "$WORK/pwfile" "$WORK/pgpass"
psql_at() { # port, sql: as postgres over TCP with the password
  as_pg "$PGBIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$1 user=postgres dbname=${3:-postgres} connect_timeout=2" -c "$2"
}

# ---------------------------------------------------------------------------------------------
say "primary: initdb (scram-sha-256 on 127.0.0.1, generated password), port $P1"
as_pg "$PGBIN/initdb" -D "$WORK/primary" -U postgres --pwfile="$WORK/pwfile" \
  --auth-host=scram-sha-256 --auth-local=peer -E UTF8 --no-instructions >"$WORK/initdb.log"
# The default pg_hba.conf already has `host all` and `host replication` for 127.0.0.1/32 with the
# host method given above. Replication settings: wal_level replica and 10 WAL senders are defaults.
cat >>"$WORK/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
wal_keep_size = '256MB'
EOF
as_pg "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w \
  -o "-p $P1 -k $WORK/sock" start >/dev/null
psql_at "$P1" 'CREATE DATABASE registry'

say "standby: pg_basebackup -R (streaming, replication slot standby1), port $P2"
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U postgres -D "$WORK/standby" \
  -R -X stream -c fast -C -S standby1 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/standby" -l "$WORK/standby.log" -w \
  -o "-p $P2 -k $WORK/sock -c cluster_name=standby1" start >/dev/null
for _ in $(seq 100); do
  [[ $(psql_at "$P1" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == 1 ]] && break
  sleep 0.1
done
if [[ $SYNC == 1 ]]; then
  # Only now: with the setting in place and no standby, every commit (CREATE DATABASE included)
  # would wait. The standby's application_name is its cluster_name.
  psql_at "$P1" "ALTER SYSTEM SET synchronous_standby_names = 'standby1'"
  psql_at "$P1" "ALTER SYSTEM SET synchronous_commit = 'on'"
  psql_at "$P1" 'SELECT pg_reload_conf()' >/dev/null
  for _ in $(seq 100); do
    [[ $(psql_at "$P1" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == 1 ]] && break
    sleep 0.1
  done
fi
say "replication: $(psql_at "$P1" "SELECT application_name || ' ' || state || ', sync_state ' || sync_state FROM pg_stat_replication")"

# ---------------------------------------------------------------------------------------------
say "haproxy: TCP on 127.0.0.1:$PH, check mode '$CHECK'"
cat >"$WORK/is-writable.sh" <<EOF
#!/bin/sh
# HAProxy external check: \$3 is the server's address, \$4 its port. Up only if it accepts writes.
export PGPASSFILE='$WORK/pgpass'
r=\$('$PGBIN/psql' -X -t -A "host=\$3 port=\$4 user=postgres dbname=postgres connect_timeout=1" \
  -c 'SELECT pg_is_in_recovery()' 2>/dev/null)
[ "\$r" = f ]
EOF
chmod 700 "$WORK/is-writable.sh"
{
  echo 'global'
  echo '  maxconn 256'
  echo "  stats socket $WORK/haproxy.sock mode 600 level admin"
  if [[ $CHECK == writable ]]; then
    echo '  external-check'
    echo '  insecure-fork-wanted'
  fi
  cat <<EOF
defaults
  mode tcp
  timeout connect 1s
  timeout client 1h
  timeout server 1h
  timeout check 2s
  # Attempts on a refused server, each after a turn-around delay: what the first requests after
  # the kill wait for, before the check marks the primary down.
  retries $RETRIES
listen postgres
  bind 127.0.0.1:$PH
  # A server marked down has its sessions cut, so no client keeps talking to a demoted server.
  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
EOF
  if [[ $CHECK == writable ]]; then
    cat <<EOF
  option external-check
  external-check path "/usr/bin:/bin"
  external-check command $WORK/is-writable.sh
  server primary 127.0.0.1:$P1 check
  server standby 127.0.0.1:$P2 check
EOF
  else
    cat <<EOF
  option pgsql-check user postgres
  server primary 127.0.0.1:$P1 check
  server standby 127.0.0.1:$P2 check backup
EOF
  fi
} >"$WORK/haproxy.cfg"
"$HAPROXY" -c -q -f "$WORK/haproxy.cfg"
# Each HAProxy line is stamped with the epoch, so server state changes go on the timeline.
"$HAPROXY" -db -f "$WORK/haproxy.cfg" \
  > >(while IFS= read -r l; do printf '%s\t%s\n' "$EPOCHREALTIME" "$l"; done >"$WORK/haproxy.log") 2>&1 &
HAPROXY_PID=$!
for _ in $(seq 50); do
  psql_at "$PH" 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.2
done

# ---------------------------------------------------------------------------------------------
say "credreg serve --migrate on 127.0.0.1:$PS, DATABASE_URL through HAProxy"
cd "$REPO"
env -i PATH="$PATH" HOME="${HOME:-/root}" \
  DATABASE_URL="postgres://postgres:$PW@127.0.0.1:$PH/registry" \
  CREDREG_ROOT_KEY="$(openssl rand -base64 32)" \
  CREDREG_LISTEN="127.0.0.1:$PS" \
  CREDREG_MAINTENANCE_INTERVAL_MS=0 \
  CREDREG_RATE_LIMIT=1000000 \
  node --import tsx src/cli/index.ts serve --migrate >"$WORK/service.log" 2>"$WORK/service.err" &
SERVICE_PID=$!
API="http://127.0.0.1:$PS"
for _ in $(seq 150); do
  curl -sf "$API/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$WORK/service.err" "$WORK/service.log" >&2; exit 1; }
  sleep 0.2
done
PLATFORM=$(grep -o 'crp\.[A-Za-z0-9._-]*' "$WORK/service.err" | head -n1)
[[ -n $PLATFORM ]] || { echo "no platform admin token on stderr" >&2; cat "$WORK/service.err" >&2; exit 1; }

call() { # method, path, token, [json body]: prints the body, fails on a non-2xx status
  local out
  out=$(curl -sS --max-time 15 -X "$1" -H "authorization: Bearer $3" \
    ${4:+-H 'content-type: application/json' --data "$4"} -w '\n%{http_code}' "$API$2")
  [[ ${out##*$'\n'} == 2* ]] || { echo "$1 $2 -> ${out##*$'\n'}: ${out%$'\n'*}" >&2; return 1; }
  printf '%s\n' "${out%$'\n'*}"
}
TENANT=$(call POST /v1/tenants "$PLATFORM" '{"name":"acme"}' | jq -r .id)
ADMIN=$(call POST "/v1/tenants/$TENANT/tokens" "$PLATFORM" '{"name":"alice"}' | jq -r .token)
VAULT=$(call POST /v1/vaults "$ADMIN" '{"name":"payments","maxVersions":100}' | jq -r .id)
CRED=$(call POST "/v1/vaults/$VAULT/credentials" "$ADMIN" \
  '{"name":"stripe","type":"api_key","value":"sk_test_0"}' | jq -r .id)
say "tenant $TENANT, vault $VAULT, credential $CRED (version 1)"

# The price of synchronous replication, shown before the failover: with the standby stopped, a
# write waits (its commit is on the primary's disk, but not acknowledged) until the standby is back.
: >"$WORK/acked-extra"
if [[ $SYNC == 1 ]]; then
  say "synchronous replication: standby stopped, one rotation sent, standby started again 3 s later"
  as_pg "$PGBIN/pg_ctl" -D "$WORK/standby" -m fast -w stop >/dev/null
  curl -s -o "$WORK/body.sync" -w '%{http_code} %{time_total}\n' --max-time 30 -X POST \
    -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    --data '{"value":"sk_test_sync"}' "$API/v1/credentials/$CRED/rotate" >"$WORK/sync.out" &
  SYNC_CURL=$!
  sleep 3
  as_pg "$PGBIN/pg_ctl" -D "$WORK/standby" -l "$WORK/standby.log" -w \
    -o "-p $P2 -k $WORK/sock -c cluster_name=standby1" start >/dev/null
  wait "$SYNC_CURL" || true
  read -r s took <"$WORK/sync.out"
  say "  that rotation answered $s after $took s (version $(jq -r '.version // "-"' "$WORK/body.sync"))"
  [[ $s == 200 ]] && jq -r .version "$WORK/body.sync" >>"$WORK/acked-extra"
  for _ in $(seq 100); do
    [[ $(psql_at "$P1" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'") == 1 ]] && break
    sleep 0.1
  done
  say "  replication: $(psql_at "$P1" "SELECT application_name || ' ' || state || ', sync_state ' || sync_state FROM pg_stat_replication")"
fi

# ---------------------------------------------------------------------------------------------
# The load: $LOOPS loops side by side, each a reveal, a rotation, a /readyz and a /healthz in turn, until
# $WORK/stop exists. Each request is one line of events.tsv: start epoch, op, loop-seq, HTTP status,
# problem code (or the /readyz detail), version, the value written, seconds taken.
LOOPS=${FAILOVER_LOOPS:-4}
drive() {
  local loop=$1 i=0 t out s took body="$WORK/body.$1"
  request() { # method path [json body] [request id]: prints "status seconds"
    rm -f "$body" "$body.h"
    # On a failure curl still writes the status (000) and the time; its exit code is not ours to keep.
    curl -s -o "$body" -D "$body.h" -w '%{http_code} %{time_total}\n' --max-time 15 -X "$1" \
      -H "authorization: Bearer $ADMIN" ${4:+-H "x-request-id: $4"} \
      ${3:+-H 'content-type: application/json' --data "$3"} "$API$2" || :
  }
  record() { # t op status seconds [value]
    local code=- ver=- text
    text=$(cat "$body" 2>/dev/null || :)
    if [[ $3 == 2* ]]; then
      [[ $text =~ \"version\":([0-9]+) ]] && ver=${BASH_REMATCH[1]}
    else
      if [[ $text =~ \"code\":\"([A-Z_]+)\" ]]; then code=${BASH_REMATCH[1]}
      elif [[ $text =~ \"detail\":\"([^\";]*) ]]; then code=${BASH_REMATCH[1]// /_}; fi
      printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${text:0:400}" >>"$WORK/errors.tsv"
      if [[ $3 == 503 ]]; then # the Retry-After header of every 503, or "none"
        printf '%s %s\n' "$2" "$(tr -d '\r' <"$body.h" 2>/dev/null | awk -F': *' 'tolower($1) == "retry-after" { v = $2 } END { print v == "" ? "none" : v }')" \
          >>"$WORK/retry-after"
      fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$loop-$i" "$3" "$code" "$ver" "${5:--}" "$4" \
      >>"$WORK/events.tsv"
  }
  while [[ ! -e $WORK/stop ]]; do
    i=$((i + 1))
    t=$EPOCHREALTIME
    read -r s took < <(request POST "/v1/credentials/$CRED/reveal" '{"reason":"failover demo"}' "demo-reveal-$loop-$i")
    record "$t" reveal "$s" "$took"
    t=$EPOCHREALTIME
    read -r s took < <(request POST "/v1/credentials/$CRED/rotate" "{\"value\":\"sk_test_$loop-$i\"}")
    record "$t" rotate "$s" "$took" "sk_test_$loop-$i"
    t=$EPOCHREALTIME
    read -r s took < <(request GET /readyz)
    record "$t" readyz "$s" "$took"
    t=$EPOCHREALTIME
    read -r s took < <(request GET /healthz)
    record "$t" healthz "$s" "$took"
  done
}
: >"$WORK/events.tsv"
: >"$WORK/errors.tsv"
: >"$WORK/retry-after"
T_START=$EPOCHREALTIME
DRIVER_PIDS=()
for l in $(seq "$LOOPS"); do
  drive "$l" &
  DRIVER_PIDS+=($!)
done
say "load running: $LOOPS loops of reveal, rotate, /readyz, /healthz; ${STEADY}s before the kill"
sleep "$STEADY"

# ---------------------------------------------------------------------------------------------
T_KILL=$EPOCHREALTIME
say "KILL: pg_ctl stop -m immediate on the primary"
as_pg "$PGBIN/pg_ctl" -D "$WORK/primary" -m immediate -w stop >/dev/null
T_KILLED=$EPOCHREALTIME
sleep "$GAP"
T_PROMOTE=$EPOCHREALTIME
say "PROMOTE: pg_ctl promote on the standby"
as_pg "$PGBIN/pg_ctl" -D "$WORK/standby" -w promote >/dev/null
T_PROMOTED=$EPOCHREALTIME

# Until a reveal and a rotation have both succeeded after the promotion, then 3 s more (at most 60 s).
for _ in $(seq 600); do
  if awk -F'\t' -v p="$T_PROMOTE" '$1 > p && $4 ~ /^2/ { ok[$2] = 1 } END { exit !(ok["reveal"] && ok["rotate"]) }' \
    "$WORK/events.tsv"; then break; fi
  kill -0 "$SERVICE_PID" 2>/dev/null || { say "the service exited (see below)"; break; }
  sleep 0.1
done
sleep 3
touch "$WORK/stop"
wait "${DRIVER_PIDS[@]}" || true
DRIVER_PIDS=()
T_END=$EPOCHREALTIME

# ---------------------------------------------------------------------------------------------
rel() { awk -v t="$1" -v k="$T_KILL" 'BEGIN { printf "%+7.2f", t - k }'; }
echo
echo "== timeline (seconds from the kill; HAProxy check '$CHECK', synchronous replication: $([[ $SYNC == 1 ]] && echo on || echo off))"
{
  printf '%s\t%s\n' "$T_START" 'load starts (reveal, rotate, /readyz, /healthz in turn)'
  printf '%s\t%s\n' "$T_KILL" 'pg_ctl stop -m immediate (primary)'
  printf '%s\t%s\n' "$T_KILLED" 'primary is down'
  printf '%s\t%s\n' "$T_PROMOTE" 'pg_ctl promote (standby)'
  printf '%s\t%s\n' "$T_PROMOTED" 'standby promoted'
  printf '%s\t%s\n' "$T_END" 'load stops'
  # HAProxy's own lines about server state.
  awk -F'\t' '$2 ~ /Server postgres\/|has no server available/ {
      msg = $2; sub(/^.*\] *\([0-9]+\) *: */, "", msg); sub(/, reason:.*$/, "", msg)
      sub(/\. [0-9]+ active and.*$/, "", msg); print $1 "\thaproxy: " msg }' "$WORK/haproxy.log"
  # The first request of each op whose status differs from that op's previous one.
  awk -F'\t' '{ key = $4 ($4 ~ /^2/ ? "" : " " $5)
      if (key != last[$2]) { print $1 "\t" $2 " " key (last[$2] == "" ? "" : "  (was " last[$2] ")"); last[$2] = key } }' \
    <(sort -n "$WORK/events.tsv")
  awk -F'\t' -v k="$T_KILL" -v p="$T_PROMOTE" '$1 > k && $4 !~ /^2/ { failed[$2] = 1 }
      $1 > p && $4 ~ /^2/ && failed[$2] && !seen[$2]++ { print $1 "\tfirst " $2 " success after the promotion" }' \
    <(sort -n "$WORK/events.tsv")
} | sort -n | while IFS=$'\t' read -r t what; do printf '  %s s  %s\n' "$(rel "$t")" "$what"; done

echo
echo "== per second (s from the kill: status x count)"
awk -F'\t' -v k="$T_KILL" '{
    s = int(($1 - k) >= 0 ? ($1 - k) : ($1 - k) - 1); if (s < lo || lo == "") lo = s; if (s > hi) hi = s
    c[s, $2, $4 ($4 ~ /^2/ ? "" : " " $5)]++ }
  END {
    for (s = lo; s <= hi; s++) {
      line = sprintf("  %+4d", s)
      n = split("reveal rotate readyz healthz", ops, " ")
      for (o = 1; o <= n; o++) {
        part = ""
        for (key in c) { split(key, kk, SUBSEP); if (kk[1] == s && kk[2] == ops[o]) part = part (part ? ", " : "") kk[3] " x" c[key] }
        line = line sprintf(" | %s %-30s", ops[o], part ? part : "-")
      }
      print line
    }
  }' "$WORK/events.tsv"

echo
echo "== totals"
awk -F'\t' '{ n[$2 " " $4 ($4 ~ /^2/ ? "" : " " $5)]++ } END { for (k in n) printf "  %-60s %d\n", k, n[k] }' \
  "$WORK/events.tsv" | sort
FIVE_HUNDREDS=$(awk -F'\t' '$4 ~ /^5/ && $4 != 503' "$WORK/events.tsv" | wc -l)
NO_ANSWER=$(awk -F'\t' '$4 == "000"' "$WORK/events.tsv" | wc -l)
awk -F'\t' -v k="$T_KILL" '$8 + 0 > m + 0 { m = $8; what = $2 " " $4 " " $5; t = $1 - k }
  END { printf "  slowest answer: %.2f s (%s, sent at %+.2f s)\n", m, what, t }' "$WORK/events.tsv"
if [[ -s $WORK/retry-after ]]; then
  echo "  Retry-After on the 503s (op value, count): $(sort "$WORK/retry-after" | uniq -c | awk '{ printf "%s%s %s x%s", sep, $2, $3, $1; sep = "; " }')"
fi
echo "  responses with a 5xx other than 503: $FIVE_HUNDREDS; requests with no HTTP answer: $NO_ANSWER"
if [[ -s $WORK/errors.tsv ]]; then
  echo "  distinct error bodies (op status body, count):"
  awk -F'\t' '{ b = $4; gsub(/,?"requestId":"[^"]*"/, "", b); n[$2 " " $3 " " b]++ } END { for (k in n) print "    " k "  x" n[k] }' \
    "$WORK/errors.tsv" | sort
fi

# ---------------------------------------------------------------------------------------------
echo
echo "== durability: was every write acknowledged before the kill kept? (read from the promoted standby)"
# Straight from the new primary as the superuser (which RLS does not filter), so the answer does
# not depend on the service.
VERSIONS=$(psql_at "$P2" "SELECT version FROM credential_versions WHERE credential_id = '$CRED'" registry | sort -n)
ACKED_BEFORE=$(awk -F'\t' -v k="$T_KILL" '$2 == "rotate" && $4 == 200 && $1 + $8 < k { print $6 }' "$WORK/events.tsv" | sort -n)
ACKED_ALL=$( (awk -F'\t' '$2 == "rotate" && $4 == 200 { print $6 }' "$WORK/events.tsv"; cat "$WORK/acked-extra") | sort -n)
missing() { comm -23 <(printf '%s\n' "$1" | sed '/^$/d' | sort) <(printf '%s\n' "$2" | sed '/^$/d' | sort) | sort -n | xargs; }
MISSING_VERSIONS=$(missing "$ACKED_BEFORE" "$VERSIONS")
echo "  rotations acknowledged before the kill: $(printf '%s\n' "$ACKED_BEFORE" | sed '/^$/d' | wc -l) (versions $(printf '%s\n' "$ACKED_BEFORE" | head -n1)..$(printf '%s\n' "$ACKED_BEFORE" | tail -n1)); missing after the promotion: ${MISSING_VERSIONS:-none}"
echo "  rotations acknowledged in the whole run: $(printf '%s\n' "$ACKED_ALL" | sed '/^$/d' | wc -l); missing: $(missing "$ACKED_ALL" "$VERSIONS" | sed 's/^$/none/')"
# Versions that exist but were never acknowledged: a commit whose answer was lost in the cut.
UNACKED=$(comm -13 <(printf '%s\n' "$ACKED_ALL" | sort) <(printf '%s\n' "$VERSIONS" | sort) | sort -n | grep -vx 1 | xargs || true)
echo "  versions present but never acknowledged to the client: ${UNACKED:-none}"
LAST_ACK=$(awk -F'\t' '$2 == "rotate" && $4 == 200 && $6 + 0 > v + 0 { v = $6; val = $7 } END { print v "\t" val }' "$WORK/events.tsv")
CURRENT=$(psql_at "$P2" "SELECT current_version FROM stored_credentials WHERE id = '$CRED'" registry)
if NOW=$(call POST "/v1/credentials/$CRED/reveal" "$ADMIN" '{"reason":"failover demo: check"}' 2>/dev/null); then
  NOW="$(jq -r .value <<<"$NOW") by a reveal through the service"
else
  NOW='the service does not answer'
fi
echo "  last acknowledged rotation: version ${LAST_ACK%%$'\t'*} (${LAST_ACK##*$'\t'}); current after the run: version $CURRENT ($NOW)"

# Every granted reveal must have its access-log row, found by the request id the loop sent.
# The row's request_id is the server's; the id this script sent is kept beside it.
psql_at "$P2" "SELECT client_request_id FROM credential_access_log WHERE credential_id = '$CRED'
  AND action = 'reveal' AND outcome = 'granted' AND client_request_id IS NOT NULL" registry >"$WORK/audit.ids"
REVEALS_BEFORE=$(awk -F'\t' -v k="$T_KILL" '$2 == "reveal" && $4 == 200 && $1 + $8 < k { print "demo-reveal-" $3 }' "$WORK/events.tsv")
MISSING_REVEALS=$(comm -23 <(printf '%s\n' "$REVEALS_BEFORE" | sed '/^$/d' | sort) <(sort -u "$WORK/audit.ids") | xargs)
echo "  reveals granted before the kill: $(printf '%s\n' "$REVEALS_BEFORE" | sed '/^$/d' | wc -l); without their access-log row after the promotion: ${MISSING_REVEALS:-none}"
REVEALS_ALL=$(awk -F'\t' '$2 == "reveal" && $4 == 200 { print "demo-reveal-" $3 }' "$WORK/events.tsv")
echo "  reveals granted in the whole run: $(printf '%s\n' "$REVEALS_ALL" | sed '/^$/d' | wc -l); without their row: $(comm -23 <(printf '%s\n' "$REVEALS_ALL" | sed '/^$/d' | sort) <(sort -u "$WORK/audit.ids") | xargs | sed 's/^$/none/')"

echo
echo "== the service"
if kill -0 "$SERVICE_PID" 2>/dev/null; then
  echo "  credreg serve: same process (pid $SERVICE_PID), never restarted; /readyz now: $(curl -s "$API/readyz")"
else
  rc=0
  wait "$SERVICE_PID" || rc=$?
  SERVICE_PID=''
  echo "  credreg serve: NOT RUNNING: it exited with status $rc at $(jq -r 'select(.level >= 0) | .time' "$WORK/service.log" 2>/dev/null | tail -n1 | awk -v k="$T_KILL" '{ printf "%+.2f s (its last log line)", $1 / 1000 - k }')"
fi
echo "  new primary: $(psql_at "$P2" "SELECT 'in recovery: ' || pg_is_in_recovery() || ', timeline ' || ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")"
echo "  service log, warnings and errors by message (level msg [error code], count):"
jq -r 'select(.level >= 40) | "\(.level) \(.msg)\(if .error then " [" + (.error | tostring) + "]" elif .err then " [" + (.err | tostring) + "]" elif .code then " [" + .code + "]" else "" end)"' \
  "$WORK/service.log" 2>/dev/null | sort | uniq -c | sed 's/^/   /' || true
if grep -qv '^credreg: created the platform admin token' "$WORK/service.err"; then
  echo "  service stderr (other than the token line):"
  grep -v '^credreg: created the platform admin token' "$WORK/service.err" | head -n 40 | sed 's/^/    /'
fi

echo
echo "== multi-host URLs"
node -e '
  const pg = require("pg");
  const url = `postgres://postgres@127.0.0.1:${process.argv[1]},127.0.0.1:${process.argv[2]}/registry?target_session_attrs=read-write`;
  try { new pg.Client(url); console.log("  pg: accepted?!"); }
  catch (e) { console.log(`  pg ${require("pg/package.json").version}: a multi-host URL is refused (${e.name}: ${e.message}); on one host, target_session_attrs is parsed and then ignored (not a pg connection parameter)`); }
' "$P1" "$P2"
# libpq (psql) does support it: the dead old primary is skipped, the promoted standby is chosen.
LIBPQ=$(as_pg "$PGBIN/psql" -X -t -A \
  "postgresql://postgres@127.0.0.1:$P1,127.0.0.1:$P2/registry?target_session_attrs=read-write&connect_timeout=2" \
  -c 'SELECT inet_server_port()' 2>&1 | tail -n1)
echo "  libpq (psql) with 127.0.0.1:$P1,127.0.0.1:$P2 and target_session_attrs=read-write connects to port $LIBPQ (the promoted standby); the service gets this only through a proxy like the HAProxy here, or a driver or pooler that supports it"

echo
OK_BEFORE=$(awk -F'\t' -v k="$T_KILL" '$4 ~ /^2/ && $1 + $8 < k' "$WORK/events.tsv" | wc -l)
OK_AFTER=$(awk -F'\t' -v p="$T_PROMOTED" '$4 ~ /^2/ && $1 > p' "$WORK/events.tsv" | wc -l)
if ((OK_BEFORE == 0 || OK_AFTER == 0)); then
  echo "RESULT: FAILED: $OK_BEFORE successes before the kill, $OK_AFTER after the promotion"
  exit 1
elif [[ $FIVE_HUNDREDS == 0 && $NO_ANSWER == 0 && -z $MISSING_VERSIONS && -z $MISSING_REVEALS ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
  echo "RESULT: the service followed the promotion without a restart; no 5xx but 503; no acknowledged write lost"
else
  echo "RESULT: see above (5xx other than 503: $FIVE_HUNDREDS; no answer: $NO_ANSWER; missing versions: ${MISSING_VERSIONS:-none}; missing reveal rows: ${MISSING_REVEALS:-none})"
  exit 1
fi
