"""The simulator's retained state stays bounded over long sessions.

Counted in retained audio bytes and kept events, not RSS: only the most recent items keep their
PCM, older ones keep text and length; the event logs have a fixed budget.
"""

from __future__ import annotations

import pytest

from tests.simulator_helpers import raw_client, utterance
from voicelive.simulator import Simulator, SimulatorOptions, server
from voicelive.simulator.conversation import KEEP_AUDIO_ITEMS, Conversation, Item, ms_to_bytes
from voicelive.simulator.items import truncate_item, truncate_problem

SECOND = ms_to_bytes(1000)


def _user(n: int, ms: int = 1000) -> Item:
    return Item(
        id=f"item_u{n}",
        type="message",
        role="user",
        wire_content=[{"type": "input_audio", "transcript": f"user turn {n}"}],
        audio=bytearray(ms_to_bytes(ms)),
    )


def _assistant(n: int, ms: int = 1000) -> Item:
    return Item(
        id=f"item_a{n}",
        type="message",
        role="assistant",
        wire_content=[{"type": "audio", "transcript": f"one two three four {n}"}],
        audio=bytearray(ms_to_bytes(ms)),
    )


def test_only_the_most_recent_items_keep_their_audio() -> None:
    conversation = Conversation()
    retained = []
    for n in range(100):
        conversation.append(_user(n))
        conversation.append(_assistant(n))
        retained.append(conversation.retained_audio_bytes())
    assert max(retained) <= KEEP_AUDIO_ITEMS * SECOND
    assert retained[-1] == retained[10]  # flat, not growing with the number of turns
    items = list(conversation)
    assert len(items) == 200  # every item is still there...
    assert items[0].wire_content[0]["transcript"] == "user turn 0"  # ...with its text
    assert all(item.audio_ms == 1000 for item in items)  # ...and its audio length
    assert [bool(item.audio) for item in items[-KEEP_AUDIO_ITEMS:]] == [True] * KEEP_AUDIO_ITEMS
    assert not any(item.audio for item in items[:-KEEP_AUDIO_ITEMS])
    assert "audio" not in items[0].wire(include_audio=True)["content"][0]
    assert "audio" in items[-1].wire(include_audio=True)["content"][0]


def test_last_user_and_last_assistant_items_keep_their_audio() -> None:
    # The parrot repeats the last user item; auto-truncation cuts the last assistant item.
    conversation = Conversation()
    conversation.append(_user(0))
    conversation.append(_assistant(0))
    for n in range(1, 3 * KEEP_AUDIO_ITEMS):
        conversation.append(_user(n))  # many newer user items: the assistant one is older
    last_user = conversation.last_user_item()
    assert last_user is not None and last_user.id == f"item_u{3 * KEEP_AUDIO_ITEMS - 1}"
    assistant = conversation.last_assistant_audio_item()
    assert assistant is not None and len(assistant.audio) == SECOND
    assert conversation.retained_audio_bytes() == (KEEP_AUDIO_ITEMS + 1) * SECOND


def test_an_old_assistant_item_can_still_be_truncated_by_its_length() -> None:
    conversation = Conversation()
    conversation.append(_assistant(0, ms=2000))
    for n in range(1, KEEP_AUDIO_ITEMS + 2):
        conversation.append(_user(n))
        conversation.append(_assistant(n))
    old = conversation.get("item_a0")
    assert old is not None and not old.audio and old.audio_ms == 2000
    too_long = truncate_problem(old, {"content_index": 0, "audio_end_ms": 2001})
    assert too_long is not None and too_long.param == "audio_end_ms"
    assert truncate_problem(old, {"content_index": 0, "audio_end_ms": 1000}) is None
    truncate_item(old, 1000)
    assert old.audio_ms == 1000 and old.truncated
    assert old.wire_content[0]["transcript"] == "one two"  # the heard half of the words


async def test_one_hundred_turns_through_the_simulator_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "MAX_KEPT_EVENTS", 300)
    turn = utterance(speech_s=0.3, lead_s=0.1, tail_s=0.6)
    retained: list[int] = []
    async with Simulator(SimulatorOptions(speedup=1000)) as sim:
        async with raw_client(sim) as client:
            log = sim.connections[0]
            assert log.conversation is not None
            for _ in range(100):
                await client.append(turn, chunk_bytes=4800)  # 100 ms per append
                done = (await client.until("response.done", timeout=20))[-1]
                assert done["response"]["status"] == "completed"
                client.events.clear()
                retained.append(log.conversation.retained_audio_bytes())
                assert len(sim.received_events) <= 300
                assert len(log.received) <= 300
            items = list(log.conversation)
            assert len(items) == 200  # a user and an assistant item per turn, text kept
            assert sum(1 for item in items if item.audio) <= KEEP_AUDIO_ITEMS
            longest = max(item.audio_ms for item in items)
            assert max(retained) <= KEEP_AUDIO_ITEMS * ms_to_bytes(longest)
            assert retained[-1] <= retained[9] + ms_to_bytes(100)  # not growing
            # The parrot still has the last utterance to repeat.
            assert done["response"]["output"][0]["content"][0]["transcript"].startswith(
                "You said something"
            )
        await log.closed.wait()
        assert log.conversation.retained_audio_bytes() == 0  # a closed session keeps no audio
        assert log.dropped_events > 0
