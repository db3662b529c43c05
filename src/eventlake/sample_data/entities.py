"""Users, user renames and products (the slowly changing side of the sample)."""

from __future__ import annotations

from typing import Any

from eventlake.sample_data.draws import (
    _ADJECTIVES,
    _CATEGORIES,
    _DAY,
    _FIRST_NAMES,
    _HOUR,
    _LAST_NAMES,
    _SECOND,
    _below,
    _epoch_us,
    _iso_from_us,
    _pick,
    _shuffled,
    _streams,
)
from eventlake.sample_data.model import SampleConfig


def generate_users(config: SampleConfig) -> list[dict[str, Any]]:
    """One profile per user (``u_000001`` ...), created before the window, following the users
    contract: ``user_id``, ``user_name``, ``created_at``, ``updated_at`` (ISO strings, UTC)."""
    rng = _streams(config.seed)["users"]
    start_us = _epoch_us(config.start)
    users = []
    for number in range(1, config.users + 1):
        created = start_us - (_DAY + _below(rng, 3 * 365 * _DAY)) // _SECOND * _SECOND
        if rng.random() < 0.5:
            updated = created
        else:
            updated = created + _below(rng, start_us - _HOUR - created) // _SECOND * _SECOND
        users.append(
            {
                "user_id": f"u_{number:06d}",
                "user_name": f"{_pick(rng, _FIRST_NAMES)} {_pick(rng, _LAST_NAMES)}",
                "created_at": _iso_from_us(created),
                "updated_at": _iso_from_us(updated),
            }
        )
    return users


def generate_user_renames(config: SampleConfig) -> list[dict[str, Any]]:
    """``renamed_users`` new profile versions: the same ``user_id`` and ``created_at`` with a
    different ``user_name`` and an ``updated_at`` inside the window (later than the profile in
    :func:`generate_users`), sorted by ``updated_at``. Loading them after the users makes a
    second SCD2 version of each of these users."""
    users = generate_users(config)
    rng = _streams(config.seed)["renames"]
    start_us = _epoch_us(config.start)
    window = config.days * _DAY
    renames = []
    for index in sorted(_shuffled(rng, len(users))[: config.renamed_users]):
        user = users[index]
        first, _, last = user["user_name"].partition(" ")
        new_last = _pick(rng, [name for name in _LAST_NAMES if name != last])
        moment = start_us + _HOUR + _below(rng, max(1, window - 2 * _HOUR))
        renames.append(
            {
                "user_id": user["user_id"],
                "user_name": f"{first} {new_last}",
                "created_at": user["created_at"],
                "updated_at": _iso_from_us(moment // _SECOND * _SECOND),
            }
        )
    renames.sort(key=lambda row: (row["updated_at"], row["user_id"]))
    return renames


def generate_products(config: SampleConfig) -> list[dict[str, Any]]:
    """The catalogue (``p_00001`` ...): ``product_id``, ``name``, ``category``, ``price``
    (a float with cents, e.g. ``24.99``)."""
    rng = _streams(config.seed)["products"]
    categories = list(_CATEGORIES)
    products = []
    for number in range(1, config.products + 1):
        category = (
            categories[(number - 1) % len(categories)] if number <= 10 else _pick(rng, categories)
        )
        nouns, typical, spread = _CATEGORIES[category]
        # skewed: most near or below the typical price, a few up to ~spread times it
        factor = 0.35 + 1.3 * spread * rng.random() * rng.random()
        cents = int(typical * factor)
        cents = max(99, cents // 100 * 100 + _pick(rng, (99, 99, 95, 49, 0)))
        products.append(
            {
                "product_id": f"p_{number:05d}",
                "name": f"{_pick(rng, _ADJECTIVES)} {_pick(rng, nouns)}",
                "category": category,
                "price": cents / 100,
            }
        )
    return products
