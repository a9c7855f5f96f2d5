"""Micro-benchmarks of the client's hot paths (no network, no audio device).

Run: python benchmarks/hot_paths.py
Prints, for each path, the mean cost per call and the share of its real-time budget:
- the output callback's pull from the jitter buffer (every 10 ms of audio);
- receiving one 100 ms response.audio.delta (JSON decode, base64, parse, dispatch, push);
- building one 20 ms input_audio_buffer.append (base64 + JSON encode);
- the microphone callback's quiet test of one 20 ms block *as it runs there*: on a thread
  woken every 20 ms, so with cold caches, where a warm loop of calls says far less (numpy's
  RMS took 5 us warm and about 110 us cold here). Next to it, its floor (the same thread
  calling a function that does nothing) and numpy's RMS, the way it was done before.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable

from voicelive.audio.jitter import JitterBuffer
from voicelive.audio.quiet_batcher import QuietBatcher
from voicelive.protocol import client_events as ce
from voicelive.protocol import conversation as cv
from voicelive.protocol import server_events as ev


def measure(name: str, fn: Callable[[], None], n: int, budget_ms: float) -> None:
    fn()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    per_call_us = (time.perf_counter() - start) / n * 1e6
    share = per_call_us / (budget_ms * 1000) * 100
    print(f"{name:48s} {per_call_us:8.2f} us/call  ({share:.3f} % of its {budget_ms:g} ms budget)")


def cold_us(fn: Callable[[], object], calls: int = 150, period_s: float = 0.02) -> list[float]:
    """Thread CPU time of each call of ``fn`` made every ``period_s`` on a fresh thread, in us
    (what a PortAudio callback pays: it sleeps between blocks)."""
    costs: list[float] = []

    def run() -> None:
        for _ in range(calls):
            time.sleep(period_s)  # sleep-ok: the callback's own rhythm
            start = time.thread_time_ns()
            fn()
            costs.append((time.thread_time_ns() - start) / 1000)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return costs


def numpy_mean_square(block: bytes) -> float:
    """The quiet test's RMS as it was computed before audioop (for comparison only)."""
    import numpy as np

    samples = np.frombuffer(block, "<i2").astype(np.int32)
    return int(np.dot(samples, samples)) / samples.size


def measure_quiet_test() -> None:
    rng = random.Random(1)
    room = [  # 20 ms of -60 dBFS noise: quiet, so every part of the test runs
        b"".join(int(rng.gauss(0, 33)).to_bytes(2, "little", signed=True) for _ in range(480))
        for _ in range(50)
    ]
    batcher = QuietBatcher(20, 200, 0)
    blocks = iter(room * 10)

    def nothing() -> None:
        pass

    ways: list[tuple[str, Callable[[], object]]] = [
        ("floor: a call that does nothing", nothing),
        ("QuietBatcher.feed (peak test, RMS, floor)", lambda: batcher.feed(next(blocks))),
        ("numpy's RMS alone (the way before)", lambda: numpy_mean_square(next(blocks))),
    ]
    print("\nthe microphone callback's quiet test, per 20 ms block, cold (median (p10-p90)):")
    for name, fn in ways:
        costs = sorted(cold_us(fn))
        p10, p90 = costs[len(costs) // 10], costs[len(costs) * 9 // 10]
        median = statistics.median(costs)
        share = median / 20_000 * 100
        print(f"  {name:46s} {median:7.1f} us ({p10:.1f}-{p90:.1f}); {share:.2f} % of a core")


def main() -> None:
    jitter = JitterBuffer(prefill_bytes=0, max_bytes=1 << 30)
    block = memoryview(bytearray(480))  # 10 ms at 24 kHz
    chunk = bytes(range(256)) * 19  # ~100 ms of "audio"

    def pull() -> None:
        if jitter.stats().queued_bytes < 48_000:
            jitter.push("item", chunk)
        jitter.pull_into(block)

    measure("jitter pull_into (10 ms block, with refills)", pull, 200_000, 10)

    conv = cv.Conversation(ce.EventIds())
    conv.handle(ev.ResponseCreated("resp_1"))
    sink = JitterBuffer(prefill_bytes=0, max_bytes=1 << 34)
    frame = json.dumps(
        {
            "type": "response.audio.delta",
            "event_id": "e",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(b"\x01\x02" * 2400).decode(),
        }
    )

    def receive() -> None:
        for action in conv.handle(ev.parse_event(ev.decode_frame(frame))):
            if isinstance(action, cv.Play):
                sink.push(action.item_id, action.pcm16)
        if sink.stats().queued_bytes > 1 << 28:
            sink.flush()

    measure("receive 100 ms audio delta (decode+parse+push)", receive, 20_000, 100)

    pcm = b"\x03\x04" * 480

    def send() -> None:
        json.dumps(ce.audio_append(pcm), separators=(",", ":"))

    measure("build 20 ms input_audio_buffer.append", send, 100_000, 20)

    tracemalloc.start()
    big = JitterBuffer(prefill_bytes=1920, max_bytes=60_000 * 48)
    for _ in range(600):  # a 60 s reply arriving at once
        big.push("long", b"\x00\x01" * 2400)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{'memory held for a 60 s reply in the buffer':48s} {current / 1e6:8.2f} MB "
        f"(peak {peak / 1e6:.2f} MB; the audio itself is 2.88 MB)"
    )
    measure_quiet_test()


if __name__ == "__main__":
    main()
