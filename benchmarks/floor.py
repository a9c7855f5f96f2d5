"""The floors that ``benchmarks/run.py`` measures voicelive against: the least a process can do.

Each runs as its own process, started by run.py with the audio bed's ``PULSE_SERVER``:

- ``input``: a do-nothing 20 ms input stream (PCM16 mono 24 kHz, latency "low"), the cost of
  listening at all. Runs until stdin closes.
- ``duplex``: the same plus a do-nothing output stream at voicelive's speaker settings (block
  size PortAudio's choice, 20 ms latency) rendering silence: what a speaker that always runs
  costs. Runs until stdin closes.
- ``speaker``: voicelive's speaker path without voicelive: an output stream opened, stopped.
  Each stdin line ``play`` switches a 1 kHz tone on and starts the stream; ``stop`` makes the
  next callback silent; ``halt`` stops the stream. Prints ``ready`` when open.
- ``sender URL``: the floor of a noisy room, where every block must go: the least a Python
  client can do while sending every block. Its 20 ms input callback hands each block to the
  event loop (``call_soon_threadsafe``), which sends it to ``URL`` as an
  ``input_audio_buffer.append`` (JSON, base64) over websockets, reads and drops whatever the
  server sends, and does nothing else. Prints ``ready`` once connected and streaming; runs
  until stdin closes.
- ``connect URL``: the least client: connect, wait for ``session.created``, send a
  ``session.update``, wait for ``session.updated``, exit. Imports only asyncio, json and
  websockets.
"""

from __future__ import annotations

import sys


def _idle(streams: list[object]) -> None:
    for stream in streams:
        stream.start()  # type: ignore[attr-defined]
    print("ready", flush=True)
    sys.stdin.read()  # until run.py closes our stdin


def main() -> None:
    mode = sys.argv[1]
    if mode == "connect":
        _connect(sys.argv[2])
        return
    if mode == "sender":
        _sender(sys.argv[2])
        return
    import sounddevice as sd

    def nothing_in(indata: object, frames: int, time: object, status: object) -> None:
        pass

    def silence_out(outdata: memoryview, frames: int, time: object, status: object) -> None:
        outdata[:] = bytes(len(outdata))

    def input_stream() -> object:
        return sd.RawInputStream(
            samplerate=24_000,
            channels=1,
            dtype="int16",
            blocksize=480,
            latency="low",
            callback=nothing_in,
        )

    def output_stream(callback: object) -> object:
        return sd.RawOutputStream(
            samplerate=24_000, channels=1, dtype="int16", blocksize=0, latency=0.02,
            callback=callback,
        )  # fmt: skip

    if mode == "input":
        _idle([input_stream()])
    elif mode == "duplex":
        _idle([input_stream(), output_stream(silence_out)])
    elif mode == "speaker":
        _speaker(output_stream)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


def _speaker(output_stream: object) -> None:
    import numpy as np

    tone = (0.5 * 32767 * np.sin(2 * np.pi * 1000 * np.arange(24_000) / 24_000)).astype("<i2")
    wave = tone.tobytes() * 2
    state = {"on": False, "pos": 0}

    def callback(outdata: memoryview, frames: int, time: object, status: object) -> None:
        n = len(outdata)
        if state["on"]:
            pos = state["pos"] % 48_000
            outdata[:] = wave[pos : pos + n]
            state["pos"] += n
        else:
            outdata[:] = bytes(n)

    stream = output_stream(callback)  # type: ignore[operator]
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "play":
            state["on"] = True
            stream.start()
        elif command == "stop":
            state["on"] = False
        elif command == "halt":
            stream.abort()
    stream.close()


def _sender(url: str) -> None:
    import asyncio
    import base64
    import json
    import threading

    import sounddevice as sd
    from websockets.asyncio.client import connect

    async def run() -> None:
        loop = asyncio.get_running_loop()
        blocks: asyncio.Queue[bytes] = asyncio.Queue()
        closed = loop.create_future()
        # stdin closing ends the run; read on a thread, as the event loop must not block
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(closed.set_result, None)),
            daemon=True,
        ).start()

        def callback(indata: object, frames: int, time: object, status: object) -> None:
            loop.call_soon_threadsafe(blocks.put_nowait, bytes(indata))  # type: ignore[call-overload]

        async with connect(url, additional_headers={"api-key": "floor"}) as ws:
            json.loads(await ws.recv())  # session.created

            async def send() -> None:
                while True:
                    audio = base64.b64encode(await blocks.get()).decode()
                    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))

            async def drop() -> None:
                async for _ in ws:
                    pass

            stream = sd.RawInputStream(
                samplerate=24_000, channels=1, dtype="int16", blocksize=480, latency="low",
                callback=callback,
            )  # fmt: skip
            tasks = [asyncio.ensure_future(send()), asyncio.ensure_future(drop())]
            with stream:
                print("ready", flush=True)
                await asyncio.wait([closed, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()

    asyncio.run(run())


def _connect(url: str) -> None:
    import asyncio
    import json

    from websockets.asyncio.client import connect

    async def run() -> None:
        async with connect(url, additional_headers={"api-key": "floor"}) as ws:
            json.loads(await ws.recv())  # session.created
            await ws.send(json.dumps({"type": "session.update", "session": {}}))
            json.loads(await ws.recv())  # session.updated

    asyncio.run(run())


if __name__ == "__main__":
    main()
