"""Latency, CPU and memory of the real client through the real audio stack.

Run: scripts/test.sh is not needed; this starts its own virtual sound card:
    .venv/bin/python benchmarks/latency.py [--trials 10]

What it does: starts the private PulseAudio bed (scripts/virtual-audio.sh), a scripted Voice
Live server on 127.0.0.1:0 and ``run_chat`` with the real PortAudio microphone and speaker,
all in this process, and records the virtual speaker with parec. Each trial the server sends a
reply (a 1 kHz tone, all deltas at once, as the service does: faster than real time), then
``input_audio_buffer.speech_started`` while it plays. Measured on the recording:

- first audio: server sends the first ``response.audio.delta`` → sound on the speaker;
- barge-in: server sends ``speech_started`` → the speaker is silent.

Both include the recorder's own latency (parec at 10 ms) and the loopback hop. Then 10 s of
listening (microphone streaming, nothing playing) measure the client's CPU use, and the peak
RSS of the whole process is reported. The figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.audio_bed import AudioBed  # noqa: E402
from tests.e2e.sound_analysis import last_sound_end  # noqa: E402


def tone_pcm(seconds: float) -> bytes:
    t = np.arange(int(seconds * 24_000)) / 24_000
    return (0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype("<i2").tobytes()


async def run(trials: int, bed: AudioBed, block_ms: int, latency_ms: int | None) -> None:
    from tests.fakes import RecordingView
    from tests.scripted_server import Scripted
    from websockets.asyncio.server import serve

    from voicelive.chat import run_chat
    from voicelive.settings import (
        AudioSettings,
        ConnectionSettings,
        LogSettings,
        Secret,
        Settings,
    )

    server = Scripted()
    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        settings = Settings(
            connection=ConnectionSettings(endpoint=f"ws://127.0.0.1:{port}", api_key=Secret("k")),
            audio=AudioSettings(output_block_ms=block_ms, output_latency_ms=latency_ms),
            log=LogSettings(log_file=None),
        )
        view = RecordingView()
        stats_lines: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.getMessage().startswith("playback:"):
                    stats_lines.append(record.getMessage())

        logging.getLogger("voicelive.chat").addHandler(Keep())
        logging.getLogger("voicelive.chat").setLevel(logging.INFO)
        chat = asyncio.create_task(run_chat(settings, view=view, stdin_fd=None))
        await view.wait_for("status", "listening", timeout=20)
        first_audio: list[float] = []
        to_silence: list[float] = []
        with bed.record_speaker() as rec:
            loop = asyncio.get_running_loop()
            for n in range(trials):
                rid, iid = f"resp_{n}", f"item_{n}"
                pcm = tone_pcm(2.0)
                server.send(
                    type="response.created",
                    event_id="e",
                    response={"id": rid, "status": "in_progress", "output": []},
                )
                await asyncio.sleep(0.05)  # sleep-ok: benchmark pacing between trials
                mark = rec.index_at(time.monotonic())
                sent_at = time.monotonic()
                for i in range(0, len(pcm), 4800):
                    server.send(
                        type="response.audio.delta",
                        event_id="e",
                        response_id=rid,
                        item_id=iid,
                        output_index=0,
                        content_index=0,
                        delta=base64.b64encode(pcm[i : i + 4800]).decode(),
                    )
                onset = await loop.run_in_executor(None, lambda m=mark: rec.wait_for_sound(m, 5.0))
                if onset is None:
                    print(f"trial {n}: no sound")
                    continue
                first_audio.append((rec.time_at(onset) - sent_at) * 1000)
                await asyncio.sleep(0.3)  # sleep-ok: let the reply play before interrupting
                stop_at = time.monotonic()
                server.send(
                    type="input_audio_buffer.speech_started",
                    event_id="e",
                    audio_start_ms=0,
                    item_id="u",
                )
                await server.wait_for("conversation.item.truncate")
                server.received.clear()
                end = await loop.run_in_executor(
                    None, lambda t=stop_at: rec.wait_for_silence(rec.index_at(t) - 2400, 0.3, 5.0)
                )
                if end is not None:
                    # wait_for_silence is window-aligned; find the sample-accurate end
                    lo = max(0, end - 480)
                    precise = last_sound_end(rec.samples()[lo : end + 480])
                    end = lo + precise if precise is not None else end
                    to_silence.append((rec.time_at(end) - stop_at) * 1000)
                server.send(
                    type="response.done", event_id="e", response={"id": rid, "status": "cancelled"}
                )
            cpu0, wall0 = time.process_time(), time.monotonic()
            await asyncio.sleep(10)  # sleep-ok: measure idle CPU over a fixed window
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100
        os.kill(os.getpid(), 2)
        await chat
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def line(name: str, values: list[float]) -> None:
        if values:
            print(
                f"{name:44s} median {statistics.median(values):6.1f} ms   "
                f"min {min(values):6.1f}   max {max(values):6.1f}   (n={len(values)})"
            )

    print(
        f"voicelive through PortAudio -> ALSA -> PulseAudio, {trials} trials, "
        f"output block {block_ms or 'auto'} ms, output latency {latency_ms or 'low'} ms"
    )
    line("first audio delta sent -> sound on speaker", first_audio)
    line("speech_started sent -> speaker silent", to_silence)
    print(f"{'CPU while listening (mic streaming, idle)':44s} {cpu:6.1f} % of one core")
    print(f"{'peak RSS of the process':44s} {rss_mb:6.1f} MB")
    for stats in stats_lines:
        print(f"client statistics: {stats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--output-latency-ms",
        type=int,
        default=20,
        help="PortAudio output latency (voicelive's default 20); 0 = PortAudio's 'low'",
    )
    parser.add_argument(
        "--load", type=int, default=0, help="run this many busy-loop processes during the trials"
    )
    parser.add_argument(
        "--output-block-ms",
        type=int,
        default=0,
        help="speaker block size; 0 = PortAudio's choice (the default)",
    )
    args = parser.parse_args()
    bed = AudioBed.start()
    os.environ.update(bed.vars)  # before sounddevice is imported: PortAudio enumerates once
    burners = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import time\nend = time.time() + 600\nwhile time.time() < end: pass",
            ]
        )
        for _ in range(args.load)
    ]
    try:
        asyncio.run(run(args.trials, bed, args.output_block_ms, args.output_latency_ms or None))
        print(f"{'busy-loop processes during the run':44s} {args.load}")
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        bed.stop()


if __name__ == "__main__":
    main()
