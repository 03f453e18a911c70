#!/usr/bin/env bash
# ScaiVault scale benchmark (issue 6). See docs/benchmarks.md, "Scale (issue 6)".
#
#   bash bench/scale.sh
#
# For each store (SQLite, the embedded default; PostgreSQL, in a throwaway database created and
# dropped here): initialises and starts a production-mode server, registers SCALE_TENANTS real
# tenants, each with its first tenant admin and that admin's token (POST /v1/identity/register,
# as the bootstrap partner admin), and loads secrets into them through the HTTP API, each
# tenant with its own token (wrk with bench/scale.lua at c=SCALE_LOAD_CONC: every secret is a
# real API write, sealed under the server's keyring, versioned, audited, with its outbox event),
# growing the corpus to each size of SCALE_SIZES. At each size it measures, on a quiet machine:
#   read     GET of a uniformly random secret of the corpus, c=1 (latency) and c=64 (throughput)
#   list     GET ?prefix=<a directory of 100>&limit=50 of a random tenant, c=1
#   listall  GET ?prefix=svc&limit=50: the whole tenant matches (size/tenants secrets), c=1
#   write    PUT of a new version of a random secret (durable, audited), c=64, spread over every
#            tenant, and all in one tenant (write1t)
# and the disk used (file and table sizes, row counts). Then, on PostgreSQL at the largest size,
# starts two more nodes on the same database and measures read and write throughput at c=64
# with the load spread over 1, 2 and 3 nodes (wrk thread t talks to node t % n). Every case must
# answer without errors; the first tenant's audit chain must verify at the end.
#
# Knobs (environment):
#   SCALE_STORES          stores to run (default "sqlite postgres")
#   SCALE_SIZES           corpus sizes, ascending (default "10000 100000 1000000"); multiples of
#                         100 * SCALE_TENANTS give every tenant whole directories of 100
#   SCALE_TENANTS         tenants (default 100)
#   SCALE_BYTES           length of each secret's value string (default 200; a stored secret's
#                         data is ~250 bytes of JSON)
#   SCALE_DURATION        seconds per measured case (default 10)
#   SCALE_LOAD_CONC       concurrency of the loader (default 64)
#   SCALE_CLUSTER_NODES   node counts of the PostgreSQL cluster cases (default "1 2 3"; "" = skip)
#   SCALE_DATABASE_URL    PostgreSQL server to create the throwaway database in (default
#                         postgres://postgres@127.0.0.1:5432/postgres; needs CREATEDB)
#   SCALE_OUT             directory for raw wrk output and results (default bench/results/scale)
#   SCALE_DATA_PARENT     where the temporary data dirs are created (default $TMPDIR or /tmp);
#                         must be a real disk (on tmpfs fsync is free)
#   BENCH_QUIET_WAIT      seconds to wait, before each case, for other processes to leave the
#                         CPU idle (default 300; 0 = do not wait)
#   BENCH_RETRIES         times a case disturbed by other processes is repeated (default 2)
#   SCAIVAULT_BIN         use this binary instead of building one
#
# Total time with the defaults on a quiet 2-core machine: 12-16 minutes per store (loading 1M
# secrets through the API is 7-8 of them), plus the build and any waiting for quiet.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD

STORES=${SCALE_STORES:-"sqlite postgres"}
SIZES=${SCALE_SIZES:-"10000 100000 1000000"}
TENANTS=${SCALE_TENANTS:-100}
export SCALE_BYTES=${SCALE_BYTES:-200}
DURATION=${SCALE_DURATION:-10}
LOAD_CONC=${SCALE_LOAD_CONC:-64}
CLUSTER_NODES=${SCALE_CLUSTER_NODES-"1 2 3"}
ADMIN_URL=${SCALE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
OUT=${SCALE_OUT:-$REPO_ROOT/bench/results/scale}
QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
RETRIES=${BENCH_RETRIES:-2}
LUA=$REPO_ROOT/bench/scale.lua

log() { printf '==> [%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'scale: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------------

apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "$* is missing and I am not root; install it and rerun"
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null || die "$* is missing and there is no apt-get; install it and rerun"
  log "installing $* with apt-get"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null; then
    "${sudo[@]}" apt-get update >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null
  fi
}
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
case " $STORES " in *" postgres "*) command -v psql >/dev/null || apt_install postgresql-client ;; esac

