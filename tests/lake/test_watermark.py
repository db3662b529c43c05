"""The watermark's rules, without a table: what counts as a replay, an overlap, or new."""

from __future__ import annotations

import pytest

from eventlake.lake.watermark import (
    SequenceRange,
    WatermarkOverlapError,
    advanced,
    covered,
    dump,
    merge,
    parse,
)


def test_new_positions_are_not_covered() -> None:
    assert covered({"s0": 10}, {"s0": SequenceRange(11, 20)}) is False
    assert covered({}, {"s0": SequenceRange(0, 0)}) is False


def test_a_replayed_range_is_covered() -> None:
    assert covered({"s0": 20, "s1": 5}, {"s0": SequenceRange(11, 20)}) is True
    assert covered({"s0": 20, "s1": 5}, {"s0": SequenceRange(1, 3), "s1": SequenceRange(4, 5)})


def test_a_range_straddling_the_watermark_is_refused() -> None:
    with pytest.raises(WatermarkOverlapError, match=r"s0: committed up to 15"):
        covered({"s0": 15}, {"s0": SequenceRange(11, 20)})


def test_a_commit_half_replayed_across_shards_is_refused() -> None:
    with pytest.raises(WatermarkOverlapError, match="already committed: s0"):
        covered({"s0": 20}, {"s0": SequenceRange(11, 20), "s1": SequenceRange(1, 2)})


def test_a_commit_must_name_its_positions() -> None:
    with pytest.raises(ValueError, match="which positions"):
        covered({}, {})


def test_empty_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty sequence range"):
        SequenceRange(5, 4)


def test_watermarks_only_move_forward() -> None:
    assert merge({"a": 5, "b": 9}, {"a": 7, "b": 2, "c": 1}) == {"a": 7, "b": 9, "c": 1}
    assert advanced({"a": 5}, {"b": SequenceRange(1, 4)}) == {"a": 5, "b": 4}


def test_round_trip_through_text() -> None:
    watermark = {"events/shard-1": 2**62, "events/shard-0": 0}
    assert parse(dump(watermark)) == watermark
    assert parse(None) == {}
    assert parse("") == {}


@pytest.mark.parametrize(
    "text",
    ["{", "[1, 2]", '{"s": "7"}', '{"s": 1.5}', '{"s": true}', '"x"', '{"s": null}'],
)
def test_a_tampered_watermark_is_an_error_not_a_reset(text: str) -> None:
    # Reading garbage as "nothing committed" would replay everything into the table.
    with pytest.raises(ValueError, match=r"eventlake\.watermark"):
        parse(text)
