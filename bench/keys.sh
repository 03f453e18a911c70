#!/usr/bin/env bash
# Root key providers (issue 18). See docs/benchmarks.md and docs/keys.md.
#
#   bash bench/keys.sh
#
# For each provider (file; pkcs11 on SoftHSM2; awskms on moto_server; tpm on swtpm), a
# production install on the embedded store:
# 1. Start-up: `operator init` (or `tpm init`), then the time from starting `scaivault server`
#    to `GET /health/ready` = 200 (the provider opened, the keyring unwrapped), median of
#    BENCH_STARTS starts (default 5).
# 2. Reads: one 1 KiB secret read with wrk at concurrency BENCH_C (default 16) for BENCH_SECONDS
#    (default 10) per provider. The keyring is in memory, so the provider must not show here.
# 3. Rotation (file provider only, the provider is not on this path either): BENCH_VERSIONS
#    (default 10,000) secret versions, then `POST /v1/sys/keys/rotate` and the time until
#    `GET /v1/sys/keys` reports nothing pending.
#
# Needs: wrk, curl, jq, python3 with moto[server], softhsm2, swtpm (+ the tpm feature built).
# Knobs: BENCH_STARTS, BENCH_C, BENCH_SECONDS, BENCH_VERSIONS, BENCH_PROVIDERS, SCAIVAULT_BIN.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STARTS=${BENCH_STARTS:-5}
CONC=${BENCH_C:-16}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
VERSIONS=${BENCH_VERSIONS:-10000}
PROVIDERS=${BENCH_PROVIDERS:-"file pkcs11 awskms tpm"}
PIN=bench-user-pin-4711

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
log() { printf 'bench: %s\n' "$*" >&2; }
for tool in curl jq python3 wrk softhsm2-util swtpm; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

if [ -n "${SCAIVAULT_BIN:-}" ]; then
  BIN=$SCAIVAULT_BIN
else
  cargo build --release -p scaivault --features tpm
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  BIN=${TARGET_DIR:-$PWD/target}/release/scaivault
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scaivault-keys-bench.XXXXXX")
PIDS=()
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- peers -------------------------------------------------------------------------------
export SOFTHSM2_CONF=$WORK/softhsm2.conf
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label bench --so-pin so-pin-1 --pin "$PIN" >/dev/null
printf '%s\n' "$PIN" >"$WORK/pin" && chmod 600 "$WORK/pin"

MOTO_PORT=$(free_port)
python3 -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$MOTO_PORT/" >/dev/null && break; sleep 0.1; done
KMS_KEY=$(python3 - "$MOTO_PORT" <<'EOF'
import sys, boto3
kms = boto3.client("kms", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
print(kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"])
EOF
)

TPM_PORT=$(free_port)
mkdir -p "$WORK/tpm"
swtpm socket --tpm2 --tpmstate dir="$WORK/tpm" \
  --server type=tcp,port="$TPM_PORT",bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((TPM_PORT + 1)),bindaddr=127.0.0.1 \
  --flags not-need-init,startup-clear >"$WORK/swtpm.log" 2>&1 &
PIDS+=($!)
export TSS2_LOG=all+NONE

# --- one install per provider ------------------------------------------------------------
configure() { # provider dir
  local provider=$1 dir=$2
  mkdir -p "$dir"
  cat >"$dir/scaivault.toml" <<EOF
listen = "127.0.0.1:0"
allow_plain_http = true
data_dir = "$dir/data"
root_key_file = "$dir/root.key"
log_level = "warn"

[root_key]
provider = "$provider"

[root_key.pkcs11]
module = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "bench"
key_label = "bench-$RANDOM"
pin_file = "$WORK/pin"

[root_key.awskms]
key_id = "$KMS_KEY"
region = "us-east-1"
endpoint_url = "http://127.0.0.1:$MOTO_PORT"

[root_key.tpm]
tcti = "swtpm:host=127.0.0.1,port=$TPM_PORT"
pin_file = "$WORK/pin"
EOF
}

init() { # provider dir -> prints the admin token
  local provider=$1 dir=$2 out
  case $provider in
    tpm) out=$("$BIN" tpm init --config "$dir/scaivault.toml" --sopin so-pin-1234 --userpin "$PIN") ;;
    pkcs11) out=$("$BIN" operator init --config "$dir/scaivault.toml" --create-key) ;;
    *) out=$("$BIN" operator init --config "$dir/scaivault.toml") ;;
  esac
  grep '^skt_' <<<"$out" | head -n 1
}

# Starts the server; sets URL and SERVER_PID; prints ms until ready.
start_server() { # dir
  local dir=$1 started url=""
  : >"$dir/stdout"
  started=$(now_ms)
  "$BIN" server --config "$dir/scaivault.toml" >"$dir/stdout" 2>>"$dir/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 3000); do
    url=$(sed -n 's/^ScaiVault listening on //p' "$dir/stdout" | head -n 1)
    if [ -n "$url" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready")" = 200 ]; then
      break
    fi
    sleep 0.005
  done
  [ -n "$url" ] || die "server did not start: $(cat "$dir/server.log")"
  URL=$url
  echo $(($(now_ms) - started))
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf 'provider\tstart_to_ready_ms_median\tread_req_s\tread_p50_ms\tread_p99_ms\n'
VALUE=$(head -c 700 /dev/urandom | base64 -w0 | head -c 1000)
for provider in $PROVIDERS; do
  dir=$WORK/$provider
  configure "$provider" "$dir"
  token=$(init "$provider" "$dir")
  [ -n "$token" ] || die "$provider: init printed no token"
  times=()
  for _ in $(seq 1 "$STARTS"); do
    times+=("$(start_server "$dir")")
    stop_server
  done
  ready=$(printf '%s\n' "${times[@]}" | median)
  start_server "$dir" >/dev/null
  curl -sf -X PUT "$URL/v1/secrets/bench/read/one-kib" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"data\":{\"v\":\"$VALUE\"}}" >/dev/null \
    || die "$provider: write failed"
  wrk -t2 -c"$CONC" -d2s -H "Authorization: Bearer $token" "$URL/v1/secrets/bench/read/one-kib" >/dev/null
  raw=$(wrk -t2 -c"$CONC" -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $token" \
    "$URL/v1/secrets/bench/read/one-kib")
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$raw")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$raw")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$raw")
  grep -q "Non-2xx" <<<"$raw" && die "$provider: reads failed: $raw"
  printf '%s\t%s\t%s\t%s\t%s\n' "$provider" "$ready" "$rps" "$p50" "$p99"
  if [ "$provider" = file ]; then
    log "rotation: writing $VERSIONS versions"
    seq 1 "$VERSIONS" | xargs -P 8 -I{} curl -sf -o /dev/null -X PUT \
      "$URL/v1/secrets/bench/rot/s{}" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"data":{"v":"x"}}'
    started=$(now_ms)
    curl -sf -X POST "$URL/v1/sys/keys/rotate" -H "Authorization: Bearer $token" >/dev/null
    rotated=$(now_ms)
    while [ "$(curl -sf "$URL/v1/sys/keys" -H "Authorization: Bearer $token" | jq '.rewrap.pending')" != 0 ]; do
      sleep 0.05
    done
    done_ms=$(now_ms)
    log "rotation: rotate answered in $((rotated - started)) ms; $VERSIONS+ values re-sealed in $((done_ms - started)) ms"
    printf 'rotation\t%s versions\trotate_ms=%s\trewrap_ms=%s\n' "$VERSIONS" "$((rotated - started))" "$((done_ms - started))"
  fi
  stop_server
done