for s in $SIZES; do
  [ $((s % TENANTS)) -eq 0 ] || die "size $s is not a multiple of SCALE_TENANTS ($TENANTS)"
done

# --- binary ------------------------------------------------------------------------------------

if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  log "building the release binary (cargo build --release -p scaivault)"
  cargo build --release -p scaivault
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-$REPO_ROOT/target}/release/scaivault
fi
[ -x "$BIN" ] || die "no executable at $BIN"

# --- state and cleanup -------------------------------------------------------------------------

WORK=
NODE_PIDS=()
NODE_URLS=()
DB_NAME=
LOADER_PID=
cleanup() {
  local pid
  if [ -n "$LOADER_PID" ]; then
    kill -INT "$LOADER_PID" 2>/dev/null || true
    wait "$LOADER_PID" 2>/dev/null || true
    LOADER_PID=
  fi
  for pid in "${NODE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NODE_PIDS=()
  NODE_URLS=()
  if [ -n "$DB_NAME" ]; then
    psql "$ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    DB_NAME=
  fi
  if [ -n "$WORK" ]; then
    rm -rf "$WORK"
    WORK=
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
printf 'store\tsize\tcase\tnodes\tc\treq_s\tp50_ms\tp99_ms\tmax_ms\trequests\terrors\tsrv_cores\tsrv_us_req\tdb_cores\twrk_cores\tother_cores\tdirty_mb\tloadavg\n' \
  >"$RESULTS"
DISK="$OUT/disk.tsv"
printf 'store\tsize\twhat\tbytes\n' >"$DISK"
LOADS="$OUT/load.tsv"
printf 'store\tfrom\tto\tseconds\twrites_s\tsrv_cores\tdb_cores\twrk_cores\tother_cores\tloadavg\n' >"$LOADS"
ERRORS_TOTAL=0
NOISY=0
CLK_TCK=$(getconf CLK_TCK)

# --- CPU accounting (as bench/run.sh) ---------------------------------------------------------

pid_ticks() { # "pid:ticks ..." (user+system) of the given pids that exist
  local pid t
  for pid in "$@"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) && printf '%s:%s ' "$pid" "$t"
  done
  echo
}
ticks_delta() { # BEFORE AFTER (from pid_ticks): ticks used by pids present both times
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, ":"); t0[kv[1]] = kv[2] }
    n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, ":"); if (kv[1] in t0) d += kv[2] - t0[kv[1]] }
    print d + 0 }'
}
machine_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Dirty and writeback page cache (MB) when a case starts: other processes' writes (a build)
# queue ahead of our fsyncs on the same disk without using much CPU.
dirty_mb() { awk '/^(Dirty|Writeback):/ {kb += $2} END {printf "%.0f", kb / 1024}' /proc/meminfo; }
# PostgreSQL processes working for this benchmark: the backends of its database and the shared
# writers (WAL writer, checkpointer, background writer, autovacuum).
db_pids() {
  [ -n "$DB_NAME" ] || return 0
  psql "$ADMIN_URL" -Atq -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB_NAME'
    OR backend_type IN ('walwriter', 'checkpointer', 'background writer', 'autovacuum worker')" \
    2>/dev/null || true
}

to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}

