#!/usr/bin/env bash
# Set up voicelive on this machine, idempotently: system audio library, then a virtualenv.
#
# Usage: scripts/bootstrap.sh [--dev]
#   - PortAudio (Debian/Ubuntu package libportaudio2) when it is missing: installed with
#     apt-get as root, or with sudo when that works without a password; otherwise the exact
#     command to run is printed and the set-up goes on (voicelive itself then says what to do).
#   - .venv/ with voicelive installed in it (editable), plus the dev tools with --dev.
# Re-running is cheap: nothing is reinstalled when it is already there.
# Linux and macOS (a POSIX shell; macOS needs no PortAudio package: the sounddevice wheel
# carries it). Windows: see "Set-up on each system" in README.md (PowerShell, py -m venv).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
dev=false
[[ ${1:-} == --dev ]] && dev=true

say() { echo "bootstrap: $*" >&2; }

have_portaudio() {
    ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so' || [[ $(uname) == Darwin ]]
}

if ! have_portaudio; then
    if command -v apt-get >/dev/null; then
        sudo=()
        if [[ $(id -u) != 0 ]]; then
            if sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(false); fi
        fi
        if "${sudo[@]}" true 2>/dev/null || [[ $(id -u) == 0 ]]; then
            say "installing libportaudio2 (PortAudio, the audio library sounddevice needs)"
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends libportaudio2 >&2
        else
            say "PortAudio is missing: run 'sudo apt install libportaudio2', then try again"
        fi
    else
        say "PortAudio is missing: install it with your package manager (portaudio)"
    fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "voicelive needs Python 3.11 or newer ($python is $("$python" -V 2>&1))"
    if [[ $(uname) == Darwin ]]; then
        say "macOS: install one from python.org or with 'brew install python@3.12', then run PYTHON=python3.12 $0"
    fi
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv"
    "$python" -m venv .venv
fi
stamp=.venv/.voicelive-installed
what="voicelive"
if [[ $dev == true ]]; then
    stamp+=-dev
    what+=" with the dev tools"
fi
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    say "installing $what into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    if [[ $dev == true ]]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' >&2
    else
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e . >&2
    fi
    touch "$stamp"
fi
