#!/usr/bin/env bash
# A virtual sound card for voicelive's end-to-end tests: a private PulseAudio daemon with a
# virtual microphone and a virtual speaker, reachable through PortAudio -> ALSA -> PulseAudio.
#
# Usage: scripts/virtual-audio.sh up|down|env|status [DIR]
#        scripts/virtual-audio.sh loop-on DIR [DELAY_MS] [VOLUME]
#        scripts/virtual-audio.sh loop-off DIR
#
#   up      install the Debian packages when missing (as root, or with password-less sudo),
#           start the daemon in DIR
#           unless it is already running there, wait until it answers, print the export lines
#           on stdout (progress goes to stderr, so `eval "$(scripts/virtual-audio.sh up)"` works)
#   down    stop the daemon this script started in DIR (by the PID in DIR/run/pid, never by name)
#   env     print the export lines for DIR
#   status  exit 0 when the daemon in DIR is running and answers, 1 otherwise
#   loop-on   an acoustic echo path for echo-cancellation tests: a module-loopback from the
#             speaker's monitor into the microphone feed, DELAY_MS (default 40) of latency and
#             VOLUME (default 0.3, a pactl volume: linear factor 0.3, 30%, or -10dB) of gain, so
#             whatever the speaker plays comes back through the microphone, as on open
#             speakers. Replaces a loop this script loaded before. Off unless asked for.
#   loop-off  remove that loop (a no-op when there is none)
#
# DIR defaults to $VOICELIVE_AUDIO_DIR or /tmp/voicelive-audio.
# VOICELIVE_AUDIO_INSTALL=0 forbids installing packages (tests use it: they never run apt-get).
#
# Devices (all 24 kHz, the session rate, so the microphone path is bit-exact):
#   virtual_speaker          null sink, default sink; record it from virtual_speaker.monitor
#   virtual_mic_feed         null sink to play test speech into (paplay --device=virtual_mic_feed)
#   virtual_mic              remap source of virtual_mic_feed.monitor, default source
#   virtual_keepalive        null sink fed by two loopbacks so the sinks never go idle
set -euo pipefail

PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins alsa-utils espeak-ng sox tmux)
START_TIMEOUT_S=15
STOP_TIMEOUT_S=10

die() {
    echo "virtual-audio: error: $*" >&2
    exit 1
}

say() {
    echo "virtual-audio: $*" >&2
}