# Waits (up to BENCH_QUIET_WAIT) until nothing uses more than 0.15 cores: the servers are idle
# here, so all busy time is someone else's (a build, another test) or PostgreSQL's own
# housekeeping after a load.
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) m0 m1 busy
  while :; do
    m0=$(machine_ticks)
    sleep 2
    m1=$(machine_ticks)
    busy=$(awk -v m=$((m1 - m0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", m / hz / 2}')
    awk -v o="$busy" 'BEGIN {exit !(o <= 0.15)}' && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "WARNING: the machine is still busy ($busy cores, load $(loadavg)); measuring anyway"
      return 0
    fi
    log "the machine is busy ($busy cores, load $(loadavg)); waiting"
  done
}

# run_case STORE SIZE CASE NODES C THREADS [env assignments...]: one wrk run of bench/scale.lua
# against the first NODES nodes, appended to $RESULTS; repeated (after waiting for quiet) when
# other processes used more than 0.15 cores during it.
run_case() {
  local store=$1 size=$2 name=$3 nodes=$4 c=$5 threads=$6
  shift 6
  local raw="$OUT/$store-$size-$name-n$nodes-c$c.txt"
  local attempt=0 t0 t1 d0 d1 m0 m1 srv db load dirty TIMEFORMAT='%U %S' addrs dbp
  local rps p50 p99 max reqs non2xx sock errors srv_cores srv_us db_cores wrk_cores other
  addrs=$(printf '%s\n' "${NODE_URLS[@]:0:$nodes}" | sed 's#^http://##' | paste -sd, -)
  while :; do
    attempt=$((attempt + 1))
    wait_quiet
    load=$(loadavg)
    dirty=$(dirty_mb)
    log "$store size=$size $name nodes=$nodes c=$c threads=$threads ${DURATION}s (load $load)"
    mapfile -t dbp < <(db_pids)
    t0=$(pid_ticks "${NODE_PIDS[@]}")
    d0=$(pid_ticks "${dbp[@]}")
    m0=$(machine_ticks)
    { time env "$@" SCALE_SIZE="$size" SCALE_THREADS="$threads" SCALE_ADDRS="$addrs" \
        wrk -t"$threads" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" \
        "${NODE_URLS[0]}" >"$raw"; } 2>"$raw.cpu"
    t1=$(pid_ticks "${NODE_PIDS[@]}")
    d1=$(pid_ticks "${dbp[@]}")
    m1=$(machine_ticks)
    srv=$(ticks_delta "$t0" "$t1")
    db=$(ticks_delta "$d0" "$d1")
    wrk_cores=$(awk -v s="$DURATION" '{printf "%.2f", ($1 + $2) / s}' "$raw.cpu")
    srv_cores=$(awk -v d="$srv" -v hz="$CLK_TCK" -v s="$DURATION" 'BEGIN {printf "%.2f", d / hz / s}')
    db_cores=$(awk -v d="$db" -v hz="$CLK_TCK" -v s="$DURATION" 'BEGIN {printf "%.2f", d / hz / s}')
    other=$(awk -v m=$((m1 - m0)) -v d=$((srv + db)) -v w="$wrk_cores" -v hz="$CLK_TCK" \
      -v s="$DURATION" 'BEGIN {o = (m - d) / hz / s - w; printf "%.2f", o < 0 ? 0 : o}')
    awk -v o="$other" 'BEGIN {exit !(o > 0.15)}' || break
    if [ "$attempt" -gt "$RETRIES" ]; then
      log "WARNING: other processes used $other cores during $name; the machine was not quiet"
      NOISY=1
      break
    fi
    log "other processes used $other cores during $name; repeating"
  done
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$raw")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$raw")")
  max=$(to_ms "$(awk '$1 == "Latency" {print $4; exit}' "$raw")")
  reqs=$(awk '/requests in/ {print $1}' "$raw")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$raw")
  sock=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' "$raw")
  errors=$(( ${non2xx:-0} + ${sock:-0} ))
  ERRORS_TOTAL=$((ERRORS_TOTAL + errors))
  srv_us=$(awk -v d="$srv" -v hz="$CLK_TCK" -v r="$reqs" 'BEGIN {printf "%.0f", r ? d / hz / r * 1e6 : 0}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$store" "$size" \
    "$name" "$nodes" "$c" "$rps" "$p50" "$p99" "$max" "$reqs" "$errors" "$srv_cores" "$srv_us" \
    "$db_cores" "$wrk_cores" "$other" "$dirty" "$load" >>"$RESULTS"
  [ "$errors" -eq 0 ] || log "WARNING: $name had $errors failed requests (see $raw)"
}

# --- servers -----------------------------------------------------------------------------------

# start_node CONFIG: starts one more server process on CONFIG, appends its pid and URL.
start_node() {
  local n=${#NODE_PIDS[@]} url=
  "$BIN" server --config "$1" >"$WORK/node$n.out" 2>"$WORK/node$n.err" &
  NODE_PIDS+=($!)
  for _ in $(seq 1 600); do
    url=$(sed -n 's/^ScaiVault listening on \(http[^ ]*\).*/\1/p' "$WORK/node$n.out" | head -n1)
    [ -n "$url" ] && break
    kill -0 "${NODE_PIDS[$n]}" 2>/dev/null || { cat "$WORK/node$n.err" >&2; die "node $n exited"; }
    sleep 0.1
  done
  [ -n "$url" ] || die "node $n did not start within 60 s"
  NODE_URLS+=("$url")
  log "node $n at $url (pid ${NODE_PIDS[$n]})"
}

api() { # api METHOD PATH [BODY]
  curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "${NODE_URLS[0]}$2"
}
json_field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\([^\",}]*\).*/\1/p"; }

# load STORE FROM TO: PUTs secrets FROM..TO-1 through the API with wrk.
load() {
  local store=$1 from=$2 to=$3 done_dir="$WORK/load-$3" wrk_pid t0 t1 d0 d1 m0 m1 w0 start secs
  local raw="$OUT/$store-load-$from-$to.txt" load_avg dbp failed threads=2
  mkdir -p "$done_dir"
  wait_quiet
  load_avg=$(loadavg)
  log "$store: loading secrets $from..$((to - 1)) at c=$LOAD_CONC (load $load_avg)"
  mapfile -t dbp < <(db_pids)
  t0=$(pid_ticks "${NODE_PIDS[@]}")
  d0=$(pid_ticks "${dbp[@]}")
  m0=$(machine_ticks)
  start=$(date +%s.%N)
  SCALE_MODE=load SCALE_FROM=$from SCALE_TO=$to SCALE_DONE_DIR=$done_dir SCALE_THREADS=$threads \
    wrk -t$threads -c"$LOAD_CONC" -d7200s --timeout 30s -s "$LUA" "${NODE_URLS[0]}" >"$raw" 2>"$raw.err" &
  wrk_pid=$!
  LOADER_PID=$wrk_pid
  # At least 100 writes/s, or something is wrong (an unanswered PUT keeps a thread from
  # finishing: wrk gave up on it after 30 s, and its outcome is unknown).
  local deadline=$((SECONDS + 120 + (to - from) / 100))
  while [ "$(find "$done_dir" -name 'done.*' | wc -l)" -lt "$threads" ]; do
    kill -0 "$wrk_pid" 2>/dev/null || die "the loader exited early (see $raw.err)"
    [ "$SECONDS" -lt "$deadline" ] || { kill -INT "$wrk_pid"; die "the loader did not finish (see $raw)"; }
    sleep 0.2
  done
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
  w0=$(awk '{print $14 + $15}' "/proc/$wrk_pid/stat")
  t1=$(pid_ticks "${NODE_PIDS[@]}")
  d1=$(pid_ticks "${dbp[@]}")
  m1=$(machine_ticks)
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  LOADER_PID=
  failed=$(awk '/^load_failed/ {print $2}' "$raw")
  [ "${failed:-x}" = 0 ] || { cat "$raw.err" >&2; die "$failed loads failed (see $raw)"; }
  awk -v want=$((to - from)) '{ i += $1; a += $2 } END {
      if (i != want) { printf "issued %d PUTs, expected %d\n", i, want; exit 1 }
      if (a != i) printf "WARNING: %d PUTs were not answered (broken connections)\n", i - a }' \
    "$done_dir"/done.* >&2 || die "the loader did not issue its share (see $raw)"
  awk -v st="$store" -v f="$from" -v t="$to" -v s="$secs" -v a="$(ticks_delta "$t0" "$t1")" \
    -v d="$(ticks_delta "$d0" "$d1")" \
    -v w="$w0" -v m=$((m1 - m0)) -v hz="$CLK_TCK" -v l="$load_avg" 'BEGIN {
      o = (m - a - d - w) / hz / s
      printf "%s\t%d\t%d\t%.1f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n", st, f, t, s, (t - f) / s,
        a / hz / s, d / hz / s, w / hz / s, (o < 0 ? 0 : o), l }' >>"$LOADS"
  log "$store: loaded $((to - from)) secrets in ${secs}s ($(tail -n1 "$LOADS" | cut -f5) writes/s)"
  # Every tenant holds exactly its share.
  local t count want=$((to / TENANTS)) total=0
  while read -r t tok; do
    count=$(curl -fsS -H "Authorization: Bearer $tok" "${NODE_URLS[0]}/v1/secrets?prefix=svc&limit=1" \
      | sed -n 's/.*"total_count":\([0-9]*\).*/\1/p')
    [ "$count" = "$want" ] || die "tenant $t holds ${count:-?} secrets, expected $want"
    total=$((total + count))
  done <"$WORK/tenants.txt"
  log "$store: verified $total secrets in $TENANTS tenants"
}

record_disk() { # STORE SIZE: file sizes, bytes per table (with its indexes), row counts
  local store=$1 size=$2
  if [ "$store" = sqlite ]; then
    local f
    for f in "$WORK"/data/*; do
      printf '%s\t%s\t%s\t%s\n' "$store" "$size" "$(basename "$f")" "$(stat -c %s "$f")" >>"$DISK"
    done
    # dbstat (compiled into Python's SQLite) on a read-only connection beside the server.
    command -v python3 >/dev/null && python3 - "$WORK/data/scaivault.db" <<'PY' |
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for name, size in db.execute("""SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d
        LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 HAVING sum(d.pgsize) > 1048576"""):
    print(f"table:{name}\t{size}")
for table in ("secrets", "secret_versions", "audit_log", "events"):
    print(f"rows:{table}\t{db.execute(f'SELECT count(*) FROM {table}').fetchone()[0]}")
PY
      while IFS=$'\t' read -r what bytes; do
        printf '%s\t%s\t%s\t%s\n' "$store" "$size" "$what" "$bytes" >>"$DISK"
      done
  else
    psql "$DB_URL" -Atq -F$'\t' -c "SELECT 'database', pg_database_size(current_database())
      UNION ALL SELECT 'table:' || relname, pg_total_relation_size(oid) FROM pg_class
      WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
        AND pg_total_relation_size(oid) > 1048576
      UNION ALL SELECT 'rows:secrets', count(*) FROM secrets
      UNION ALL SELECT 'rows:secret_versions', count(*) FROM secret_versions
      UNION ALL SELECT 'rows:audit_log', count(*) FROM audit_log
      UNION ALL SELECT 'rows:events', count(*) FROM events" |
      while IFS=$'\t' read -r what bytes; do
        printf '%s\t%s\t%s\t%s\n' "$store" "$size" "$what" "$bytes" >>"$DISK"
      done
  fi
}

# --- one store ---------------------------------------------------------------------------------

run_store() {
  local store=$1 extra=
  WORK=$(mktemp -d "${SCALE_DATA_PARENT:-${TMPDIR:-/tmp}}/scaivault-scale.XXXXXX")
  if [ "$(stat -f -c %T "$WORK")" = tmpfs ]; then
    log "WARNING: $WORK is on tmpfs: fsync is free there, the write numbers will be meaningless"
  fi
  mkdir -p "$WORK/data"
  if [ "$store" = postgres ]; then
    DB_NAME="scaivault_scale_$$"
    psql "$ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB_NAME" \
      || die "cannot create a database at $ADMIN_URL"
    DB_URL="${ADMIN_URL%/*}/$DB_NAME"
    extra=$(printf 'storage = "postgres"\ndatabase_url = "%s"\n' "$DB_URL")
  fi
  cat >"$WORK/scaivault.toml" <<TOML
listen = "127.0.0.1:0"
allow_plain_http = true
data_dir = "$WORK/data"
root_key_file = "$WORK/root.key"
bootstrap_tenant_id = "tnt_bench"
bootstrap_partner_id = "ptn_bench"
$extra

[rate_limits]
unauthenticated = { per_second = 0 }
auth_failures = { per_second = 0 }
TOML
  TOKEN=$("$BIN" operator init --config "$WORK/scaivault.toml" | grep '^skt_') \
    || die "operator init failed"
  export SCALE_TENANTS_FILE="$WORK/tenants.txt"
  start_node "$WORK/scaivault.toml"

  : >"$WORK/tenants.txt"
  local i reg id tok
  for i in $(seq 1 "$TENANTS"); do
    reg=$(api POST /v1/identity/register \
      "$(printf '{"scope":"tenant","tenant_slug":"scale-%03d","email":"admin@scale-%03d.example"}' "$i" "$i")")
    id=$(json_field tenant_id <<<"$reg")
    tok=$(json_field token <<<"$reg")
    [ -n "$id" ] && [ -n "$tok" ] || die "registering tenant $i failed: $reg"
    echo "$id $tok" >>"$WORK/tenants.txt"
  done
  log "$store: $TENANTS tenants registered ($(head -n1 "$WORK/tenants.txt" | cut -d' ' -f1) ...)"

  local loaded=0 size largest=0
  for size in $SIZES; do
    load "$store" "$loaded" "$size"
    loaded=$size
    largest=$size
    if [ "$store" = postgres ]; then
      log "$store: VACUUM ANALYZE (as autovacuum would after a bulk load)"
      psql "$DB_URL" -q -c "VACUUM (ANALYZE)" >/dev/null
    fi
    record_disk "$store" "$size"

    # Warm-up (connections, token cache, page cache): not recorded.
    SCALE_MODE=read SCALE_SIZE=$size SCALE_THREADS=2 wrk -t2 -c16 -d3s -s "$LUA" "${NODE_URLS[0]}" >/dev/null
    run_case "$store" "$size" read 1 1 1 SCALE_MODE=read
    run_case "$store" "$size" read 1 64 2 SCALE_MODE=read
    run_case "$store" "$size" list 1 1 1 SCALE_MODE=list
    run_case "$store" "$size" listall 1 1 1 SCALE_MODE=listall
    run_case "$store" "$size" write 1 64 2 SCALE_MODE=write
    run_case "$store" "$size" write1t 1 64 2 SCALE_MODE=write SCALE_WRITE_TENANTS=1
    printf '%s\t%s\t%s\t%s\n' "$store" "$size" node_rss_after_cases \
      "$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/${NODE_PIDS[0]}/status")" >>"$DISK"
  done

  if [ "$store" = postgres ] && [ -n "$CLUSTER_NODES" ]; then
    local n threads c max=1
    for n in $CLUSTER_NODES; do [ "$n" -gt "$max" ] && max=$n; done
    while [ "${#NODE_PIDS[@]}" -lt "$max" ]; do start_node "$WORK/scaivault.toml"; done
    for n in $CLUSTER_NODES; do
      threads=$((n < 2 ? 2 : n))
      c=$((64 - 64 % threads))
      SCALE_MODE=read SCALE_SIZE=$largest SCALE_THREADS=$threads \
        SCALE_ADDRS=$(printf '%s\n' "${NODE_URLS[@]:0:$n}" | sed 's#^http://##' | paste -sd, -) \
        wrk -t"$threads" -c"$c" -d3s -s "$LUA" "${NODE_URLS[0]}" >/dev/null
      run_case "$store" "$largest" cluster_read "$n" "$c" "$threads" SCALE_MODE=read
      run_case "$store" "$largest" cluster_write "$n" "$c" "$threads" SCALE_MODE=write
    done
  fi
  # The first tenant's audit chain (every load, read and write of it) still verifies.
  local intact first_token
  first_token=$(head -n1 "$WORK/tenants.txt" | cut -d' ' -f2)
  intact=$(curl -fsS -X POST -H "Authorization: Bearer $first_token" -H 'Content-Type: application/json' \
    --data '{}' "${NODE_URLS[0]}/v1/audit/verify" | json_field intact)
  [ "$intact" = true ] || die "$store: the first tenant's audit chain does not verify (intact=$intact)"
  log "$store: the first tenant's audit chain verifies"
  cleanup
}

for store in $STORES; do
  run_store "$store"
done

# --- summary -----------------------------------------------------------------------------------

SUMMARY="$OUT/summary.txt"
table() { if command -v column >/dev/null; then column -t -s$'\t' "$1"; else cat "$1"; fi; }
{
  echo "ScaiVault scale benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; wrk shares the cores"
  if [ -n "${SCAIVAULT_BIN:-}" ]; then
    echo "binary: $BIN (given by SCAIVAULT_BIN; this checkout is $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
  else
    echo "binary: $BIN (built from $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- crates Cargo.lock 2>/dev/null || echo ', with uncommitted changes under crates/'))"
  fi
  echo "$TENANTS tenants, value ${SCALE_BYTES} B, ${DURATION}s per case"
  echo
  echo "loads:"
  table "$LOADS"
  echo
  table "$RESULTS"
  echo
  echo "disk:"
  table "$DISK"
  echo
  echo "targets:"
  awk -F'\t' 'NR > 1 && $4 == 1 {
      k = $1 SUBSEP $3 SUBSEP $5
      if (!(k in first)) { first[k] = $2; f50[k] = $7; f99[k] = $8; order[++n] = k }
      last[k] = $2; l50[k] = $7; l99[k] = $8
      if ($3 == "write" && $5 == 64) { ws[$1] = ws[$1] sprintf(" %s@%s", $6, $2); if (!($1 in wmin) || $6 < wmin[$1]) wmin[$1] = $6 }
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, p, SUBSEP)
        if ((p[2] == "read" || p[2] == "list") && p[3] == 1 && f50[k] > 0)
          printf "  %-8s %-4s c=1 sizes %s -> %s: p50 %s -> %s ms (x%.2f) %s; p99 %s -> %s ms (x%.2f) %s\n",
            p[1], p[2], first[k], last[k], f50[k], l50[k], l50[k] / f50[k], (l50[k] / f50[k] <= 2 ? "flat" : "NOT flat"),
            f99[k], l99[k], l99[k] / f99[k], (l99[k] / f99[k] <= 2 ? "flat" : "NOT flat")
      }
      for (st in wmin)
        printf "  %-8s durable writes c=64 (writes/s@size):%s  min %s: %s\n", st, ws[st], wmin[st],
          (wmin[st] >= 2000 ? "MET (>= 2000/s)" : "MISSED (< 2000/s)")
    }' "$RESULTS"
  [ "$NOISY" -eq 0 ] || echo "WARNING: some cases ran while other processes used the CPU (other_cores > 0.15)"
  echo "raw output: $OUT"
} | tee "$SUMMARY"

[ "$ERRORS_TOTAL" -eq 0 ] || die "$ERRORS_TOTAL requests failed; the numbers above are not valid"
