"""Audio format conversion and the simulator's synthetic voice.

Internally the simulator keeps every clip as PCM16 mono at 24 kHz (numpy int16). Input in
another session format is converted on arrival, output on the way out. Resampling is linear
interpolation per chunk: good enough for a stand-in, not hi-fi. G.711 µ-law and A-law follow
the ITU-T G.711 segment tables (vectorised). Pure functions, no I/O.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .constants import SAMPLE_RATE

Pcm = npt.NDArray[np.int16]

INPUT_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
_OUTPUT_RATES = {
    "pcm16": 24_000,
    "pcm16_8000hz": 8_000,
    "pcm16_16000hz": 16_000,
    # Not in the reference page nor the SDK's enum, but Microsoft's live suite sends them with
    # Azure voices and expects audio in them: the service's own tests are the better evidence.
    "pcm16_22050hz": 22_050,
    "pcm16_24000hz": 24_000,
    "pcm16_44100hz": 44_100,
    "pcm16_48000hz": 48_000,
}
OUTPUT_FORMATS = (*_OUTPUT_RATES, "g711_ulaw", "g711_alaw")
INPUT_RATES = (8_000, 16_000, 24_000, 44_100)
"""``input_audio_sampling_rate`` values for pcm16: the reference's 8/16/24 kHz, and 44.1 kHz,
which Microsoft's live suite sends (``largest_lake.44kHz.wav``)."""
_G711_RATE = 8_000


def resample(samples: Pcm, src_rate: int, dst_rate: int) -> Pcm:
    """Linear-interpolation resampling of int16 samples."""
    if src_rate == dst_rate or samples.size == 0:
        return samples
    n_out = max(1, round(samples.size * dst_rate / src_rate))
    positions = np.arange(n_out, dtype=np.float64) * (src_rate / dst_rate)
    out = np.interp(positions, np.arange(samples.size), samples.astype(np.float64))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


# --- G.711 --------------------------------------------------------------------------------

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def ulaw_encode(samples: Pcm) -> bytes:
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.clip(np.floor(np.log2(np.maximum(mag >> 7, 1))).astype(np.int32), 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    encoded: bytes = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    return encoded


def ulaw_decode(data: bytes) -> Pcm:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


def alaw_encode(samples: Pcm) -> bytes:
    x = samples.astype(np.int32) >> 3  # 13-bit magnitude domain
    mask = np.where(x >= 0, 0xD5, 0x55)
    mag = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag)  # first segment whose end >= mag
    shift = np.where(seg < 2, 1, seg)
    aval = (seg << 4) | ((mag >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> Pcm:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


# --- session formats ----------------------------------------------------------------------


def input_frame_bytes(fmt: str) -> int:
    """Bytes per sample of an input format (2 for pcm16, 1 for G.711)."""
    return 2 if fmt == "pcm16" else 1


def decode_input(data: bytes, fmt: str, rate: int) -> Pcm:
    """Session input audio → PCM16 at 24 kHz. ``data`` must be whole samples."""
    if fmt == "g711_ulaw":
        return resample(ulaw_decode(data), _G711_RATE, SAMPLE_RATE)
    if fmt == "g711_alaw":
        return resample(alaw_decode(data), _G711_RATE, SAMPLE_RATE)
    return resample(np.frombuffer(data, dtype="<i2").astype(np.int16), rate, SAMPLE_RATE)


def output_rate(fmt: str) -> int:
    """Sample rate of an output format."""
    return _G711_RATE if fmt.startswith("g711") else _OUTPUT_RATES.get(fmt, SAMPLE_RATE)


def encode_output(samples: Pcm, fmt: str) -> bytes:
    """PCM16 at 24 kHz → the session's output format."""
    if fmt == "g711_ulaw":
        return ulaw_encode(resample(samples, SAMPLE_RATE, _G711_RATE))
    if fmt == "g711_alaw":
        return alaw_encode(resample(samples, SAMPLE_RATE, _G711_RATE))
    rate = _OUTPUT_RATES.get(fmt, SAMPLE_RATE)
    return resample(samples, SAMPLE_RATE, rate).astype("<i2").tobytes()


def pcm_from_bytes(data: bytes) -> Pcm:
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def duration_ms(samples: Pcm | bytes) -> int:
    n = len(samples) // 2 if isinstance(samples, bytes) else samples.size
    return n * 1000 // SAMPLE_RATE


def chirp(seconds: float, amplitude: float = 0.25) -> Pcm:
    """The simulator's "voice" when it has nothing to parrot: a rising two-tone sweep.

    Syllable-like 200 ms bursts gliding 220 → 660 Hz with 20 ms fades, so it is audible,
    clearly synthetic, and above the default VAD threshold for echo tests.
    """
    n = max(1, int(seconds * SAMPLE_RATE))
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    freq = 220.0 + 440.0 * (t / max(seconds, 1e-6))
    phase = 2.0 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    wave = np.sin(phase) + 0.3 * np.sin(2.0 * phase)
    syllable = 0.5 - 0.5 * np.cos(2.0 * np.pi * (t % 0.2) / 0.2)  # 200 ms "syllables"
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    out = amplitude * 32767.0 * wave / 1.3 * syllable * fade
    pcm: Pcm = np.clip(np.round(out), -32768, 32767).astype(np.int16)
    return pcm
