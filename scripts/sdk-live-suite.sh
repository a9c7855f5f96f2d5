#!/usr/bin/env bash
# Run Microsoft's live test suite for the Voice Live Python SDK against `voicelive simulate`.
#
# Usage: scripts/sdk-live-suite.sh [WORKDIR [PYTEST_ARGS...]]   (e.g. WORKDIR -k basic)
#
#   1. downloads the azure-ai-voicelive 1.3.1 source distribution from PyPI (pip download)
#      and unpacks its tests/ (tests/live, the suite; tests/conftest.py, its fixtures)
#   2. makes substitute audio with espeak-ng and sox (tests/sdk_live/make-audio.sh): the
#      suite's recordings are not in the source distribution
#   3. starts $SHARDS simulators (`voicelive simulate --record`), one per pytest process, and
#      runs the suite in $SHARDS shards against them with our stand-in for the SDK's internal
#      test tools (tests/sdk_live/devtools_testutils: endpoint and key injection only) and
#      the plugin tests/sdk_live/sdk_live_plugin.py (expected failures; hollow passes fail)
#   4. prints the counts; exits non-zero when any test failed (an expected failure that
#      passes, any other failure, or a passing test whose session.update was refused)
#
# Environment: PYTHON (default .venv/bin/python; needs azure-ai-voicelive==1.3.1, aiohttp,
# pytest-asyncio, pytest-timeout), SHARDS (default 6). The suite's fixed waits (most tests
# listen for 10 to 30 s) dominate the time, which is why it runs in shards.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
shards=${SHARDS:-6}
version=1.3.1
own_work=false
if [[ -z ${1:-} ]]; then
    own_work=true
fi
work=${1:-$(mktemp -d /tmp/sdk-live.XXXXXX)}
shift || true
extra=("$@")
mkdir -p "$work"
work=$(cd "$work" && pwd)

installed=$("$python" -c 'from importlib.metadata import version; print(version("azure-ai-voicelive"))')
if [[ $installed != "$version" ]]; then
    echo "sdk-live-suite: the suite is for azure-ai-voicelive $version, $python has $installed" >&2
    exit 1
fi

echo "sdk-live-suite: downloading the azure-ai-voicelive $version source distribution"
"$python" -m pip download --quiet --no-binary :all: --no-deps "azure-ai-voicelive==$version" \
    -d "$work/dist"
rm -rf "$work/sdk"
mkdir -p "$work/sdk"
tar -xzf "$work/dist/azure_ai_voicelive-$version.tar.gz" -C "$work/sdk" --strip-components=1 \
    "azure_ai_voicelive-$version/tests"
suite=$work/sdk/tests
# Our own ini in the unpacked tree: it is the rootdir, so neither this project's pytest
# settings nor the SDK's apply; these are the SDK's own asyncio settings.
cat >"$work/sdk/pytest.ini" <<'INI'
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
markers =
    live_test_only: the SDK's marker for tests that need a live service
    playback_test_only: the SDK's marker for tests that replay recordings
    flaky: pytest-rerunfailures' marker; not installed here, so no test is rerun
INI

# The suite's telemetry tests need opentelemetry-sdk and azure-core's bridge to it: installed
# beside the suite, not into the project's environment (no dependencies pulled in: the rest
# is there already).
echo "sdk-live-suite: installing opentelemetry-sdk into $work/deps"
"$python" -m pip install --quiet --no-deps --target "$work/deps" \
    opentelemetry-sdk opentelemetry-api opentelemetry-semantic-conventions \
    azure-core-tracing-opentelemetry

echo "sdk-live-suite: making substitute audio (espeak-ng, sox)"
bash "$repo/tests/sdk_live/make-audio.sh" "$suite/asset" >/dev/null

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=() # simulators, then pytest shards
stop_simulators() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_simulators EXIT
trap 'exit 143' TERM INT # e.g. the CI's timeout: the EXIT trap still stops what was started

ports=()
for ((i = 0; i < shards; i++)); do
    port=$(free_port)
    "$python" -m voicelive simulate --port "$port" --seed "$((20 + i))" \
        --record "$work/shard$i.record.jsonl" >"$work/shard$i.simulator.log" 2>&1 &
    pids+=("$!")
    ports+=("$port")
done
for ((i = 0; i < shards; i++)); do
    for _ in $(seq 100); do
        if "$python" -c "import socket, sys; socket.create_connection(('127.0.0.1', ${ports[i]}), 0.2)" 2>/dev/null; then
            continue 2
        fi
        if ! kill -0 "${pids[i]}" 2>/dev/null; then
            break
        fi
        sleep 0.1 # polling a port that is not open yet: there is no event to wait on
    done
    echo "sdk-live-suite: simulator $i did not start:" >&2
    cat "$work/shard$i.simulator.log" >&2
    exit 1
done

echo "sdk-live-suite: running tests/live in $shards shards (logs in $work)"
started=$SECONDS
runs=()
for ((i = 0; i < shards; i++)); do
    (
        cd "$work/sdk"
        AI_SERVICES_ENDPOINT="http://127.0.0.1:${ports[i]}" AI_SERVICES_KEY="simulator-key" \
            VL_SIM_RECORD="$work/shard$i.record.jsonl" VL_SDK_DEPS="$work/deps" \
            PYTHONPATH="$repo/tests/sdk_live:$work/deps${PYTHONPATH:+:$PYTHONPATH}" \
            "$python" -m pytest tests/live -p sdk_live_plugin --shard "$i/$shards" \
            -p no:cacheprovider --timeout 180 -q -rfEX --junitxml "$work/shard$i.xml" \
            "${extra[@]}" >"$work/shard$i.log" 2>&1
    ) &
    runs+=("$!")
    pids+=("$!")
done
status=0
for ((i = 0; i < shards; i++)); do
    if ! wait "${runs[i]}"; then
        status=1
    fi
done

"$python" - "$work" "$shards" "$((SECONDS - started))" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

work, shards, seconds = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
counts = {"passed": 0, "failed": 0, "xfailed": 0, "skipped": 0}
failures = []
seen = set()  # a module skipped at collection is reported by every shard
for i in range(shards):
    path = work / f"shard{i}.xml"
    if not path.exists():
        failures.append(f"shard {i}: no results (see {work}/shard{i}.log)")
        continue
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if name in seen:
            continue
        seen.add(name)
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped")
        if failed:
            counts["failed"] += 1
            node = case.find("failure")
            node = node if node is not None else case.find("error")
            first = node.get("message", "") if node is not None else ""
            failures.append(f"{name}: {first.splitlines()[0] if first else ''}"[:300])
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            counts["xfailed"] += 1
        elif skipped is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
total = sum(counts.values())
print(f"sdk-live-suite: {total} tests in {seconds} s: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
for line in failures:
    print(f"  FAILED {line}")
PY
if ((status)); then
    echo "sdk-live-suite: FAILED (per-shard output in $work/shard*.log)" >&2
elif [[ $own_work == true ]]; then
    rm -rf "$work"
fi
exit "$status"
