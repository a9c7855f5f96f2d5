"""One simulated response: what to say (:func:`plan_reply`) and streaming it (:class:`ResponseRun`).

The reply is a parrot: the user's last utterance is spoken back with an honest transcript
("You said something 1.4 seconds long."); the simulator does no speech recognition. When there
is no user audio to repeat (text input, instructions, a greeting, a pre-generated message) the
"voice" is a synthetic chirp (:func:`audio.chirp`) with a fixed, descriptive transcript.

Runs in the connection's event loop. :meth:`ResponseRun.run` is meant to be a task; it ends
early (still sending every ``.done`` event, as the service does) when :meth:`cancel` is called,
and returns quietly if the connection closes under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from websockets.exceptions import ConnectionClosed

from . import audio
from .animation import WordTiming, viseme_track, word_timings
from .audio import Pcm
from .constants import SAMPLE_RATE
from .conversation import Conversation, Item, bytes_to_ms, ms_to_bytes
from .tools import output_reply
from .wire import IdFactory, JsonDict, encode_b64

CHUNK_MS = 100
"""Audio per ``response.audio.delta`` (the service sends chunks of roughly this size)."""
WORD_MS = 250
"""Pacing of text-only replies: one word per this much (real-time) ms, divided by speedup."""


class DeltaJitter:
    """Random extra delay before each reply delta (network jitter), reproducible with a seed.

    One per simulator, shared by its connections, so a seeded run repeats the same delays in
    the same order. Loop-confined.
    """

    def __init__(self, jitter_ms: float, seed: int | None = None) -> None:
        self.jitter_s = jitter_ms / 1000
        self._rng = random.Random(seed)

    def __bool__(self) -> bool:
        return self.jitter_s > 0

    def next_delay_s(self) -> float:
        """The next delta's extra delay, 0..``jitter_ms`` ms, in seconds."""
        return self._rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0


class Outbox(Protocol):
    ids: IdFactory

    async def send(self, event: JsonDict) -> None:
        """Send a server event (``event_id`` added). Raises ``ConnectionClosed``."""


@dataclass(frozen=True)
class ReplyPlan:
    transcript: str
    audio: Pcm | None  # 24 kHz PCM16; None for a text-only reply
    output_audio_format: str
    response_fields: JsonDict  # modalities, voice, temperature… echoed in the response object
    input_tokens: int
    word_timestamps: bool = False
    """The session asked for ``output_audio_timestamp_types: ["word"]``."""
    visemes: bool = False
    """The session asked for ``animation.outputs: ["viseme_id"]``."""


def _chirp_for(text: str) -> Pcm:
    return audio.chirp(min(4.0, 0.3 + 0.25 * len(text.split())))


def _item_text(item: Item) -> str:
    texts = [
        str(p.get("text", "")) for p in item.wire_content if p.get("type") in ("input_text", "text")
    ]
    return " ".join(t for t in texts if t)


def _input_tokens(conversation: Conversation, instructions: str) -> int:
    # Fake but monotonic token accounting: 1 token per word, 10 tokens per second of audio.
    user = conversation.last_user_item()
    audio_tokens = (user.audio_ms // 100) if user is not None else 0
    return len(instructions.split()) + audio_tokens + 10


def plan_reply(conversation: Conversation, session: JsonDict, overrides: JsonDict) -> ReplyPlan:
    """Decide the reply from the conversation, the session and ``response.create`` overrides."""
    modalities = overrides.get("modalities") or session.get("modalities") or ["text", "audio"]
    speak = "audio" in modalities
    fields: JsonDict = {
        "modalities": list(modalities),
        "voice": overrides.get("voice", session.get("voice")),
        "output_audio_format": overrides.get(
            "output_audio_format", session.get("output_audio_format", "pcm16")
        ),
        "temperature": overrides.get("temperature", session.get("temperature", 0.8)),
        "max_output_tokens": overrides.get(
            "max_response_output_tokens", session.get("max_response_output_tokens", "inf")
        ),
    }
    pcm: Pcm | None
    pregenerated = overrides.get("pre_generated_assistant_message")
    user = conversation.last_user_item()
    tool_answer = output_reply(conversation)
    if tool_answer is not None:
        transcript, pcm = tool_answer, _chirp_for(tool_answer)
    elif isinstance(pregenerated, dict):
        parts = pregenerated.get("content") or []
        text = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict)).strip()
        transcript, pcm = text, _chirp_for(text)
    elif overrides.get("instructions"):
        transcript = (
            f'(Simulated reply to the instructions "{str(overrides["instructions"])[:80]}")'
        )
        pcm = _chirp_for(transcript)
    elif user is not None and user.audio:
        speech = bytes(user.audio)
        if user.speech_ms is not None:
            speech = speech[: ms_to_bytes(user.speech_ms)]
        pcm = audio.pcm_from_bytes(speech)
        transcript = f"You said something {pcm.size / SAMPLE_RATE:.1f} seconds long."
    elif user is not None and _item_text(user):
        transcript = f'You wrote: "{_item_text(user)}"'
        pcm = _chirp_for(transcript)
    else:
        transcript = "Hello! This is the Voice Live simulator."
        pcm = _chirp_for(transcript)
    instructions = str(overrides.get("instructions") or session.get("instructions") or "")
    animation = session.get("animation")
    outputs = animation.get("outputs") if isinstance(animation, dict) else None
    return ReplyPlan(
        transcript=transcript,
        audio=pcm if speak else None,
        output_audio_format=str(fields["output_audio_format"]),
        response_fields=fields,
        input_tokens=_input_tokens(conversation, instructions),
        word_timestamps="word" in (session.get("output_audio_timestamp_types") or []),
        visemes=isinstance(outputs, list) and "viseme_id" in outputs,
    )


