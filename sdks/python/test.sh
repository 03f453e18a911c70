#!/usr/bin/env bash
# Builds the wheel (SDK + CLI binary), installs it into a fresh venv, type-checks with
# mypy --strict and runs the test suite against real servers started from the installed binary.
#
#   SCAIVAULT_WHEEL_PROFILE=dev sdks/python/test.sh     # CI: a debug build of the binary
#   SCAIVAULT_BIN=/path/to/scaivault sdks/python/test.sh # test against another binary
#
# Honours CARGO_TARGET_DIR. Prints one summary line at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
profile="${SCAIVAULT_WHEEL_PROFILE:-release}"
venv="$here/.venv-test"
started=$SECONDS

rm -rf "$venv" "$here/dist"
python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet "maturin>=1.9,<2"

if [ "$profile" = "release" ]; then
    build_args=(--release)
else
    build_args=(--profile "$profile")
fi
echo "== building the wheel (profile $profile)"
"$venv/bin/maturin" build "${build_args[@]}" --out "$here/dist" </dev/null

wheels=("$here"/dist/scaivault-*.whl)
[ "${#wheels[@]}" -eq 1 ] || { echo "expected one wheel in dist/, found ${#wheels[@]}" >&2; exit 1; }
echo "== installing ${wheels[0]##*/}"
"$py" -m pip install --quiet "${wheels[0]}" "pytest>=8" "anyio>=4" "mypy>=1.10"

echo "== scaivault --version"
"$venv/bin/scaivault" --version

echo "== the generated sync resources are up to date"
"$py" tools/unasync.py --check

echo "== mypy --strict"
# The sources, then the tests against the INSTALLED package (its py.typed).
"$venv/bin/mypy" --strict src/scaivault
(cd "$here/tests" && "$venv/bin/mypy" --strict --config-file "$here/pyproject.toml" .)

echo "== pytest"
report="$venv/junit.xml"
status=0
SCAIVAULT_SDK_INSTALLED=1 "$venv/bin/pytest" -q --junitxml="$report" </dev/null || status=$?

"$py" - "$report" "$status" "$((SECONDS - started))" <<'PY'
import sys
import xml.etree.ElementTree as ET

report, status, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests, failures, errors, skipped = (
        int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")
    )
    passed = tests - failures - errors - skipped
    print(
        f"python SDK: {'PASS' if status == 0 else 'FAIL'}: {tests} tests, {passed} passed, "
        f"{failures} failed, {errors} errors, {skipped} skipped ({seconds}s incl. build)"
    )
except (OSError, ET.ParseError):
    print(f"python SDK: FAIL: pytest produced no report (exit {status})")
PY
exit "$status"
