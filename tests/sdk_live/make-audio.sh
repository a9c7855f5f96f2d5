#!/usr/bin/env bash
# Substitute audio for the Voice Live SDK's live suite, made with espeak-ng and sox.
#
# Usage: tests/sdk_live/make-audio.sh DIR
#
# The suite's own recordings are not in the source distribution; these files take their names
# and shapes (what the suite's assertions need of them), with our own synthetic speech:
#   largest_lake.wav        24 kHz mono PCM16 WAV, one question, speech from 0 to ~1.48 s
#                           (the suite expects speech_stopped.audio_end_ms ≈ 1680 with a
#                           200 ms silence_duration_ms)
#   largest_lake.{8,16,44}kHz.wav   the same at 8000, 16000 and 44100 Hz
#   largest_lake.ulaw/.alaw raw G.711 µ-law / A-law at 8 kHz (no header)
#   4-1.wav                 24 kHz, two questions 1.5 s apart (two speech segments)
#   ask_weather.wav         24 kHz, one question about the weather
#   ask_weather.mp3         NOT an MP3: no MP3 encoder is installed, so this is the same speech
#                           as Ogg Vorbis; the suite only appends its bytes as if they were PCM16
#   filler_word_24kHz.wav   24 kHz, filler words only ("um, uh, hmm")
#   audio_overlap.wav       24 kHz, one long request (its test is skipped by the suite itself)
set -euo pipefail

out=${1:?usage: make-audio.sh DIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say TEXT FILE: espeak-ng speech, leading and trailing silence trimmed, 24 kHz mono 16 bit.
say() {
    espeak-ng -s 170 -w "$tmp/raw.wav" "$1"
    sox "$tmp/raw.wav" -r 24000 -c 1 -b 16 -e signed-integer "$2" \
        silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse
}

say "What is the largest lake in the world?" "$tmp/lake.wav"
# Stretch the question to 1.48 s of speech (tempo keeps the pitch).
length=$(soxi -D "$tmp/lake.wav")
factor=$(python3 -c "print(f'{$length / 1.48:.5f}')")
sox "$tmp/lake.wav" "$out/largest_lake.wav" tempo -s "$factor" trim 0 1.48
for rate in 8000 16000 44100; do
    sox "$out/largest_lake.wav" -r "$rate" "$out/largest_lake.$((rate / 1000))kHz.wav"
done
sox "$out/largest_lake.wav" -r 8000 -t raw -e u-law -b 8 "$out/largest_lake.ulaw"
sox "$out/largest_lake.wav" -r 8000 -t raw -e a-law -b 8 "$out/largest_lake.alaw"

say "What's the weather like in Seattle today?" "$tmp/q1.wav"
say "And what time is it there now?" "$tmp/q2.wav"
sox "$tmp/q1.wav" -p pad 0.2 1.5 | sox - "$tmp/q2.wav" -b 16 "$out/4-1.wav"

say "What's the weather like in Seattle today?" "$out/ask_weather.wav"
sox "$out/ask_weather.wav" -t ogg "$out/ask_weather.mp3"

say "Um, uh, hmm, er, um." "$out/filler_word_24kHz.wav"

say "My payment through the QR scanner failed yesterday and the money has not reached my bank \
account. Can you check the settlement and tell me when it will arrive?" "$out/audio_overlap.wav"
