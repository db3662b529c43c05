"""The event stream: sessions of valid events, exact duplicates, and records broken on purpose,
generated in blocks (each with its own random stream) in one process or several."""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import multiprocessing
import random
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, NamedTuple

from eventlake.sample_data.draws import (
    _BLOCK,
    _CART_TYPES,
    _CLIENT_CUM,
    _CLIENTS,
    _DAY,
    _DEVICE_CUM,
    _DEVICES,
    _EPOCH,
    _HOUR,
    _HOUR_CUM,
    _LATE_SHARE,
    _LOGIN_METHODS,
    _OFFSETS,
    _PAGE_CUM,
    _PAGES,
    _QUANTITIES,
    _QUANTITY_CUM,
    _QUERIES,
    _RECENT,
    _REFERRER_CUM,
    _REFERRERS,
    _SECOND,
    _SESSION_EVENTS,
    _SESSION_US,
    _SLICES_PER_DAY,
    _TYPE_CUM,
    _TYPE_NAMES,
    _UUID_CLEAR,
    _UUID_SET,
    _below,
    _epoch_us,
    _geometric_cum,
    _pick,
    _shuffled,
    _streams,
    _uuid4,
    _zipf_cum,
)
from eventlake.sample_data.entities import generate_products, generate_users
from eventlake.sample_data.model import INVALID_VARIANTS, GeneratedRecord, SampleConfig


def generate_events(config: SampleConfig) -> Iterator[GeneratedRecord]:
    """The event stream: exactly ``config.events`` records, lazily.

    Valid events follow the events contract. Time runs through the window with a daily rhythm
    (3 % of events arrive up to an hour late). Events come in sessions (about 8 events, ~10
    minutes) of one user, drawn with a long-tailed popularity; the session's first event carries
    the device and the referrer, a cart makes removals and purchases refer to products added
    before, a logout ends the session. Each session's client writes timestamps one way: ISO
    ``...Z`` with microseconds (85 % of sessions), ISO local time with the user's UTC offset
    (10 %) or epoch milliseconds (5 %); mobile-app and epoch clients leave out null fields.

    Duplicates repeat one of the last 1,024 valid lines verbatim; invalid records cycle through
    :data:`INVALID_VARIANTS`. The stream is made of blocks of 32,768 records, each with its own
    random stream (derived from the seed) and its own sessions: that lets
    :func:`write_sample` generate blocks in parallel with the same result.
    """
    for lines, special in _event_chunks(config):
        if not special:
            for line in lines:
                yield _new_record(GeneratedRecord, (line, "valid", None, None, None))
            continue
        for index, line in enumerate(lines):
            record = special.get(index)
            if record is None:
                record = _new_record(GeneratedRecord, (line, "valid", None, None, None))
            yield record


