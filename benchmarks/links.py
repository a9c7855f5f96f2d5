"""Replies through impaired links, per link profile, for ``benchmarks/run.py --only links``.

For each profile (:data:`PROFILES`) run.py starts ``voicelive simulate`` at the profile's
speedup, a loopback relay with its delay and jitter (``tests/impaired_link.py``, on its own
event-loop thread) and, for each session, the ``voicelive`` console script with default
settings pointed at the relay. Each session speaks :data:`TURNS` turns into the virtual
microphone and records the virtual speaker (parec): turn 1 is the session's *first* reply,
the others are *later* replies, and the last one is interrupted after a second of it was
heard (a barge-in).

Figures per reply, from the recording (every sample of a reply carries a -48 dBFS noise
floor, so what the client did not play is digital silence, sample-exact):

- **gaps**: silence inside the reply (underruns of the jitter buffer or of the device);
- **concealed**: what the client played where its buffer had run dry mid-reply (the reply's
  last pitch period, fading: :mod:`voicelive.audio.concealment`), from its log. Not silence,
  so not in *gaps*, but not the reply's audio either: it makes the reply later as a gap does;
- **trimmed**: cut from the reply's pauses where it had waited longer than the link needed
  (:mod:`voicelive.audio.pause_trim`), from its log: it makes the reply less late;
- **playout**: from the server's first audio delta (its read by the relay) to the reply's
  first sound, plus its gaps and its concealment, less what was trimmed: how late its last
  sound is against a real-time schedule that started when the server sent it. Floor: the
  least any gap-free player could do with the chunks as the link delivered them through this
  speaker: ``max(written_k - read_0 - audio_before_k)`` plus the speaker's buffer (its
  stream's latency, from the client's log: 20 ms by default), which PortAudio fills from the
  reply as it starts, so each chunk is needed that much before it is heard;
- **truncate error** (barge-in turns): ``audio_end_ms`` of the client's
  ``conversation.item.truncate`` minus the reply audio the speaker really played before it
  fell silent (what it heard, less gaps and concealment). Floor: the clean profile's,
  measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from procs import Client

if TYPE_CHECKING:
    from tests.audio_bed import AudioBed, SpeakerRecorder
    from tests.impaired_link import ImpairedLink

RATE = 24_000
TURNS = 4
CHUNK_MS = 100.0
"""Audio per delta as the simulator sends it (its ``CHUNK_MS``)."""


@dataclass(frozen=True)
class Profile:
    name: str
    delay_ms: float
    jitter_ms: float
    speedup: float


PROFILES = (
    Profile("clean loopback, 4x", 0, 0, 4.0),
    Profile("100 ms + 0-60 ms jitter, real time", 100, 60, 1.0),
    Profile("200 ms + 0-150 ms jitter, real time", 200, 150, 1.0),
    Profile("100 ms + 0-60 ms jitter, 4x", 100, 60, 4.0),
    Profile("200 ms + 0-150 ms jitter, 4x", 200, 150, 4.0),
)


@dataclass
class Results:
    """Samples (ms) of one profile."""

    gaps_first: list[float] = field(default_factory=list)
    gaps_later: list[float] = field(default_factory=list)
    concealed_first: list[float] = field(default_factory=list)
    concealed_later: list[float] = field(default_factory=list)
    trimmed_first: list[float] = field(default_factory=list)
    trimmed_later: list[float] = field(default_factory=list)
    playout_first: list[float] = field(default_factory=list)
    playout_later: list[float] = field(default_factory=list)
    floor_first: list[float] = field(default_factory=list)
    floor_later: list[float] = field(default_factory=list)
    truncate_error: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def played_out(client: Client) -> int:
    return len(client.log_lines("played out:"))


def speaker_buffer_ms(client: Client) -> float:
    """The speaker stream's latency as PortAudio reported it (the client's log): the audio
    the device takes from the reply as it starts and keeps queued, which no player gets
    round."""
    from tests.reply_audio import logged_ms

    lines = client.log_lines("speaker open:")
    return logged_ms(lines[-1], "latency=", " ms") if lines else 0.0


def reply_edits_ms(client: Client) -> list[tuple[float, float]]:
    """Per reply played out, (ms concealed mid-reply, ms of pauses trimmed): the client's
    log."""
    from tests.reply_audio import played_out_ms

    edits = (played_out_ms(line) for line in client.log_lines("played out:"))
    return [(concealed, trimmed) for concealed, _, trimmed in edits]


def edits_in_all_ms(client: Client) -> tuple[float, float]:
    """The session's (concealed, trimmed) ms up to its last barge-in (the client's log)."""
    from tests.reply_audio import logged_ms

    lines = client.log_lines("barge-in: playback flushed;")
    if not lines:
        return 0.0, 0.0
    return (
        logged_ms(lines[-1], "flushed; ", " ms concealed"),
        logged_ms(lines[-1], " ms concealed, ", " ms of pauses trimmed"),
    )


def drained_more(than: int, client: Client) -> bool:
    return played_out(client) > than


def more_than(than: int, record: Path, event_type: str) -> bool:
    from tests.e2e.chat_harness import events_of

    return len(events_of(record, event_type)) > than


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    from tests.e2e.chat_harness import wait_for as poll

    return poll(predicate, timeout, interval=0.02)


def link_floor(
    link: ImpairedLink, since: float, until: float, ahead_ms: float
) -> tuple[float, float] | None:
    """(read time of the reply's first audio delta, the playout floor in ms) for the audio
    deltas the server sent between ``since`` and ``until``, through a speaker that takes
    ``ahead_ms`` from the reply as it starts: audio after its first ``ahead_ms`` is needed that
    much before it is heard."""
    chunks = [d for d in link.delivered if d.audio_deltas and since <= d.read_at <= until]
    if not chunks:
        return None
    first = chunks[0].read_at
    before, floor = 0.0, 0.0
    for chunk in chunks:
        ahead = min(ahead_ms, before)
        floor = max(floor, (chunk.sent_at - first) * 1000 - before + ahead)
        before += CHUNK_MS * chunk.audio_deltas
    return first, floor


def run_session(
    bed: AudioBed, rec: SpeakerRecorder, endpoint: str, env: dict[str, str], record: Path,
    workdir: Path, link: ImpairedLink, wavs: tuple[Path, Path, Path, float], results: Results,
) -> None:  # fmt: skip
    """One client session of :data:`TURNS` turns; appends to ``results``."""
    from tests.e2e.chat_harness import events_of
    from tests.reply_audio import heard_until, onset_after

    turn_wav, long_wav, interruption, voiced_end = wavs
    client = Client(endpoint, env, workdir).start()
    try:
        if not wait_for(lambda: not client.alive() or bool(_appends(record)), 30):
            raise RuntimeError("the client did not start streaming")
        for turn in range(TURNS):
            barge = turn == TURNS - 1
            drained = played_out(client)
            truncates = len(events_of(record, "conversation.item.truncate"))
            started = time.monotonic()
            mark = rec.index_at(started)
            bed.play_into_mic(long_wav if barge else turn_wav).wait(timeout=30)
            onset = onset_after(rec, mark, 20.0)
            if onset is None:
                results.notes.append(f"turn {turn + 1}: no reply heard")
                continue
            if barge:
                rec.wait_for_duration(onset / RATE + 1.0, timeout=10)
                cut_at = time.monotonic()
                player = bed.play_into_mic(interruption)
                truncated = partial(more_than, truncates, record, "conversation.item.truncate")
                ok = wait_for(truncated, 15)
                player.wait(timeout=30)
                # Before the parrot of the interruption: it comes 500 ms after its voice.
                heard = heard_until(rec, onset, cut_at + voiced_end + 0.3)
                if not ok or heard is None:
                    results.notes.append(f"turn {turn + 1}: no truncate or nothing heard")
                    continue
                end, gaps = heard
                truncate = events_of(record, "conversation.item.truncate")[-1]
                in_all, earlier = edits_in_all_ms(client), reply_edits_ms(client)
                concealed = in_all[0] - sum(c for c, _ in earlier)
                trimmed = in_all[1] - sum(t for _, t in earlier)
                played_ms = end * 1000 / RATE - gaps - concealed + trimmed
                results.truncate_error.append(float(truncate["audio_end_ms"]) - played_ms)
                until = cut_at
            else:
                if not wait_for(partial(drained_more, drained, client), 30):
                    results.notes.append(f"turn {turn + 1}: the reply never played out")
                    continue
                heard = heard_until(rec, onset, time.monotonic() + 0.25)
                if heard is None:
                    continue
                end, gaps = heard
                concealed, trimmed = reply_edits_ms(client)[-1]
                until = time.monotonic()
            floor = link_floor(link, started, until, speaker_buffer_ms(client))
            if floor is None:
                results.notes.append(f"turn {turn + 1}: no audio delta seen on the link")
                continue
            first_read, floor_ms = floor
            playout = (rec.time_at(onset) - first_read) * 1000 + gaps + concealed - trimmed
            if turn == 0:
                results.gaps_first.append(gaps)
                results.concealed_first.append(concealed)
                results.trimmed_first.append(trimmed)
                results.playout_first.append(playout)
                results.floor_first.append(floor_ms)
            else:
                results.gaps_later.append(gaps)
                results.concealed_later.append(concealed)
                results.trimmed_later.append(trimmed)
                results.playout_later.append(playout)
                results.floor_later.append(floor_ms)
    finally:
        client.quit()


def _appends(record: Path) -> list[object]:
    from tests.e2e.chat_harness import events_of

    return list(events_of(record, "input_audio_buffer.append"))


def make_wavs(work: Path) -> tuple[Path, Path, Path, float]:
    """A short turn, a long one (to be interrupted) and the interruption, each inside a
    -48 dBFS noise floor; and where the interruption's voice ends in its file (seconds)."""
    from tests.reply_audio import noisy_speech

    turn, _ = noisy_speech("The quick brown fox jumps over the lazy dog", work / "turn.wav")
    long, _ = noisy_speech(
        "Once upon a time a little robot listened to long stories about the sea",
        work / "long.wav",
    )
    stop, voiced_end = noisy_speech("Wait, stop please", work / "stop.wav")
    return turn, long, stop, voiced_end


def links_section(
    bed: AudioBed, env: dict[str, str], sim_env: dict[str, str], work: Path, sessions: int
) -> dict[str, Results]:
    """Every profile, ``sessions`` client sessions each (a new seed per session)."""
    from tests.e2e.chat_harness import Simulator
    from tests.impaired_link import ThreadedLink

    wavs = make_wavs(work)
    found: dict[str, Results] = {}
    with bed.record_speaker() as rec:
        for p, profile in enumerate(PROFILES):
            results = found[profile.name] = Results()
            record = work / f"links{p}.jsonl"
            with Simulator(record, sim_env, "--speedup", f"{profile.speedup:g}") as sim:
                for n in range(sessions):
                    seed = 100 * p + n + 1
                    delay, jitter = profile.delay_ms, profile.jitter_ms
                    with ThreadedLink(
                        sim.port, delay_ms=delay, jitter_ms=jitter, seed=seed
                    ) as link:
                        run_session(
                            bed, rec, link.endpoint, env, record, work / f"links{p}_{n}",
                            link, wavs, results,
                        )  # fmt: skip
            print(f"  {profile.name}: {sessions} sessions", flush=True)
    return found


def spread(values: list[float], digits: int = 0) -> str:
    if not values:
        return "n/a"
    med, low, high = statistics.median(values), min(values), max(values)
    return f"{med:.{digits}f} ({low:.{digits}f} to {high:.{digits}f}, n={len(values)})"


def print_links(found: dict[str, Results]) -> None:
    """The per-profile table; the clean profile is the floor of the gaps and truncate error."""
    print(
        "\nreplies through impaired links (ms: median (min-max, n)); playout floor: the least "
        "gap-free playout\nfor the link's actual delivery through this speaker (its buffer "
        "included); the clean profile is\nthe floor of the gaps and the truncate error"
    )
    header = (
        f"{'profile':36s} {'reply':6s} {'gaps':18s} {'concealed':18s} {'trimmed':18s} "
        f"{'playout':20s} {'playout floor':20s} truncate error"
    )
    print(header)
    for name, r in found.items():
        rows = (
            (name, "first", r.gaps_first, r.concealed_first, r.trimmed_first, r.playout_first,
             r.floor_first, ""),
            ("", "later", r.gaps_later, r.concealed_later, r.trimmed_later, r.playout_later,
             r.floor_later, spread(r.truncate_error, 1)),
        )  # fmt: skip
        for label, reply, gaps, concealed, trimmed, playout, floor, truncate in rows:
            print(
                f"{label:36s} {reply:6s} {spread(gaps):18s} {spread(concealed):18s} "
                f"{spread(trimmed):18s} {spread(playout):20s} {spread(floor):20s} {truncate}"
            )
        for note in r.notes:
            print(f"{'':36s} note: {note}")
