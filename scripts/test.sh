#!/usr/bin/env bash
# Run the whole test suite, including the end-to-end tests through the real audio stack.
#
# Usage: scripts/test.sh [pytest arguments...]
#
# Sets up what is missing (.venv with the dev tools through scripts/bootstrap.sh --dev; the
# Debian audio packages through scripts/virtual-audio.sh up, as root or with password-less
# sudo), starts the virtual sound card unless one is already running in $VOICELIVE_AUDIO_DIR,
# exports its PULSE_SERVER, runs `python -m pytest -ra --durations=15` (the 15 slowest tests
# are listed, so everyone sees what the suite spends its time on) with PYTHONASYNCIODEBUG=1 and stops
# the sound card on exit if this script started it. With CI=true a sound card that cannot be
# started fails the run (VOICELIVE_REQUIRE_AUDIO=1) instead of skipping the end-to-end tests.
# "No tests collected" (pytest exit 5) is a failure.
#
# Python: $PYTHON, else the active virtualenv, else ./.venv (created when missing).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [[ -n ${PYTHON:-} ]]; then
    python=$PYTHON
elif [[ -n ${VIRTUAL_ENV:-} && -x $VIRTUAL_ENV/bin/python ]]; then
    python=$VIRTUAL_ENV/bin/python
else
    bash "$repo/scripts/bootstrap.sh" --dev
    python=$repo/.venv/bin/python
fi

if [[ ${CI:-} == true ]]; then
    export VOICELIVE_REQUIRE_AUDIO=1
fi

audio_script=(bash "$repo/scripts/virtual-audio.sh")
# A run of its own gets a fresh directory; a caller's running bed in VOICELIVE_AUDIO_DIR is
# reused and left running.
own_dir=
if [[ -z ${VOICELIVE_AUDIO_DIR:-} ]]; then
    own_dir=$(mktemp -d /tmp/voicelive-audio.XXXXXX)
    export VOICELIVE_AUDIO_DIR=$own_dir
fi
started_bed=false
stop_bed() {
    if [[ $started_bed == true ]]; then
        "${audio_script[@]}" down "$VOICELIVE_AUDIO_DIR" || true
    fi
    if [[ -n $own_dir ]]; then
        rm -rf "$own_dir"
    fi
}
trap stop_bed EXIT

if "${audio_script[@]}" status "$VOICELIVE_AUDIO_DIR" >/dev/null; then
    echo "test.sh: reusing the audio bed in $VOICELIVE_AUDIO_DIR"
    eval "$("${audio_script[@]}" env "$VOICELIVE_AUDIO_DIR")"
elif exports=$("${audio_script[@]}" up "$VOICELIVE_AUDIO_DIR"); then
    started_bed=true
    eval "$exports"
elif [[ ${VOICELIVE_REQUIRE_AUDIO:-} == 1 ]]; then
    echo "test.sh: error: the audio bed is required (CI) but could not be started" >&2
    exit 1
else
    echo "test.sh: warning: no audio bed; the end-to-end tests will be skipped" >&2
fi

export PYTHONASYNCIODEBUG=1
echo "test.sh: $python -m pytest -ra --durations=15 $* (PULSE_SERVER=${PULSE_SERVER:-unset})"
set +e
"$python" -m pytest -ra --durations=15 "$@"
status=$?
set -e
if ((status == 5)); then
    echo "test.sh: error: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