usage() {
    echo "usage: $0 up|down|env|status [DIR]" >&2
    echo "       $0 loop-on DIR [DELAY_MS] [VOLUME] | loop-off DIR" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
command_name=$1
case $command_name in
    loop-on) [[ $# -ge 2 && $# -le 4 ]] || usage ;;
    *) [[ $# -le 2 ]] || usage ;;
esac
dir=${2:-${VOICELIVE_AUDIO_DIR:-/tmp/voicelive-audio}}
case $dir in
    /*) ;;
    *) dir="$PWD/$dir" ;;
esac
run_dir="$dir/run"
pid_file="$run_dir/pid"
socket="$run_dir/native"

print_env() {
    echo "export PULSE_SERVER=unix:$socket"
    echo "export VOICELIVE_AUDIO_DIR=$dir"
}

# Prints the PID of the daemon started in DIR when it is alive and really a pulseaudio process
# (a stale pid file can name a recycled PID that belongs to something else).
daemon_pid() {
    [[ -r $pid_file ]] || return 1
    local pid
    pid=$(tr -dc '0-9' <"$pid_file")
    [[ -n $pid ]] || return 1
    [[ -r /proc/$pid/comm ]] || return 1
    [[ $(cat "/proc/$pid/comm") == pulseaudio ]] || return 1
    echo "$pid"
}

answers() {
    PULSE_SERVER="unix:$socket" timeout 5 pactl info >/dev/null 2>&1
}

missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || echo "$pkg"
    done
}

install_packages() {
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script needs Debian or Ubuntu"
    local missing
    mapfile -t missing < <(missing_packages)
    ((${#missing[@]} == 0)) && return 0
    local hint="sudo apt-get install --no-install-recommends ${missing[*]}"
    if [[ ${VOICELIVE_AUDIO_INSTALL:-1} == 0 ]]; then
        die "missing Debian packages: ${missing[*]} (install them with: $hint)"
    fi
    # Root runs apt-get itself; others only through password-less sudo (never a prompt).
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
    if [[ $(id -u) -ne 0 ]]; then
        sudo -n true 2>/dev/null ||
            die "missing Debian packages: ${missing[*]}; run as root or: $hint"
        apt=(sudo -n "${apt[@]}")
    fi
    say "installing ${missing[*]}"
    # Update the package lists once, and only when an install from the current lists fails
    # or there are none (a fresh container has an empty /var/lib/apt/lists).
    if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null ||
        ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; then
        "${apt[@]}" update >&2 || die "apt-get update failed"
        "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 ||
            die "apt-get install ${missing[*]} failed"
    fi
}

write_config() {
    cat >"$dir/virtual.pa" <<EOF
# Written by scripts/virtual-audio.sh; the daemon loads only this file (-n).
load-module module-native-protocol-unix auth-anonymous=1 socket=$socket
# norewinds: without it recordings start 0.2-0.3 s late and ~9 ms of playback is lost.
load-module module-null-sink sink_name=virtual_speaker rate=24000 channels=2 norewinds=1 sink_properties=device.description=virtual_speaker
load-module module-null-sink sink_name=virtual_mic_feed rate=24000 channels=1 norewinds=1 sink_properties=device.description=virtual_mic_feed
load-module module-remap-source source_name=virtual_mic master=virtual_mic_feed.monitor channels=1 source_properties=device.description=virtual_mic
set-default-sink virtual_speaker
set-default-source virtual_mic
# Keepalive: an idle null sink renders in 2 s blocks, so a new recorder or stream would wait
# up to 2 s; two loopbacks keep both paths running all the time.
load-module module-null-sink sink_name=virtual_keepalive rate=24000 channels=1 norewinds=1
load-module module-loopback source=virtual_speaker.monitor sink=virtual_keepalive latency_msec=20
load-module module-loopback source=virtual_mic sink=virtual_keepalive latency_msec=20
EOF
}

cmd_up() {
    install_packages
    mkdir -p "$dir" 2>/dev/null || die "cannot create the directory $dir"
    # One `up` at a time per DIR: two concurrent callers must end with one daemon.
    exec 9>"$dir/lock"
    flock -w 60 9 || die "another '$0 up' holds $dir/lock"

    local pid
    if pid=$(daemon_pid) && answers; then
        say "already running in $dir (pid $pid)"
        print_env
        return 0
    fi
    if pid=$(daemon_pid); then
        # Alive but deaf: it is ours (pid file in our dir), so it is safe to replace it.
        say "daemon $pid in $dir does not answer; restarting it"
        stop_pid "$pid"
    fi
    rm -rf "$run_dir"
    mkdir -p "$run_dir" "$dir/state"
    : >"$dir/pulse.log"
    write_config

    say "starting PulseAudio in $dir"
    # Own runtime and state paths, no systemd, no D-Bus, never exits on idle. As root it warns
    # that it is not meant to run as root; that is harmless here.
    if ! PULSE_RUNTIME_PATH="$run_dir" PULSE_STATE_PATH="$dir/state" \
        pulseaudio --daemonize=yes -n --file="$dir/virtual.pa" --system=false \
        --exit-idle-time=-1 --disallow-exit=yes --use-pid-file=yes \
        --log-target="file:$dir/pulse.log" 9>&- >/dev/null 2>>"$dir/pulse.log"; then
        tail -n 20 "$dir/pulse.log" >&2 || true
        die "pulseaudio failed to start (log: $dir/pulse.log)"
    fi

    local deadline=$((SECONDS + START_TIMEOUT_S))
    until answers; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$dir/pulse.log" >&2 || true
            if pid=$(daemon_pid); then stop_pid "$pid"; fi
            die "pulseaudio did not answer within ${START_TIMEOUT_S} s (log: $dir/pulse.log)"
        fi
        sleep 0.1
    done
    local devices
    devices=$(PULSE_SERVER="unix:$socket" pactl list short sinks; PULSE_SERVER="unix:$socket" pactl list short sources)
    local name
    for name in virtual_speaker virtual_mic_feed virtual_mic; do
        grep -q "[[:space:]]$name[[:space:]]" <<<"$devices" || {
            if pid=$(daemon_pid); then stop_pid "$pid"; fi
            die "device $name missing after start (log: $dir/pulse.log)"
        }
    done
    say "running in $dir (pid $(daemon_pid))"
    print_env
}

# True while PID exists and is not a zombie (a zombie is dead; its parent just has not reaped it).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + STOP_TIMEOUT_S))
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            say "daemon $pid ignored SIGTERM for ${STOP_TIMEOUT_S} s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
}

cmd_down() {
    local pid
    if ! pid=$(daemon_pid); then
        say "no daemon running in $dir"
        rm -rf "$run_dir"
        return 0
    fi
    stop_pid "$pid"
    rm -rf "$run_dir"
    say "stopped daemon $pid in $dir"
}

cmd_status() {
    local pid
    if pid=$(daemon_pid) && answers; then
        echo "running in $dir (pid $pid, PULSE_SERVER=unix:$socket)"
        return 0
    fi
    echo "not running in $dir"
    return 1
}

# The echo loop. Its module index is kept in DIR/loop.module; only a module-loopback from the
# speaker's monitor into the microphone feed is ever unloaded through it (the keepalive
# loopbacks go into virtual_keepalive and are never touched).
loop_file="$dir/loop.module"

pactl_bed() {
    PULSE_SERVER="unix:$socket" timeout 10 pactl "$@"
}

is_echo_loop() {
    pactl_bed list short modules | awk -v m="$1" -F '\t' \
        '$1 == m && $2 == "module-loopback" && $3 ~ /source=virtual_speaker.monitor/ && $3 ~ /sink=virtual_mic_feed/ { found = 1 } END { exit !found }'
}

cmd_loop_off() {
    answers || die "no daemon answers in $dir (run: $0 up $dir)"
    [[ -r $loop_file ]] || return 0
    local module
    module=$(tr -dc '0-9' <"$loop_file")
    if [[ -n $module ]] && is_echo_loop "$module"; then
        pactl_bed unload-module "$module" || die "could not unload the echo loop (module $module)"
        say "echo loop removed (module $module)"
    fi
    rm -f "$loop_file"
}

cmd_loop_on() {
    local delay_ms=${1:-40} volume=${2:-0.3}
    [[ $delay_ms =~ ^[0-9]+$ ]] && ((delay_ms >= 1 && delay_ms <= 2000)) ||
        die "DELAY_MS must be a whole number of milliseconds, 1-2000 (got '$delay_ms')"
    cmd_loop_off
    local module
    module=$(pactl_bed load-module module-loopback source=virtual_speaker.monitor \
        sink=virtual_mic_feed latency_msec="$delay_ms" source_dont_move=true sink_dont_move=true \
        sink_input_properties=media.name=voicelive-echo-loop) ||
        die "could not load the echo loop (log: $dir/pulse.log)"
    echo "$module" >"$loop_file"
    # module-loopback has no gain of its own: set its sink input's volume (flat volumes are
    # off, so this is the loop's gain relative to the other streams into the feed).
    local input
    input=$(pactl_bed list sink-inputs | awk -v m="$module" \
        '/^Sink Input #/ { id = substr($3, 2) } /Owner Module:/ && $3 == m { print id; exit }')
    if [[ -z $input ]] || ! pactl_bed set-sink-input-volume "$input" "$volume"; then
        cmd_loop_off
        die "could not set the echo loop's volume to '$volume'"
    fi
    say "echo loop on: speaker -> microphone, ${delay_ms} ms, volume $volume (module $module)"
}

case $command_name in
    up) cmd_up ;;
    down) cmd_down ;;
    env) print_env ;;
    status) cmd_status ;;
    loop-on) cmd_loop_on "${3:-}" "${4:-}" ;;
    loop-off) cmd_loop_off ;;
    *) usage ;;
esac
