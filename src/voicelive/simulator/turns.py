"""Input audio, turn detection and response control for one simulated session.

:class:`TurnController` owns the input buffer, the energy VAD, the active response and the
barge-in rules (protocol notes §6): a ``speech_started`` while a response is active cancels it
(``turn_detected``) when ``interrupt_response`` is on, and with ``auto_truncate`` the last
assistant item is cut where real-time playback from its first delta would be. Methods run in
the connection's task; the response streams in its own task, awaited whenever it is cancelled
so its ``.done`` events always precede what follows.
"""

from __future__ import annotations

import asyncio

from . import audio
from .callrun import CallRun
from .context import Context
from .conversation import InputBuffer, Item
from .echo import EchoCanceller, split_stereo
from .items import lookup_item, truncate_item, truncate_problem
from .mcp import mcp_servers
from .mcprun import McpCallRun
from .pacing import InputPacer
from .responder import ResponseRun, elapsed_ms, plan_reply
from .schema import SessionError, check_response_params
from .session import client_echo_reference, vad_settings
from .tools import plan_call
from .transcription import transcription_events
from .vad import EnergyVad, SpeechStarted, SpeechStopped, VadConfig
from .wire import JsonDict, decode_b64

MIN_COMMIT_MS = 100


class TurnController:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.buffer = InputBuffer()
        self._vad: EnergyVad | None = None
        self._turn_item_id: str | None = None
        self._turn_start_ms = 0
        self._run: ResponseRun | None = None
        self._task: asyncio.Task[None] | None = None
        self._queued = False  # a VAD turn ended while a response was still running
        self._closed = False
        self._echo: EchoCanceller | None = None  # with a client echo reference (stereo input)
        self._late_transcripts: list[JsonDict] = []
        self._pacer = InputPacer(ctx.speedup, self._hear)
        self.audio_started = False
        """Input audio was appended: the input channel count is fixed from now on."""
        self.configure()

    # --- configuration ----------------------------------------------------------------------

    @property
    def _td(self) -> JsonDict | None:
        td = self._ctx.session.get("turn_detection")
        return td if isinstance(td, dict) else None

    def configure(self) -> None:
        """(Re)build the detector from the session; call after every effective session change."""
        # The canceller keeps what it learnt of the echo path across session updates.
        echo = client_echo_reference(self._ctx.session)
        self._echo = (self._echo or EchoCanceller()) if echo else None
        td = self._td
        if td is None:
            self._vad = None
            return
        threshold, padding, silence, speech = vad_settings(td)
        cfg = VadConfig(threshold, padding, silence, speech)
        if self._vad is not None and self._vad.config == cfg:
            return
        self._vad = EnergyVad(cfg, position_samples=self.buffer.end_samples)
        self._turn_item_id = None

    @property
    def active(self) -> ResponseRun | None:
        """The response still streaming, if any (its task has not finished)."""
        if self._run is None or self._task is None or self._task.done():
            return None
        return self._run

    async def close(self) -> None:
        """Stop any running response without sending more events (connection is going)."""
        self._closed = True
        await self._pacer.close()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})

    # --- input audio ------------------------------------------------------------------------

    async def append(self, event: JsonDict) -> None:
        ctx = self._ctx
        data = decode_b64(event.get("audio"))
        if data is None:
            await ctx.send_error(
                "'audio' must be a base64 string.",
                code="invalid_value",
                param="audio",
                client_event=event,
            )
            return
        fmt = str(ctx.session.get("input_audio_format", "pcm16"))
        channels = 1 if self._echo is None else 2
        if len(data) % (audio.input_frame_bytes(fmt) * channels):
            await ctx.send_error(
                "'audio' must contain whole samples."
                if channels == 1
                else "'audio' must contain whole stereo frames (4 bytes each).",
                code="invalid_value",
                param="audio",
                client_event=event,
            )
            return
        rate = int(ctx.session.get("input_audio_sampling_rate", 24000))
        if self._echo is None:
            pcm = audio.decode_input(data, fmt, rate)
        else:  # microphone on channel 0, the client's reference on 1: cancel before the VAD
            mic, reference = split_stereo(data)
            pcm = self._echo.process(
                audio.decode_input(mic, fmt, rate), audio.decode_input(reference, fmt, rate)
            )
        self.audio_started = True
        self._pacer.push(pcm)

    async def flush_input(self) -> None:
        """Let the detector hear all audio appended so far (before a session change)."""
        await self._pacer.flush()

    async def _hear(self, pcm: audio.Pcm) -> None:
        """Paced input (see :mod:`.pacing`): into the buffer and through the detector."""
        self.buffer.append(pcm.astype("<i2").tobytes())
        if self._vad is None:
            return
        for decision in self._vad.feed(pcm, floor_ms=self.buffer.start_ms):
            if isinstance(decision, SpeechStarted):
                await self._speech_started(decision)
            else:
                await self._speech_stopped(decision)
        if not self._vad.in_speech:
            # Keep only what a future speech_started could reach back to (prefix padding).
            self.buffer.drop_before(self._vad.earliest_needed_ms())

    async def _speech_started(self, decision: SpeechStarted) -> None:
        ctx = self._ctx
        self._turn_item_id = ctx.ids.new("item")
        self._turn_start_ms = decision.audio_start_ms
        await ctx.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": decision.audio_start_ms,
                "item_id": self._turn_item_id,
            }
        )
        td = self._td or {}
        if not td.get("interrupt_response", True):
            return
        if self.active is not None:
            await self.cancel_active("turn_detected")
        if td.get("auto_truncate", False):
            await self._auto_truncate()

    async def _auto_truncate(self) -> None:
        item = self._ctx.conversation.last_assistant_audio_item()
        if item is None or item.truncated:
            return
        played = min(item.audio_ms, elapsed_ms(item, asyncio.get_running_loop().time()))
        if played >= item.audio_ms:
            return  # fully heard: nothing to cut
        truncate_item(item, played)
        await self._ctx.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": 0,
                "audio_end_ms": played,
            }
        )

    async def _speech_stopped(self, decision: SpeechStopped) -> None:
        ctx = self._ctx
        item_id = self._turn_item_id or ctx.ids.new("item")
        self._turn_item_id = None
        await ctx.send(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": decision.audio_end_ms,
                "item_id": item_id,
            }
        )
        pcm = self.buffer.slice(self._turn_start_ms, decision.audio_end_ms)
        self.buffer.drop_before(decision.audio_end_ms)
        reply = bool((self._td or {}).get("create_response", True))
        speech_ms = decision.last_voiced_ms - self._turn_start_ms
        await self._commit(item_id, pcm, speech_ms, reply_follows=reply and self.active is None)
        if reply:
            if self.active is None:
                self.start_response({})
            else:
                self._queued = True

    async def commit(self, event: JsonDict) -> None:
        """Client ``input_audio_buffer.commit``: commit everything held (no response)."""
        await self._pacer.flush()  # everything appended before the commit is in it
        if self.buffer.duration_ms < MIN_COMMIT_MS:
            await self._ctx.send_error(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{self.buffer.duration_ms}ms of audio.",
                code="input_audio_buffer_commit_empty",
                client_event=event,
            )
            return
        item_id = self._turn_item_id or self._ctx.ids.new("item")
        pcm = self.buffer.take_all()
        self._turn_item_id = None
        self._vad = None
        self.configure()  # restart detection after the committed audio
        await self._commit(item_id, pcm, None)

    async def clear(self) -> None:
        await self._pacer.drop()
        self.buffer.clear()
        self._vad = None
        self.configure()
        await self._ctx.send({"type": "input_audio_buffer.cleared"})

    async def _commit(
        self, item_id: str, pcm: bytes, speech_ms: int | None, reply_follows: bool = False
    ) -> None:
        """Commit ``pcm`` as a user item; ``reply_follows``: a response starts right after it,
        so the transcript may come on either side of its ``response.created``."""
        ctx = self._ctx
        item = Item(
            id=item_id,
            type="message",
            role="user",
            wire_content=[{"type": "input_audio", "transcript": None}],
            audio=bytearray(pcm),
            speech_ms=speech_ms,
        )
        previous = ctx.conversation.append(item)
        await ctx.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        await ctx.send(
            {"type": "conversation.item.created", "previous_item_id": previous, "item": item.wire()}
        )
        if not ctx.session.get("input_audio_transcription"):
            return
        events = transcription_events(item, speech_ms)
        if reply_follows and ctx.transcript_order.after_response_created():
            self._late_transcripts.extend(events)  # sent right after the reply's response.created
            return
        for transcript_event in events:
            await ctx.send(transcript_event)

    async def _send_late_transcripts(self) -> None:
        """After a ``response.created``: the transcripts held back for it, in order."""
        while self._late_transcripts:
            await self._ctx.send(self._late_transcripts.pop(0))

    # --- responses --------------------------------------------------------------------------

    def start_response(self, overrides: JsonDict) -> None:
        ctx = self._ctx
        plan = plan_reply(ctx.conversation, ctx.session, overrides)
        servers = mcp_servers(ctx.session, ctx.api_version)
        call = plan_call(ctx.conversation, ctx.session, overrides, servers)
        hooks = (ctx.on_delta, ctx.jitter, self._send_late_transcripts)
        run: ResponseRun
        if call is None:
            run = ResponseRun(ctx, ctx.conversation, plan, ctx.speedup, *hooks)
        elif call.server is None:
            run = CallRun(ctx, ctx.conversation, plan, call, ctx.speedup, *hooks)
        else:
            run = McpCallRun(ctx, ctx.conversation, plan, call, ctx.speedup, *hooks)
        self._run = run
        self._task = asyncio.get_running_loop().create_task(
            run.run(), name=f"simulator {run.response_id}"
        )
        self._task.add_done_callback(lambda _task: self._finished(run))

    def _finished(self, run: ResponseRun) -> None:
        if self._run is run:
            self._run = None
            self._task = None
        if self._queued and self._run is None and run.cancel_reason is None and not self._closed:
            self._queued = False
            self.start_response({})

    async def create_response(self, event: JsonDict) -> None:
        try:
            overrides = check_response_params(event.get("response"))
        except SessionError as exc:
            await self._ctx.send_error(
                exc.message, code=exc.code, param=exc.param, client_event=event
            )
            return
        active = self.active
        if active is not None:
            await self._ctx.send_error(
                "Conversation already has an active response in progress: "
                f"{active.response_id}. Wait until the response is finished before "
                "creating a new one.",
                code="conversation_already_has_active_response",
                client_event=event,
            )
            return
        self.start_response(overrides)

    async def cancel_active(self, reason: str) -> None:
        """Cancel the running response and wait until its ``response.done`` has been sent."""
        run, task = self.active, self._task
        if run is None or task is None:
            return
        self._queued = False
        run.cancel(reason)
        await asyncio.wait({task})  # not `await task`: our own cancellation must not kill it

    async def cancel(self, event: JsonDict) -> None:
        wanted = event.get("response_id")
        active = self.active
        if active is None or (wanted is not None and wanted != active.response_id):
            await self._ctx.send_error(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
                client_event=event,
            )
            return
        await self.cancel_active("client_cancelled")

    async def truncate(self, event: JsonDict) -> None:
        ctx = self._ctx
        item = await lookup_item(ctx, event)
        if item is None:
            return
        active = self.active
        if active is not None and active.item is item:
            await self.cancel_active("client_cancelled")  # the unheard rest must not be generated
        problem = truncate_problem(item, event)
        if problem is not None:
            await ctx.send_error(
                problem.message, code=problem.code, param=problem.param, client_event=event
            )
            return
        end = int(event["audio_end_ms"])
        truncate_item(item, end)
        await ctx.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": 0,
                "audio_end_ms": end,
            }
        )
