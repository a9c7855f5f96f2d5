"""A reply as the virtual speaker played it: where it starts, where it ends, its gaps.

The spoken turns carry a -48 dBFS noise floor (:func:`tests.audio_bed.with_noise_floor`) and
the simulator parrots them back from inside that noise, so every sample of a reply the client
plays is audible: what it did not play (a jitter buffer that ran dry, a device underflow) is
digital silence, found to the sample. Used by tests/e2e/test_first_reply_audio.py and
benchmarks/links.py. Waits are the recorder's (a condition variable with a deadline).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.audio_bed import SpeakerRecorder, read_wav, speech_wav, with_noise_floor, write_wav
from tests.e2e.sound_analysis import RATE, Samples, first_sound, last_sound_end, sound_span

NOISE_DB = -56.0
"""Detection level for the -48 dBFS noise floor the spoken turns (and so the replies) carry."""
SILENT = 2
"""A sample at most this far from zero is silence (the noise floor is ~130 RMS)."""
MIN_GAP = RATE // 1000
"""Runs of silence shorter than 1 ms are the noise's own zero crossings."""
LEAD_S = 0.6
"""Noise before each turn's voice: longer than the simulator's 300 ms prefix padding, so a
reply begins inside it."""


def silent_ms(samples: Samples) -> float:
    """Milliseconds of digital silence in ``samples`` (runs of at least :data:`MIN_GAP`)."""
    quiet = (np.abs(samples.astype(np.int32)) <= SILENT).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]])))
    lengths = edges[1::2] - edges[::2]
    return float(lengths[lengths >= MIN_GAP].sum()) * 1000 / RATE


def noisy_speech(text: str, path: Path) -> tuple[Path, float]:
    """``text`` spoken inside the noise floor, written to ``path``; and where its voice ends
    in the file (seconds)."""
    raw = read_wav(speech_wav(text, path.with_name(path.stem + ".raw.wav")))[0]
    span = sound_span(raw)
    voiced_end = LEAD_S + (span[1] if span else len(raw)) / RATE
    return write_wav(path, with_noise_floor(raw, lead_s=LEAD_S)), voiced_end


def onset_after(rec: SpeakerRecorder, mark: int, timeout: float) -> int | None:
    """The sample where the next reply starts at or after ``mark`` (sample-exact), or None."""
    found = rec.wait_for_sound(mark, timeout, threshold_db=NOISE_DB)
    if found is None:
        return None
    low = max(0, found - RATE // 50)
    precise = first_sound(rec.samples()[low : found + RATE // 50], threshold_db=NOISE_DB)
    return low + precise if precise is not None else found


def heard_until(rec: SpeakerRecorder, onset: int, when: float) -> tuple[int, float] | None:
    """(samples from ``onset`` to the reply's last sound, gaps in ms inside them) in the
    recording up to monotonic time ``when`` (waited for); None if nothing was heard."""
    rec.wait_for_duration(when - rec.t0 + 0.05, timeout=10)
    window = rec.samples()[onset : rec.index_at(when)]
    end = last_sound_end(window, threshold_db=NOISE_DB)
    if end is None:
        return None
    return end, silent_ms(window[:end])


def logged_ms(line: str, after: str, label: str) -> float:
    """The number between ``after`` and ``label`` in a client's log line; 0 when the line has
    none (a client from before concealment and trimming, run with ``--client-src``)."""
    if after not in line or label not in line:
        return 0.0
    return float(line.split(after, 1)[1].split(label, 1)[0])


def played_out_ms(line: str) -> tuple[float, float, float]:
    """(ms concealed mid-reply, ms concealed after its last audio, ms of pauses trimmed) of a
    client log's ``played out:`` line (:mod:`voicelive.audio.speaker`)."""
    return (
        logged_ms(line, " underrun(s), ", " ms concealed"),
        logged_ms(line, " ms concealed (and ", " ms after"),
        logged_ms(line, "last audio), ", " ms of pauses trimmed"),
    )