@functools.cache
def _clock() -> list[str]:
    """``"HH:MM:SS."`` for every second of a day."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)]


_new_record = tuple.__new__  # GeneratedRecord without the keyword-handling __new__ (hot path)


def _window_table(config: SampleConfig) -> tuple[list[int], list[int]]:
    """The inverse of the traffic curve over the whole window: slice ``k`` of
    ``days * _SLICES_PER_DAY`` equal shares of all traffic starts at ``starts[k]`` (µs since
    the epoch) and lasts ``widths[k]`` µs. A final zero-width slice guards the end."""
    day_starts = []
    for k in range(_SLICES_PER_DAY):
        share = k / _SLICES_PER_DAY
        hour = bisect.bisect(_HOUR_CUM, share)
        low = _HOUR_CUM[hour - 1] if hour else 0.0
        day_starts.append(int((hour + (share - low) / (_HOUR_CUM[hour] - low)) * _HOUR))
    day_widths = [b - a for a, b in zip(day_starts, [*day_starts[1:], _DAY], strict=True)]
    start_us = _epoch_us(config.start)
    starts = [start_us + day * _DAY + offset for day in range(config.days) for offset in day_starts]
    widths = day_widths * config.days
    starts.append(start_us + config.days * _DAY - 1)
    widths.append(0)
    return starts, widths


class _Setup(NamedTuple):
    """What every block of the event stream shares: drawn once from the "events" stream."""

    total: int
    block_size: int
    block_seed: int
    user_ids: list[str]
    user_order: list[int]
    user_cum: list[float]
    product_ids: list[str]
    product_cents: list[int]
    product_categories: list[str]
    product_order: list[int]
    product_cum: list[float]
    offset_us: list[int]
    offset_text: list[str]
    devices: list[str]
    slots: int
    start_us: int
    slice_starts: list[int]
    slice_widths: list[int]
    slice_scale: float
    duplicate_count: int
    invalid_count: int


def _setup(config: SampleConfig, block_size: int = _BLOCK) -> _Setup:
    rng = _streams(config.seed)["events"]
    users = generate_users(config)
    products = generate_products(config)
    offsets = [_pick(rng, _OFFSETS) for _ in users]
    total = config.events
    # Sessions: `slots` run at once; each event continues one of them, or starts a new one
    # where the last has ended. The number of slots makes a session last ~10 minutes.
    per_session_us = _SESSION_EVENTS * config.days * _DAY / max(1, total)
    slice_starts, slice_widths = _window_table(config)
    return _Setup(
        total=total,
        block_size=block_size,
        block_seed=rng.getrandbits(64),
        user_ids=[user["user_id"] for user in users],
        # popularity: a shuffled rank per user/product, weights 1/(rank + offset)
        user_order=_shuffled(rng, len(users)),
        user_cum=_zipf_cum(len(users), 8.0),
        product_ids=[product["product_id"] for product in products],
        product_cents=[round(product["price"] * 100) for product in products],
        product_categories=[product["category"] for product in products],
        product_order=_shuffled(rng, len(products)),
        product_cum=_zipf_cum(len(products), 4.0),
        offset_us=[minutes * 60 * _SECOND for minutes in offsets],
        offset_text=[
            f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in offsets
        ],
        devices=[_DEVICES[bisect.bisect(_DEVICE_CUM, rng.random())] for _ in users],
        slots=max(1, min(4096, round(_SESSION_US / per_session_us))),
        start_us=_epoch_us(config.start),
        slice_starts=slice_starts,
        slice_widths=slice_widths,
        slice_scale=(len(slice_starts) - 1) / max(1, total),
        duplicate_count=config.duplicate_count,
        invalid_count=config.invalid_count,
    )


def _share(count: int, total: int, start: int, stop: int) -> int:
    """How many of ``count`` records spread over ``total`` fall in ``[start, stop)``."""
    return round(count * stop / total) - round(count * start / total)


def _generate_block(setup: _Setup, block: int) -> _Chunk:
    """Block ``block`` of the stream (``block_size`` records): its lines, and its duplicate and
    invalid records by index. Each block has its own random stream, sessions, carts and
    duplicate window, so blocks can be generated in any order, in any process.

    The lines are built with f-strings: every string in them comes from a fixed ASCII
    vocabulary, so no JSON escaping is needed, and this is several times faster than dicts
    through ``json.dumps``. The loop is one function, for speed.
    """
    (
        total, block_size, block_seed, user_ids, user_order, user_cum, product_ids, product_cents,
        product_categories, product_order, product_cum, offset_us, offset_text, devices, slots,
        start_us, slice_starts, slice_widths, slice_scale, duplicate_count, invalid_count,
    ) = setup  # fmt: skip
    rng = random.Random(block_seed + block)  # noqa: S311 — seeded sample data, reproducible by design
    random_ = rng.random
    getrandbits = rng.getrandbits
    find = bisect.bisect
    n_queries = len(_QUERIES)
    n_methods = len(_LOGIN_METHODS)
    client_styles = [style for _, style, _ in _CLIENTS]
    client_nulls = [nulls for _, _, nulls in _CLIENTS]
    # events after the first of a session: geometric with mean _SESSION_EVENTS - 1
    session_cum = _geometric_cum((_SESSION_EVENTS - 1) / _SESSION_EVENTS)
    slot_user = [0] * slots
    slot_left = [0] * slots
    slot_session = [""] * slots
    slot_style = ["z"] * slots
    slot_nulls = [True] * slots
    slot_cart: list[list[tuple[int, int]]] = [[] for _ in range(slots)]
    clock = _clock()
    dates: dict[int, str] = {}

    first = block * block_size
    stop = min(total, first + block_size)
    invalid_left = _share(invalid_count, total, first, stop)
    duplicate_left = _share(duplicate_count, total, first, stop)
    invalid_number = round(invalid_count * first / total)  # variants cycle over the stream
    recent = [""] * _RECENT  # the last valid lines, a ring
    mask = _RECENT - 1
    filled = 0
    lines: list[str] = []
    append = lines.append
    special: dict[int, GeneratedRecord] = {}
    for position in range(first, stop):
        # selection sampling: exactly the block's share of invalid and duplicate records
        pick = random_() * (stop - position)
        broken = False
        if pick < invalid_left + duplicate_left:
            if pick < invalid_left:
                invalid_left -= 1
                broken = True  # a fresh event, broken below
            elif filled:  # (the block's first record cannot repeat anything)
                duplicate_left -= 1
                line = recent[int(random_() * min(filled, _RECENT))]
                special[len(lines)] = _new_record(
                    GeneratedRecord, (line, "duplicate", None, None, None)
                )
                append(line)
                continue

        # when: progress through the window, shaped by the daily curve
        jitter = random_()
        share = (position + jitter) * slice_scale
        index = int(share)
        us = slice_starts[index] + int((share - index) * slice_widths[index])
        if jitter < _LATE_SHARE:  # an offline client, sending up to an hour late
            lag = int(random_() * _HOUR)
            if us - lag >= start_us:
                us -= lag

        # who: continue a running session, or start one
        slot = int(random_() * slots)
        if slot_left[slot] > 0:
            slot_left[slot] -= 1
            user = slot_user[slot]
            event_type = _TYPE_NAMES[find(_TYPE_CUM, random_())]
            context = ""
        else:
            user = slot_user[slot] = user_order[find(user_cum, random_())]
            slot_left[slot] = find(session_cum, random_())
            slot_session[slot] = f"{getrandbits(40):010x}"
            client = find(_CLIENT_CUM, random_())
            slot_style[slot] = client_styles[client]
            slot_nulls[slot] = client_nulls[client]
            slot_cart[slot] = []
            device = devices[user] if random_() < 0.85 else _DEVICES[find(_DEVICE_CUM, random_())]
            referrer = _REFERRERS[find(_REFERRER_CUM, random_())]
            context = (
                f',"device":"{device}"'
                if referrer == "direct"
                else f',"device":"{device}","referrer":"{referrer}"'
            )
            event_type = "page_view" if random_() < 0.8 else _TYPE_NAMES[find(_TYPE_CUM, random_())]

        # what
        product = -1
        value = ""
        if event_type == "page_view":
            if random_() < 0.45:
                product = product_order[find(product_cum, random_())]
                properties = f'"page":"/p/{product_ids[product]}"'
            else:
                page = _PAGES[find(_PAGE_CUM, random_())]
                if page == "/c/":
                    page += product_categories[product_order[find(product_cum, random_())]]
                properties = f'"page":"{page}"'
        elif event_type == "search":
            properties = (
                f'"page":"/search","query":"{_QUERIES[int(random_() * n_queries)]}"'
                f',"results":{int(random_() * 120)}'
            )
        elif event_type in _CART_TYPES:
            cart = slot_cart[slot]
            if event_type == "add_to_cart" or not cart:
                product = product_order[find(product_cum, random_())]
                quantity = _QUANTITIES[find(_QUANTITY_CUM, random_())]
                if event_type == "add_to_cart":
                    cart.append((product, quantity))
            else:
                product, quantity = cart.pop(int(random_() * len(cart)))
            if event_type != "remove_from_cart":
                value = repr(product_cents[product] * quantity / 100)
            properties = f'"quantity":{quantity}'
        elif event_type == "logout":
            properties = '"page":"/logout"'
            slot_left[slot] = 0  # the session ends
        else:  # signup, login
            method = _LOGIN_METHODS[int(random_() * n_methods)]
            properties = f'"page":"/{event_type}","method":"{method}"'

        # how this session's client writes the time
        style = slot_style[slot]
        if style == "millis":
            timestamp = str(us // 1000)
        else:
            if style == "z":
                suffix = "Z"
            else:
                us += offset_us[user]
                suffix = offset_text[user]
            day, rest = divmod(us, _DAY)
            seconds, micros = divmod(rest, _SECOND)
            date = dates.get(day)
            if date is None:
                date = dates[day] = (_EPOCH + timedelta(days=day)).date().isoformat()
            timestamp = f'"{date}T{clock[seconds]}{micros:06d}{suffix}"'

        h = "%032x" % (getrandbits(128) & _UUID_CLEAR | _UUID_SET)
        if slot_nulls[slot]:
            product_text = f'"{product_ids[product]}"' if product >= 0 else "null"
            nullable = f',"event_value":{value or "null"},"product_id":{product_text}'
        elif product < 0:
            nullable = f',"event_value":{value}' if value else ""
        elif value:
            nullable = f',"event_value":{value},"product_id":"{product_ids[product]}"'
        else:
            nullable = f',"product_id":"{product_ids[product]}"'
        line = (
            f'{{"event_id":"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"'
            f',"user_id":"{user_ids[user]}"'
            f',"event_type":"{event_type}","event_timestamp":{timestamp}{nullable}'
            f',"properties":{{{properties},"session_id":"{slot_session[slot]}"'
            f"{context}}}}}"
        )
        if broken:
            record = _break(rng, line, invalid_number)
            invalid_number += 1
            special[len(lines)] = record
            append(record.line)
        else:
            recent[filled & mask] = line
            filled += 1
            append(line)
    return _Chunk(lines, special)


def _break(rng: random.Random, line: str, number: int) -> GeneratedRecord:
    """The ``number``-th broken record of the stream: a fresh valid event, broken one way."""
    variant = INVALID_VARIANTS[number % len(INVALID_VARIANTS)]
    event = json.loads(line)
    value: Any = event
    broken: str | None = None
    name = variant.name
    if name == "missing_event_type":
        del event["event_type"]
    elif name == "missing_event_timestamp":
        del event["event_timestamp"]
    elif name == "null_user_id":
        event["user_id"] = None
    elif name == "null_event_timestamp":
        event["event_timestamp"] = None
    elif name == "wrong_type_event_value":
        event["event_value"] = str((100 + _below(rng, 9_900)) / 100)
    elif name == "wrong_type_user_id":
        event["user_id"] = int(event["user_id"][2:])
    elif name == "out_of_range_event_value":
        event["event_value"] = -(100 + _below(rng, 9_900)) / 100
    elif name == "not_in_enum_event_type":
        event["event_type"] = _pick(rng, ("click", "add-to-cart", "checkout", "pageview"))
    elif name == "bad_timestamp_text":
        event["event_timestamp"] = _pick(rng, ("yesterday", "03/11/2026 10:15:30", "now"))
    elif name == "bad_timestamp_date":
        event["event_timestamp"] = _pick(
            rng, ("2026-02-30T00:00:00Z", "2026-11-31T12:00:00Z", "2026-13-01T08:30:00Z")
        )
    elif name == "too_long_event_id":
        event["event_id"] = f"{event['event_id']}-{_uuid4(rng)}"  # 73 characters
    elif name == "too_short_user_id":
        event["user_id"] = ""
    elif name == "invalid_json_truncated":
        full = _dumps(event)
        broken = full[: 1 + _below(rng, len(full) - 2)]
    elif name == "not_an_object_array":
        value = list(event.values())
    elif name == "duplicate_key":
        broken = _dumps(event)[:-1] + ',"event_type":"purchase"}'
    elif name == "too_deep":
        event["properties"] = {"trace": _nested(80)}
    else:  # pragma: no cover - every variant is handled above
        raise AssertionError(name)
    if broken is None:
        broken = _dumps(value)
    return GeneratedRecord(broken, "invalid", variant.reason, variant.field, name)


def _event_chunks(
    config: SampleConfig, workers: int = 1, block_size: int = _BLOCK
) -> Iterator[_Chunk]:
    """The stream, block by block, in order. With ``workers > 1`` blocks are generated by a
    pool of processes (the output is the same: every block has its own random stream)."""
    if config.events == 0:
        return
    setup = _setup(config, block_size)
    blocks = range(-(-config.events // block_size))
    pool = None
    if workers > 1 and len(blocks) > 1:
        try:
            pool = multiprocessing.get_context("spawn").Pool(
                min(workers, len(blocks)), initializer=_init_worker, initargs=(setup,)
            )
        except (OSError, ImportError):  # no process support here: generate in this process
            pool = None
    if pool is None:
        for block in blocks:
            yield _generate_block(setup, block)
        return
    with pool:
        todo = iter(blocks)
        pending = deque(
            pool.apply_async(_worker_block, (block,))
            for block in itertools.islice(todo, workers * 2)
        )
        while pending:
            chunk = pending.popleft().get()
            for block in itertools.islice(todo, 1):  # keep at most 2 blocks per worker ahead
                pending.append(pool.apply_async(_worker_block, (block,)))
            yield chunk


_worker_setup: _Setup | None = None


def _init_worker(setup: _Setup) -> None:
    global _worker_setup  # the per-process state of a pool worker
    _worker_setup = setup


def _worker_block(block: int) -> _Chunk:
    assert _worker_setup is not None  # noqa: S101 — narrows the type for mypy; holds by construction
    return _generate_block(_worker_setup, block)


class _Chunk(NamedTuple):
    lines: list[str]
    special: dict[int, GeneratedRecord]  # duplicate and invalid records, by index in lines


_dumps = json.JSONEncoder(separators=(",", ":")).encode
_dumps_utf8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value
