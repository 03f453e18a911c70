#!/usr/bin/env bash
# The TypeScript SDK's one CI entry point (docs/sdks.md), from a clean clone:
#   1. npm ci (dev dependencies only: typescript, @types/node, openapi-typescript)
#   2. package.json's version == the Cargo workspace version
#   3. regenerate src/openapi.ts from a dev server's /v1/openapi.json: it must not differ
#   4. tsc --strict build (dist/: ESM + .d.ts), and the tests against the built declarations
#   5. npm pack, then install the TARBALL into an empty project (.pack-test/), and run the
#      tests there with `node --test`, against real servers started from $SCAIVAULT_BIN.
# Needs: node 20+, npm, openssl (CSRs, an imported CA), SCAIVAULT_BIN (an executable scaivault binary), PostgreSQL at
# 127.0.0.1:5432 (or SCAIVAULT_TEST_DATABASE_URL) for the dynamic-credentials test.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"
started=$(date +%s)

fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ -z "${SCAIVAULT_BIN:-}" ]]; then
  fail "SCAIVAULT_BIN is not set: point it at the scaivault server binary (e.g. target/debug/scaivault)"
fi
[[ -x "$SCAIVAULT_BIN" ]] || fail "SCAIVAULT_BIN=$SCAIVAULT_BIN is not an executable file"
SCAIVAULT_BIN="$(cd "$(dirname "$SCAIVAULT_BIN")" && pwd)/$(basename "$SCAIVAULT_BIN")"
export SCAIVAULT_BIN

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== version"
cargo_version="$(awk '
  /^\[/ { section = $0; next }
  section == "[workspace.package]" && $1 == "version" { gsub(/[" ]/, "", $3); print $3; exit }
' "$repo/Cargo.toml")"
[[ -n "$cargo_version" ]] || fail "no [workspace.package] version in Cargo.toml"
pkg_version="$(node -p 'require("./package.json").version')"
[[ "$pkg_version" == "$cargo_version" ]] ||
  fail "package.json version $pkg_version != Cargo workspace version $cargo_version (edit sdks/typescript/package.json)"
echo "scaivault $pkg_version"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== OpenAPI types are current"
mkfifo "$work/out"
"$SCAIVAULT_BIN" server --dev --listen 127.0.0.1:0 --dev-root-token "skt_gen_$RANDOM$RANDOM" \
  --data-dir "$work/data" >"$work/out" 2>"$work/server.log" &
server_pid=$!
url=""
exec 3<"$work/out"
while IFS= read -r -t 60 line <&3; do
  if [[ "$line" == "ScaiVault listening on "* ]]; then url="${line#ScaiVault listening on }"; break; fi
done
[[ -n "$url" ]] || { cat "$work/server.log" >&2; fail "the dev server did not start"; }
# Keep draining the server's stdout so it never blocks on a full pipe.
cat <&3 >/dev/null &
node scripts/generate.mjs "$url" "$work/openapi.ts" >/dev/null
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
exec 3<&-
if ! diff -u src/openapi.ts "$work/openapi.ts" >"$work/openapi.diff"; then
  head -50 "$work/openapi.diff" >&2
  fail "src/openapi.ts is stale: the server's OpenAPI document changed. Regenerate it with
  (a dev server running)  cd sdks/typescript && npm run generate -- http://127.0.0.1:<port>
and update src/types.ts if a schema was renamed."
fi

echo "== tsc --strict (library, then tests against the built declarations)"
rm -rf dist build-test
npx tsc -p tsconfig.json
npx tsc -p tsconfig.test.json

echo "== npm pack"
tarball="$(npm pack --silent --pack-destination "$work")"
tarball="$work/$tarball"
tar -tzf "$tarball" | sort | sed 's/^/  /'
if tar -tzf "$tarball" | grep -qvE '^package/(dist/.*\.(js|d\.ts)|README\.md|package\.json)$'; then
  fail "the tarball holds files other than dist/*.js, dist/*.d.ts, README.md and package.json"
fi

echo "== install the tarball into .pack-test"
rm -rf .pack-test
mkdir -p .pack-test/test
cat >.pack-test/package.json <<'EOF'
{ "name": "scaivault-pack-test", "private": true, "type": "module" }
EOF
(cd .pack-test && npm install --no-audit --no-fund --loglevel=error "$tarball")
[[ -f .pack-test/node_modules/scaivault/dist/index.js ]] || fail "the tarball did not install"
[[ ! -e .pack-test/node_modules/scaivault/src ]] || fail "the tarball ships src/"
cp build-test/*.js .pack-test/test/
cp "$repo/docs/sdks/javascript.md" .pack-test/javascript.md
cp "$repo/README.md" .pack-test/README.md

echo "== node --test (in .pack-test, importing the installed package)"
cd .pack-test
export SCAIVAULT_TSC="$here/node_modules/typescript/bin/tsc"
unset SCAIVAULT_URL SCAIVAULT_TOKEN SCAIVAULT_TENANT_ID SCAIVAULT_PARTNER_ID
status=0
node --test --test-concurrency=2 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$work/results.tap" test/*.test.js || status=$?
count() { grep -E "^# $1 [0-9]+" "$work/results.tap" | tail -1 | awk '{print $3}'; }
tests="$(count tests)"; pass="$(count pass)"; failed="$(count fail)"
elapsed=$(( $(date +%s) - started ))
if [[ $status -ne 0 || "${failed:-1}" != "0" || "${tests:-0}" == "0" ]]; then
  echo "TypeScript SDK: FAILED: ${failed:-?} of ${tests:-?} tests failed (${elapsed}s)"
  exit 1
fi
echo "TypeScript SDK: ${pass}/${tests} tests passed (${elapsed}s)"
