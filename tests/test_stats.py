"""The statistics bookkeeping (pure): turn records, latency, percentiles, tokens."""

from __future__ import annotations

from voicelive.stats import ChatStats


def test_latency_runs_from_speech_stopped_to_the_first_sample_heard() -> None:
    stats = ChatStats(started=100.0)
    stats.speech_stopped(101.0)
    stats.audio("a1")
    stats.audio("a1")  # same item: one turn
    assert stats.first_heard("a1", 101.82) == 820
    assert stats.first_heard("a1", 102.5) is None  # only the first sample counts
    stats.finished("a1", received_bytes=9600)  # the core's count of the item's audio
    record = stats.record("a1")
    assert record is not None and (record.received_ms, record.heard_ms) == (200, 200)
    assert not record.interrupted


def test_a_reply_with_no_speech_before_it_has_no_latency() -> None:
    stats = ChatStats(started=0.0)
    stats.speech_stopped(1.0)
    stats.typed()  # the next reply answers typing
    stats.audio("a1")
    assert stats.first_heard("a1", 2.0) is None


def test_a_cut_reply_records_heard_and_total() -> None:
    stats = ChatStats(started=0.0)
    stats.audio("a1")
    stats.finished("a1", received_bytes=48_000, heard_bytes=12_000)  # 1 s received
    record = stats.record("a1")
    assert record is not None
    assert (record.heard_ms, record.received_ms, record.interrupted) == (250, 1000, True)


def test_summary_median_p90_tokens_and_lines() -> None:
    stats = ChatStats(started=0.0)
    for n, latency_ms in enumerate([500, 900, 700, 600, 800, 1000, 650, 750, 850, 3000]):
        stats.speech_stopped(10.0 * n)
        stats.audio(f"a{n}")
        stats.first_heard(f"a{n}", 10.0 * n + latency_ms / 1000)
        stats.usage({"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
    stats.usage(None)
    summary = stats.summary(now=125.0)
    assert summary["turns_count"] == 10
    assert summary["latency_ms_median"] == 775
    assert summary["latency_ms_p90"] == 1000  # nearest rank: the 9th of 10
    assert (summary["input_tokens"], summary["output_tokens"]) == (100, 50)
    assert [t["latency_ms"] for t in summary["turns"]][:2] == [500, 900]
    first, second = stats.lines(now=125.0)
    assert (
        first == "10 replies (0 interrupted) in 2 min 5 s; reply latency median 775 ms, p90 1000 ms"
    )
    assert "tokens 100 in / 50 out" in second