DeltaHook = Callable[[int], Awaitable[None]]


class ResponseRun:
    """Streams one response. Owned by the connection handler; one active at a time."""

    CreatedHook = Callable[[], Awaitable[None]]
    """Called right after ``response.created`` is sent (e.g. a late input transcript)."""

    def __init__(
        self,
        outbox: Outbox,
        conversation: Conversation,
        plan: ReplyPlan,
        speedup: float,
        on_delta: DeltaHook | None = None,
        jitter: DeltaJitter | None = None,
        on_created: CreatedHook | None = None,
    ) -> None:
        self._out = outbox
        self._on_created = on_created
        self._jitter = jitter if jitter else None
        self._lag_s = 0.0  # jitter accumulated so far in this response
        self._conversation = conversation
        self._plan = plan
        self._speedup = speedup
        self._on_delta = on_delta
        self.response_id = outbox.ids.new("resp")
        self.item = Item(
            id=outbox.ids.new("item"), type="message", role="assistant", status="in_progress"
        )
        self._cancelled = asyncio.Event()
        self.cancel_reason: str | None = None
        self._deltas = 0

    def cancel(self, reason: str) -> None:
        """Ask the stream to stop at the next chunk boundary (idempotent; first reason wins)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._cancelled.set()

    async def run(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # connection gone: nobody left to tell
            await self._stream()

    def _response(self, status: str, output: list[JsonDict], usage: JsonDict | None) -> JsonDict:
        details: JsonDict | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": self.cancel_reason}
        return {
            "id": self.response_id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": output,
            "usage": usage,
            "conversation_id": "conv_default",
            **self._plan.response_fields,
        }

    def _ids(self) -> JsonDict:
        return {
            "response_id": self.response_id,
            "item_id": self.item.id,
            "output_index": 0,
            "content_index": 0,
        }

    async def _open_item(self) -> None:
        """The response starts and its one output item is added to the conversation."""
        send = self._out.send
        await send(
            {"type": "response.created", "response": self._response("in_progress", [], None)}
        )
        if self._on_created is not None:
            await self._on_created()  # e.g. a transcript that comes after the reply started
        previous = self._conversation.append(self.item)
        added = {"response_id": self.response_id, "output_index": 0, "item": self.item.wire()}
        await send({"type": "response.output_item.added", **added})
        await send(
            {
                "type": "conversation.item.created",
                "previous_item_id": previous,
                "item": self.item.wire(),
            }
        )

    async def _close_item(self, said: str) -> None:
        """The item is done (completed, or incomplete when cancelled), then the response,
        with the usage of ``said``."""
        status = "completed" if self.cancel_reason is None else "cancelled"
        self.item.status = "completed" if status == "completed" else "incomplete"
        done_item = self.item.wire()
        await self._out.send(
            {
                "type": "response.output_item.done",
                "response_id": self.response_id,
                "output_index": 0,
                "item": done_item,
            }
        )
        await self._out.send(
            {
                "type": "response.done",
                "response": self._response(status, [done_item], self._usage(said)),
            }
        )

    async def _stream(self) -> None:
        send = self._out.send
        await self._open_item()
        spoken = self._plan.audio is not None
        key = "transcript" if spoken else "text"
        part: JsonDict = {"type": "audio" if spoken else "text", key: ""}
        await send({"type": "response.content_part.added", **self._ids(), "part": dict(part)})
        text = await (self._stream_audio() if spoken else self._stream_text())
        part[key] = text
        if spoken:
            # The service closes the timestamp and viseme streams before the audio's.
            if self._plan.word_timestamps:
                await send({"type": "response.audio_timestamp.done", **self._ids()})
            if self._plan.visemes:
                await send({"type": "response.animation_viseme.done", **self._ids()})
            await send({"type": "response.audio.done", **self._ids()})
            await send(
                {"type": "response.audio_transcript.done", **self._ids(), "transcript": text}
            )
        else:
            await send({"type": "response.text.done", **self._ids(), "text": text})
        await send({"type": "response.content_part.done", **self._ids(), "part": dict(part)})
        self.item.wire_content = [part]
        await self._close_item(text)

    def _usage(self, text: str) -> JsonDict:
        text_tokens = len(text.split())
        audio_tokens = bytes_to_ms(len(self.item.audio)) // 50
        inp = self._plan.input_tokens
        return {
            "total_tokens": inp + text_tokens + audio_tokens,
            "input_tokens": inp,
            "output_tokens": text_tokens + audio_tokens,
            "input_token_details": {
                "cached_tokens": 0,
                "text_tokens": inp,
                "audio_tokens": 0,
                "image_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens},
        }

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    async def _pause_until(self, deadline: float) -> None:
        """Wait for the pacing deadline, waking early on cancel."""
        delay = deadline - asyncio.get_running_loop().time()
        if delay <= 0 or self._cancelled.is_set():
            return
        try:
            async with asyncio.timeout(delay):
                await self._cancelled.wait()
        except TimeoutError:
            pass

    async def _jitter_wait(self, nominal: float) -> None:
        """Hold the next delta back by its jitter, on top of all the earlier ones."""
        if self._jitter is not None:
            self._lag_s += self._jitter.next_delay_s()
            await self._pause_until(nominal + self._lag_s)

    async def _delta_sent(self) -> None:
        self._deltas += 1
        if self._on_delta is not None:
            await self._on_delta(self._deltas)

    async def _stream_audio(self) -> str:
        assert self._plan.audio is not None
        pcm = self._plan.audio
        step = 24 * CHUNK_MS
        n_chunks = max(1, math.ceil(pcm.size / step))
        words = self._plan.transcript.split(" ")
        audio_ms = pcm.size * 1000 // SAMPLE_RATE
        timings = (
            word_timings(self._plan.transcript, audio_ms) if self._plan.word_timestamps else []
        )
        visemes = viseme_track(self._plan.transcript, audio_ms) if self._plan.visemes else []
        loop = asyncio.get_running_loop()
        sent_words = 0
        t0 = loop.time()
        step_s = CHUNK_MS / 1000 / self._speedup
        for index in range(n_chunks):
            await self._jitter_wait(t0 + index * step_s)
            if self._cancelled.is_set():
                break
            # Transcript runs slightly ahead of the audio, as the service's does.
            while sent_words < len(words) and sent_words * n_chunks // len(words) <= index:
                delta = words[sent_words] if sent_words == 0 else " " + words[sent_words]
                sent_words += 1
                await self._out.send(
                    {"type": "response.audio_transcript.delta", **self._ids(), "delta": delta}
                )
            chunk = np.ascontiguousarray(pcm[index * step : (index + 1) * step])
            await self._send_marks(
                timings, visemes, (index + 1) * CHUNK_MS, last=index == n_chunks - 1
            )
            if self.item.first_delta_at is None:
                self.item.first_delta_at = loop.time()
            self.item.audio += chunk.astype("<i2").tobytes()
            wire = audio.encode_output(chunk, self._plan.output_audio_format)
            await self._out.send(
                {"type": "response.audio.delta", **self._ids(), "delta": encode_b64(wire)}
            )
            await self._delta_sent()
            await self._pause_until(t0 + (index + 1) * step_s + self._lag_s)
        return " ".join(words[:sent_words])

    async def _send_marks(
        self, timings: list[WordTiming], visemes: list[tuple[int, int]], until_ms: int, last: bool
    ) -> None:
        """Send (and pop) the word timestamps and visemes that start before ``until_ms`` of the
        reply audio (all that are left with ``last``), ahead of the audio they describe."""
        while timings and (last or timings[0].audio_offset_ms < until_ms):
            word = timings.pop(0)
            await self._out.send(
                {
                    "type": "response.audio_timestamp.delta",
                    **self._ids(),
                    "audio_offset_ms": word.audio_offset_ms,
                    "audio_duration_ms": word.audio_duration_ms,
                    "text": word.text,
                    "timestamp_type": "word",
                }
            )
        while visemes and (last or visemes[0][0] < until_ms):
            offset, viseme = visemes.pop(0)
            await self._out.send(
                {
                    "type": "response.animation_viseme.delta",
                    **self._ids(),
                    "audio_offset_ms": offset,
                    "viseme_id": viseme,
                }
            )

    async def _stream_text(self) -> str:
        words = self._plan.transcript.split(" ")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        sent = 0
        step_s = WORD_MS / 1000 / self._speedup
        for index, word in enumerate(words):
            await self._jitter_wait(t0 + index * step_s)
            if self._cancelled.is_set():
                break
            delta = word if index == 0 else " " + word
            await self._out.send({"type": "response.text.delta", **self._ids(), "delta": delta})
            sent += 1
            await self._delta_sent()
            await self._pause_until(t0 + (index + 1) * step_s + self._lag_s)
        return " ".join(words[:sent])


def elapsed_ms(item: Item, now: float) -> int:
    """Real-time playback position of an assistant item, assuming playback from its first delta."""
    if item.first_delta_at is None:
        return 0
    return max(0, int((now - item.first_delta_at) * 1000))
