#!/usr/bin/env bash
# Metrics on vs off (issue 22). See docs/benchmarks.md and docs/monitoring.md.
#
#   bash bench/metrics.sh
#
# Two production installs on the embedded store from the same binary, one with the defaults
# (metrics_enabled = true) and one with metrics_enabled = false, each holding the same 1 KiB
# secret. Both servers run for the whole benchmark; the authorized read of that secret is
# driven with wrk at concurrency BENCH_C (default 16) for BENCH_SECONDS (default 10) per run,
# alternating on/off/off/on... over BENCH_ROUNDS rounds (default 3), so drift on the machine
# hits both alike. Reported per mode: median req/s, p50, p99 and server CPU per request
# (user + system from /proc, the number least sensitive to noise). Then the scrape itself:
# time and size of GET /v1/sys/metrics after the load.
#
# Needs: wrk, curl, python3. Knobs: BENCH_C, BENCH_SECONDS, BENCH_ROUNDS, SCAIVAULT_BIN.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONC=${BENCH_C:-16}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
log() { printf 'bench: %s\n' "$*" >&2; }
for tool in curl python3 wrk; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  cargo build --release -p scaivault
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-$PWD/target}/release/scaivault
fi
[ -x "$BIN" ] || die "no executable at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scaivault-metrics-bench.XXXXXX")
declare -A PID URL TOKEN
cleanup() {
  for mode in "${!PID[@]}"; do kill "${PID[$mode]}" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
VALUE=$(head -c 700 /dev/urandom | base64 -w0 | head -c 1000)

for mode in on off; do
  dir=$WORK/$mode
  mkdir -p "$dir"
  enabled=true
  [ "$mode" = off ] && enabled=false
  cat >"$dir/scaivault.toml" <<EOF
listen = "127.0.0.1:0"
allow_plain_http = true
data_dir = "$dir/data"
log_level = "warn"
metrics_enabled = $enabled

[rate_limits]
unauthenticated = { per_second = 0 }
auth_failures = { per_second = 0 }
EOF
  out=$("$BIN" operator init --config "$dir/scaivault.toml")
  TOKEN[$mode]=$(grep '^skt_' <<<"$out" | head -n 1)
  [ -n "${TOKEN[$mode]}" ] || die "$mode: init printed no token"
  "$BIN" server --config "$dir/scaivault.toml" >"$dir/stdout" 2>"$dir/server.log" &
  PID[$mode]=$!
  url=""
  for _ in $(seq 1 2000); do
    url=$(sed -n 's/^ScaiVault listening on //p' "$dir/stdout" | head -n 1)
    if [ -n "$url" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready")" = 200 ]; then
      break
    fi
    sleep 0.01
  done
  [ -n "$url" ] || die "$mode: server did not start: $(cat "$dir/server.log")"
  URL[$mode]=$url
  curl -sf -X PUT "$url/v1/secrets/bench/read/one-kib" -H "Authorization: Bearer ${TOKEN[$mode]}" \
    -H 'Content-Type: application/json' -d "{\"data\":{\"v\":\"$VALUE\"}}" >/dev/null \
    || die "$mode: write failed"
  wrk -t2 -c"$CONC" -d2s -H "Authorization: Bearer ${TOKEN[$mode]}" \
    "$url/v1/secrets/bench/read/one-kib" >/dev/null
done

HZ=$(getconf CLK_TCK)
declare -A RPS P50 P99 US
run() { # mode
  local mode=$1 before after raw rps
  before=$(cpu_ticks "${PID[$mode]}")
  raw=$(wrk -t2 -c"$CONC" -d"${SECONDS_PER_RUN}s" --latency \
    -H "Authorization: Bearer ${TOKEN[$mode]}" "${URL[$mode]}/v1/secrets/bench/read/one-kib")
  after=$(cpu_ticks "${PID[$mode]}")
  grep -q "Non-2xx\|Socket errors" <<<"$raw" && die "$mode: failed requests: $raw"
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$raw")
  RPS[$mode]+="$rps "
  P50[$mode]+="$(awk '$1 == "50%" { print $2 }' <<<"$raw") "
  P99[$mode]+="$(awk '$1 == "99%" { print $2 }' <<<"$raw") "
  US[$mode]+="$(awk -v t="$((after - before))" -v hz="$HZ" -v r="$rps" -v d="$SECONDS_PER_RUN" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / (r * d) }') "
  log "$mode: $rps req/s"
}
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then run on; run off; else run off; run on; fi
done

ms() { sed 's/ms$//; s/us$/e-3/; s/s$/e3/' | awk '{ printf "%.3f\n", $1 }'; }
printf 'metrics\treq_s_median\tp50_ms\tp99_ms\tsrv_us_per_req\n'
for mode in on off; do
  printf '%s\t%s\t%s\t%s\t%s\n' "$mode" \
    "$(tr ' ' '\n' <<<"${RPS[$mode]}" | sed '/^$/d' | median)" \
    "$(tr ' ' '\n' <<<"${P50[$mode]}" | sed '/^$/d' | ms | median)" \
    "$(tr ' ' '\n' <<<"${P99[$mode]}" | sed '/^$/d' | ms | median)" \
    "$(tr ' ' '\n' <<<"${US[$mode]}" | sed '/^$/d' | median)"
done
on=$(tr ' ' '\n' <<<"${RPS[on]}" | sed '/^$/d' | median)
off=$(tr ' ' '\n' <<<"${RPS[off]}" | sed '/^$/d' | median)
awk -v on="$on" -v off="$off" 'BEGIN { printf "on/off req/s: %.3f (target: >= 0.95)\n", on / off }'

# The scrape after the load: its size and how long it takes.
t=$(curl -s -o "$WORK/scrape.txt" -w '%{time_total}' -H "Authorization: Bearer ${TOKEN[on]}" \
  "${URL[on]}/v1/sys/metrics")
printf 'scrape: %s bytes, %s series, %.1f ms\n' "$(wc -c <"$WORK/scrape.txt")" \
  "$(grep -vc '^#' "$WORK/scrape.txt")" "$(awk -v t="$t" 'BEGIN { print t * 1000 }')"
