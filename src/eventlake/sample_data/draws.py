"""The vocabulary of the sample (names, weights, distributions) and the random draws made from
it: only ``random()`` and ``getrandbits()`` of seeded ``random.Random`` streams, so that the
output is the same on any machine."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1)  # naive UTC; naive arithmetic + isoformat() is the fast path
_SECOND = 1_000_000
_HOUR = 3600 * _SECOND
_DAY = 24 * _HOUR

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo",
    "Isabella", "Levi", "Amelia", "Hugo", "Charlotte", "Leo", "Chloé", "Louis", "Zoë", "Jakob",
    "Sofía", "Diego", "Valentina", "Santiago", "Lucía", "Mohammed", "Fatima", "Omar", "Aisha",
    "Yusuf", "Priya", "Arjun", "Ananya", "Rohan", "Mei", "Wei", "Yuki", "Haruto", "Sakura",
    "Min-jun", "Ji-woo", "Anna", "Jonas", "Lena", "Finn", "Ingrid", "Søren", "Freya", "Mateusz",
    "Zuzanna", "Łukasz", "Kofi", "Amara", "Chinedu", "Nia", "Thiago", "Beatriz", "Ivan", "Olga",
    "Giulia", "Marco",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Müller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Dubois", "Lefèvre", "Moreau", "Rossi", "Russo", "Bianchi",
    "Fernández", "González", "Silva", "Santos", "Oliveira", "Kowalski", "Nowak", "Novák",
    "Jensen", "Nielsen", "Hansen", "Johansson", "Andersson", "Virtanen", "Kim", "Park", "Tanaka",
    "Suzuki", "Wang", "Li", "Zhang", "Nguyen", "Patel", "Sharma", "Singh", "Okafor", "Mensah",
    "Haddad", "Cohen", "Ivanova",
)  # fmt: skip

# category: (nouns, typical price in cents, spread factor)
_CATEGORIES: dict[str, tuple[tuple[str, ...], int, float]] = {
    category: (tuple(nouns.split("|")), cents, spread)
    for category, nouns, cents, spread in (
        ("electronics", "Headphones|Speaker|Charger|Keyboard|Monitor|Webcam|Router", 8_900, 2.5),
        ("books", "Novel|Cookbook|Atlas|Biography|Comic|Notebook", 1_800, 1.6),
        ("home", "Lamp|Cushion|Blanket|Mirror|Vase|Curtain|Rug", 3_900, 2.0),
        ("kitchen", "Kettle|Pan|Knife Set|Blender|Mug|Cutting Board", 3_200, 2.0),
        ("toys", "Puzzle|Building Set|Plush Bear|Board Game|Kite|Robot", 2_500, 1.8),
        ("sports", "Yoga Mat|Running Shoes|Water Bottle|Dumbbell|Tennis Racket", 4_500, 2.0),
        ("beauty", "Face Cream|Shampoo|Perfume|Lip Balm|Hair Dryer", 2_200, 1.8),
        ("fashion", "T-Shirt|Jacket|Sneakers|Scarf|Backpack|Jeans|Hoodie", 4_900, 1.9),
        ("grocery", "Coffee Beans|Olive Oil|Green Tea|Dark Chocolate|Pasta", 900, 1.5),
        ("garden", "Watering Can|Plant Pot|Hose|Pruning Shears|Seed Kit", 2_900, 1.9),
    )
}
_ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Eco", "Essential", "Premium", "Pro", "Smart", "Ultra",
    "Vintage", "Wireless", "Everyday", "Nordic", "Urban", "Organic", "Mini",
)  # fmt: skip
_QUERIES = (
    "headphones", "wireless speaker", "usb c charger", "gaming keyboard", "4k monitor",
    "cookbook", "fantasy novel", "desk lamp", "wool blanket", "kettle", "chef knife", "blender",
    "board game", "lego", "yoga mat", "running shoes", "water bottle", "face cream", "shampoo",
    "perfume", "winter jacket", "sneakers", "backpack", "coffee beans", "olive oil", "green tea",
    "plant pot", "garden hose", "gift ideas", "sale",
)  # fmt: skip
_REFERRERS = (
    "direct",
    "google",
    "newsletter",
    "instagram",
    "bing",
    "facebook",
    "tiktok",
    "partner",
)
_REFERRER_WEIGHTS = (34, 30, 9, 8, 6, 6, 5, 2)
_DEVICES = ("mobile", "desktop", "tablet")
_DEVICE_WEIGHTS = (55, 35, 10)
_PAGES = ("/", "/c/", "/deals", "/cart", "/account", "/help")
_PAGE_WEIGHTS = (30, 35, 10, 12, 8, 5)
_LOGIN_METHODS = ("password", "google", "apple", "magic_link")
# Funnel: browsing dominates, buying is rare. Order matches _TYPE_CUM below.
_TYPE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("page_view", 56.0),
    ("search", 14.0),
    ("add_to_cart", 10.0),
    ("remove_from_cart", 3.0),
    ("purchase", 4.0),
    ("login", 7.0),
    ("logout", 4.5),
    ("signup", 1.5),
)
_QUANTITIES = (1, 2, 3, 4, 5)
_QUANTITY_WEIGHTS = (80, 14, 4, 1.5, 0.5)
# Offsets sent by clients that use local time (minutes east of UTC).
_OFFSETS = (60, 120, -300, -240, 330, 540, -480, 0, 180, 600)
# Relative traffic per hour of day (UTC), for a diurnal curve.
_HOURLY = (2, 1.5, 1, 1, 1, 1.5, 3, 5, 6, 6.5, 7, 7, 7.5, 7, 6.5, 6.5, 7, 8, 9, 10, 10, 8.5, 6, 4)
_SESSION_EVENTS = 8  # mean events per session
_SESSION_US = 10 * 60 * _SECOND  # typical session length
_CART_TYPES = frozenset(("add_to_cart", "remove_from_cart", "purchase"))
_RECENT = 1024  # duplicates repeat one of the last _RECENT valid events (a power of 2)
_SLICES_PER_DAY = 240
_BLOCK = 32_768  # events per block of the stream (each has its own random stream)
# a version-4 UUID: version nibble 4, variant bits 10
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID_SET = (0x4 << 76) | (0x2 << 62)
# How a session's client writes events: (share of sessions, timestamp style, sends nulls).
# Styles: "z" ISO UTC with microseconds, "offset" ISO local time with the user's UTC offset,
# "millis" epoch milliseconds (a number).
_CLIENTS: tuple[tuple[float, str, bool], ...] = (
    (0.30, "z", True),  # web
    (0.55, "z", False),  # mobile app: leaves out null fields
    (0.10, "offset", True),  # web, local time
    (0.05, "millis", False),  # legacy SDK
)
_LATE_SHARE = 0.03  # events whose timestamp lags the stream (offline clients)


def _cumulative(weights: Iterable[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return [value / total for value in out]


_TYPE_NAMES = tuple(name for name, _ in _TYPE_WEIGHTS)
_TYPE_CUM = _cumulative(weight for _, weight in _TYPE_WEIGHTS)
_REFERRER_CUM = _cumulative(_REFERRER_WEIGHTS)
_DEVICE_CUM = _cumulative(_DEVICE_WEIGHTS)
_PAGE_CUM = _cumulative(_PAGE_WEIGHTS)
_QUANTITY_CUM = _cumulative(_QUANTITY_WEIGHTS)
_HOUR_CUM = _cumulative(_HOURLY)
_CLIENT_CUM = _cumulative(share for share, _, _ in _CLIENTS)


# --------------------------------------------------------------------------------------------
# Random streams: one master Random(seed) hands out the seeds of independent sub-streams, so
# users and products do not change when only the number of events changes.
# --------------------------------------------------------------------------------------------


def _streams(seed: int) -> dict[str, random.Random]:
    master = random.Random(seed)  # noqa: S311 — seeded sample data, reproducible by design
    return {
        name: random.Random(master.getrandbits(64))  # noqa: S311 — seeded sample data, reproducible by design
        for name in ("users", "products", "renames", "events")
    }


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _iso_from_us(us: int, timespec: str = "seconds") -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat(timespec=timespec) + "Z"


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID string built from the rng (not from ``uuid``, which uses os.urandom)."""
    return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - the fastest way here
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(12),
        0x8000 | rng.getrandbits(14),
        rng.getrandbits(48),
    )


# Only rng.random() and rng.getrandbits() are used, with plain arithmetic on top: Python
# guarantees their sequences across versions (unlike choice/shuffle/randrange), and no libm
# function (log, exp, pow) is involved, whose last bit may differ between platforms.


def _below(rng: random.Random, n: int) -> int:
    """An int in ``[0, n)``."""
    return int(rng.random() * n)


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[int(rng.random() * len(items))]


def _shuffled(rng: random.Random, n: int) -> list[int]:
    """A random permutation of ``range(n)`` (Fisher-Yates)."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def _geometric_cum(p: float, size: int = 64) -> list[float]:
    """Cumulative P(k) ∝ p**k for k in 0..size-1: a geometric distribution, mean ~p/(1-p)."""
    weights = [1.0]
    for _ in range(size - 1):
        weights.append(weights[-1] * p)
    return _cumulative(weights)


def _zipf_cum(n: int, offset: float) -> list[float]:
    """Cumulative popularity for ranks 0..n-1, weight 1/(rank + offset): a long-tailed skew."""
    return _cumulative(1.0 / (rank + offset) for rank in range(n))
