"""Echo cancellation with a client-supplied reference, as the service does it before its VAD.

With ``input_audio_echo_cancellation: {type: "server_echo_cancellation", reference_source:
"client", channels: 2}`` (and the handshake's ``features=client_ec_reference:true``) the input
is interleaved stereo PCM16: channel 0 the microphone, channel 1 what the client played at
the same instant (Microsoft's ``live-reference-aec`` sample: ``[mic0, ref0, mic1, ref1, …]``).
The service's EC model is not public; the simulator stands in with a textbook adaptive
filter, so an echo that the reference explains is removed and anything else (the user
talking over the reply) passes:

* **Filter**: partitioned-block frequency-domain NLMS (overlap-save with the gradient
  constraint; the structure of Speex's MDF without its extras): :data:`BLOCK` samples (10 ms)
  per step, :data:`PARTITIONS` partitions, so it models an echo path up to 200 ms long (loop
  delay plus room). Each bin's step is normalised by the reference power over the filter's
  span. Alone it needs about a second to converge on speech (its time constant grows with
  the filter length), while the VAD needs only 200 ms of voiced audio to start a turn; so
* **Seeding**: every 20 ms of reference the delay and gain of the strongest path are
  estimated by normalised cross-correlation (the last :data:`WINDOW` samples of microphone
  against the reference, every lag the filter spans; a shorter window while the residual is
  poor, to see a change sooner). The first estimate sets the filter to that fractional-delay
  tap, and so does a later, confident one whose delay moved while the recent residual is
  poor (the reference jumped: a client's clock correction, a restarted stream; during double
  talk the user's voice keeps the correlation low); the NLMS refines from there, and does
  not adapt before a first seed (with no echo there is nothing to learn). Until the first
  seed, for the first :data:`STARTUP_BLOCKS` of reference, a block no louder than the
  recent reference is held down (an echo path rarely amplifies): the start-up of a real
  canceller's non-linear stage. With no echo at all (headphones) nothing is ever seeded
  and, after that, nothing is held down.
* **Double talk**: adaptation stops where the reference is silent, and once the filter has
  converged its step is scaled by the square of echo-estimate power over residual power
  (Valin's learning-rate idea, crudely): near-end speech makes the residual much louder than
  the echo estimate, so the filter barely moves while the user talks over the reply.
* **Residual suppression**: a block whose residual is well below the echo estimate (only
  echo left) is attenuated by :data:`SUPPRESS_GAIN`, as a real canceller's non-linear stage
  does; a block with near-end speech is left alone.

Pure numpy, no I/O; one instance per connection, used from its task. Written from the
protocol notes; imports nothing from the client. The session rules (which configurations
are valid, the ``features`` flag) are in :mod:`.session`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from .audio import Pcm

Floats = npt.NDArray[np.float64]
Complexes = npt.NDArray[np.complex128]

BLOCK: Final = 240
"""Samples per filter step (10 ms at 24 kHz; a 20 ms append is two steps)."""
PARTITIONS: Final = 20
"""Filter length in blocks: 200 ms of echo path."""
STEP: Final = 0.5
"""NLMS step size (0..1; 1 is the fastest that is stable)."""
ACTIVE_DBFS: Final = -60.0
"""The filter adapts only on blocks whose reference is louder than this."""
CONVERGED_ERLE_DB: Final = 10.0
"""Echo return loss enhancement after which double talk slows adaptation."""
SUPPRESS_BELOW_DB: Final = 6.0
"""A residual this far below the echo estimate is taken for leftover echo…"""
SUPPRESS_GAIN: Final = 0.1
"""… and attenuated by this factor (-20 dB)."""
WINDOW: Final = 3_600
"""Microphone samples (150 ms) correlated for a delay estimate…"""
POOR_WINDOW: Final = 2_400
"""… and (100 ms) while the recent residual is poor."""
ESTIMATE_EVERY: Final = 2
"""Blocks with a reference between two delay estimates (20 ms)."""
SEED_NCC: Final = 0.5
"""Normalised cross-correlation a delay estimate needs to seed the filter…"""
RESEED_NCC: Final = 0.8
"""… and to re-seed a seeded one."""
MOVED_SAMPLES: Final = 1.5
"""A delay estimate this far from the seeded one, while…"""
POOR_ERLE_DB: Final = 6.0
"""… the recent ERLE is below this, re-seeds the filter."""
STARTUP_BLOCKS: Final = 30
"""Blocks with a reference (300 ms) during which an unseeded canceller holds quiet blocks."""
SINC_TAPS: Final = 32
"""Length of the windowed-sinc fractional delay used as the seed."""


def split_stereo(data: bytes) -> tuple[bytes, bytes]:
    """Interleaved stereo PCM16 → (channel 0, channel 1) as mono PCM16 bytes.

    ``data`` must hold whole frames (a multiple of 4 bytes).
    """
    frames = np.frombuffer(data, dtype="<i2").reshape(-1, 2)
    return frames[:, 0].tobytes(), frames[:, 1].tobytes()


def _power(x: Floats) -> float:
    return float(np.dot(x, x)) / max(1, x.size)


def estimate_path(
    mic: Floats, reference: Floats, max_lag: int, min_ncc: float = SEED_NCC
) -> tuple[float, float] | None:
    """``(delay, gain)`` of the strongest path from ``reference`` to ``mic``, or None.

    ``delay`` is in samples (fractional, 0..``max_lag``): ``mic[n] ≈ gain * reference[n -
    delay]``. Both arrays cover the same span; the last ``len - max_lag`` samples of ``mic``
    are correlated against every lag. None when no lag reaches ``min_ncc``.
    """
    n = mic.size
    window = n - max_lag
    if window <= 0 or reference.size != n:
        return None
    target = mic[max_lag:]
    size = 1 << int(np.ceil(np.log2(n + window)))
    spectrum = np.fft.rfft(reference, size) * np.conj(np.fft.rfft(target, size))
    # corr[k] = sum_j target[j] * reference[j + k]; lag = max_lag - k
    corr = np.fft.irfft(spectrum, size)[: max_lag + 1][::-1]
    energy = np.concatenate(([0.0], np.cumsum(reference * reference)))
    ref_energy = energy[window : window + max_lag + 1][::-1] - energy[: max_lag + 1][::-1]
    target_energy = float(np.dot(target, target))
    if target_energy <= 0:
        return None
    ncc = corr / np.sqrt(np.maximum(ref_energy, 1e-12) * target_energy)
    lag = int(np.argmax(ncc))
    if ncc[lag] < min_ncc:
        return None
    frac = 0.0
    if 0 < lag < max_lag:  # parabolic interpolation of the peak
        a, b, c = corr[lag - 1], corr[lag], corr[lag + 1]
        curve = a - 2 * b + c
        if curve < 0:
            frac = 0.5 * (a - c) / curve
    gain = float(corr[lag] / max(ref_energy[lag], 1e-12))
    return lag + frac, gain


def delay_filter(delay: float, gain: float, length: int, taps: int = SINC_TAPS) -> Floats:
    """A ``length``-tap FIR: ``gain`` times a Hann-windowed sinc delayed by ``delay`` samples."""
    h = np.zeros(length)
    centre = int(np.floor(delay))
    first = max(0, centre - taps // 2 + 1)
    last = min(length, centre + taps // 2 + 1)
    n = np.arange(first, last)
    window = 0.5 + 0.5 * np.cos(np.pi * (n - delay) / (taps // 2 + 1))
    h[first:last] = gain * np.sinc(n - delay) * window
    return h


class EchoCanceller:
    """Removes from the microphone what the reference explains. See the module docstring.

    :meth:`process` takes equal-length microphone and reference chunks and returns the
    residual of every whole :data:`BLOCK` seen so far (a shorter tail waits for the next
    chunk), so 20 ms appends come back whole and undelayed.
    """

    def __init__(
        self, block: int = BLOCK, partitions: int = PARTITIONS, step: float = STEP
    ) -> None:
        self.block = block
        self.partitions = partitions
        self.step = step
        bins = block + 1
        self._weights: Complexes = np.zeros((partitions, bins), dtype=np.complex128)
        self._spectra: Complexes = np.zeros((partitions, bins), dtype=np.complex128)
        self._previous: Floats = np.zeros(block)
        self._pending_mic: Floats = np.zeros(0)
        self._pending_ref: Floats = np.zeros(0)
        self._active = (10 ** (ACTIVE_DBFS / 20)) ** 2
        # Regularisation: the reference power over the filter span of a -70 dBFS noise.
        self._floor = partitions * 2 * block * 1e-7
        self._echo_power = 0.0  # smoothed over active blocks, for the ERLE estimate
        self._residual_power = 0.0
        self._span = WINDOW + partitions * block - SINC_TAPS  # samples one estimate needs
        self._mic_history: Floats = np.zeros(self._span)
        self._ref_history: Floats = np.zeros(self._span)
        self._ref_powers: Floats = np.zeros(partitions)  # of the blocks the filter spans
        self._since_estimate = ESTIMATE_EVERY
        self._active_blocks = 0
        self._recent_mic = 0.0  # fast averages (a few blocks) for the "poor residual" test
        self._recent_res = 0.0
        self.delay: float | None = None
        """The delay (samples) of the path the filter was last seeded with."""
        self.converged = False
        self.seeds = 0
        """How many times the filter was set from a delay estimate."""
        self.blocks = 0

    @property
    def erle_db(self) -> float:
        """Smoothed echo return loss enhancement over the blocks with a reference (dB)."""
        if self._residual_power <= 0:
            return 0.0
        return 10 * float(np.log10(max(self._echo_power, 1e-20) / self._residual_power))

    def process(self, mic: Pcm, reference: Pcm) -> Pcm:
        """Residual of the whole blocks of ``mic`` (after what ``reference`` explains)."""
        if mic.size != reference.size:
            raise ValueError("microphone and reference chunks differ in length")
        scale = 1 / 32768
        m = np.concatenate((self._pending_mic, mic.astype(np.float64) * scale))
        r = np.concatenate((self._pending_ref, reference.astype(np.float64) * scale))
        whole = m.size // self.block * self.block
        self._pending_mic, self._pending_ref = m[whole:], r[whole:]
        out = np.empty(whole)
        for start in range(0, whole, self.block):
            stop = start + self.block
            out[start:stop] = self._step(m[start:stop], r[start:stop])
        pcm: Pcm = np.clip(np.round(out * 32768), -32768, 32767).astype(np.int16)
        return pcm

    def _step(self, mic: Floats, ref: Floats) -> Floats:
        b = self.block
        self.blocks += 1
        self._mic_history = np.concatenate((self._mic_history[b:], mic))
        self._ref_history = np.concatenate((self._ref_history[b:], ref))
        p_ref, p_mic = _power(ref), _power(mic)
        self._ref_powers = np.roll(self._ref_powers, 1)
        self._ref_powers[0] = p_ref
        if p_ref > self._active:
            self._active_blocks += 1
            self._maybe_seed()
        # The newest reference spectrum (overlap-save: previous block + this block).
        self._spectra = np.roll(self._spectra, 1, axis=0)
        self._spectra[0] = np.fft.rfft(np.concatenate((self._previous, ref)))
        self._previous = ref
        echo = np.fft.irfft(np.sum(self._weights * self._spectra, axis=0), 2 * b)[b:]
        residual = mic - echo

        p_echo, p_res = _power(echo), _power(residual)
        if p_ref > self._active:
            self._echo_power += 0.1 * (p_mic - self._echo_power)
            self._residual_power += 0.1 * (p_res - self._residual_power)
            self._recent_mic += 0.3 * (p_mic - self._recent_mic)
            self._recent_res += 0.3 * (p_res - self._recent_res)
            if self.seeds and self.erle_db >= CONVERGED_ERLE_DB:
                self.converged = True
            rate = self.step
            if self.converged:  # double talk: the residual far louder than the echo estimate
                rate *= min(1.0, p_echo / max(p_res, 1e-12)) ** 2
            if self.seeds:  # it refines a path that was found; no echo, nothing to learn
                self._adapt(residual, rate)
        if not self.seeds:
            startup = 0 < self._active_blocks <= STARTUP_BLOCKS
            if startup and p_mic <= self._ref_powers.max():  # no louder than what was played
                residual = residual * SUPPRESS_GAIN
        elif p_res * 10 ** (SUPPRESS_BELOW_DB / 10) < p_echo:
            residual = residual * SUPPRESS_GAIN  # only echo is left
        return residual

    def _maybe_seed(self) -> None:
        """Estimate the path every few blocks; seed the filter with it the first time, and
        again when the delay moved while the residual is poor."""
        self._since_estimate += 1
        if self._since_estimate < ESTIMATE_EVERY:
            return
        self._since_estimate = 0
        length = self.partitions * self.block
        max_lag = length - SINC_TAPS
        poor = self._recent_res * 10 ** (POOR_ERLE_DB / 10) > self._recent_mic
        if self.delay is not None and not poor:
            return
        span = max_lag + (POOR_WINDOW if self.delay is not None else WINDOW)
        need = SEED_NCC if self.delay is None else RESEED_NCC
        found = estimate_path(self._mic_history[-span:], self._ref_history[-span:], max_lag, need)
        if found is None:
            return
        delay, gain = found
        if self.delay is not None and abs(delay - self.delay) <= MOVED_SAMPLES:
            return
        taps = delay_filter(delay, gain, length).reshape(self.partitions, self.block)
        padded = np.concatenate((taps, np.zeros_like(taps)), axis=1)
        self._weights = np.fft.rfft(padded, axis=1)
        self.delay = delay
        self.seeds += 1
        self.converged = False
        self._residual_power = self._echo_power  # the ERLE is measured afresh

    def _adapt(self, residual: Floats, rate: float) -> None:
        b = self.block
        error = np.fft.rfft(np.concatenate((np.zeros(b), residual)))
        norm = np.sum(np.abs(self._spectra) ** 2, axis=0) + self._floor
        gradient = np.conj(self._spectra) * (error / norm)
        # The constraint: each partition is a filter of `b` taps, not a circular 2b-tap one.
        taps = np.fft.irfft(gradient, 2 * b, axis=1)
        taps[:, b:] = 0.0
        self._weights += rate * np.fft.rfft(taps, axis=1)
