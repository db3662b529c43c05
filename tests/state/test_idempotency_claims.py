"""An Idempotency-Key claim is a lease its owner renews (``eventlake.state.idempotency``):
taken over soon after its owner stops renewing (the API killed mid-request), never while the
owner renews it, and by exactly one of several racing retries. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from eventlake.state import IdempotencyConflictError, StateStore, open_state
from eventlake.state.idempotency import ClaimKeeper

LEASE = 0.4  # seconds: short, so that the tests wait little
# A keeper renews every third of its lease from a thread: on a loaded machine (make test's
# workers beside other processes) a renewal can wait a few hundred milliseconds for a core,
# longer than a third of LEASE. Its tests give it a lease that survives such a wait.
KEEPER_LEASE = 1.0


def _try(state: StateStore, owner: str, key: str = "k1") -> str:
    try:
        answer = state.claim_idempotency_key("ci", key, "body", owner=owner, lease_seconds=LEASE)
    except IdempotencyConflictError:
        return "conflict"
    return "claimed" if answer is None else "replayed"


def _wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_claim_whose_owner_stopped_renewing_is_taken_over_after_its_lease(
    state: StateStore,
) -> None:
    began = time.time()
    assert _try(state, "dead") == "claimed"
    # Before the lease ran out: the owner may still be working.
    assert _try(state, "retry") == "conflict"
    _wait_until(lambda: time.time() > began + LEASE + 0.05)
    assert _try(state, "retry") == "claimed"
    # The old owner, should it come back, cannot renew or release the taker's claim.
    assert state.renew_idempotency_claims("dead", [("ci", "k1")], LEASE) == 0
    state.release_idempotency_key("ci", "k1", owner="dead")
    assert _try(state, "third") == "conflict"
    # The taker answers; everyone after gets that answer.
    state.store_idempotent_answer("ci", "k1", 202, '{"job_id": "j"}')
    assert state.claim_idempotency_key("ci", "k1", "body", owner="late") == (202, '{"job_id": "j"}')


def test_a_live_owners_claim_is_never_taken(state: StateStore) -> None:
    keeper = ClaimKeeper(state, lease_seconds=KEEPER_LEASE)
    try:
        assert keeper.claim("ci", "k1", "body") is None
        with keeper.held("ci", "k1"):
            # Many leases long, retries from another process all meet the live claim.
            started = time.monotonic()
            deadline = started + 4 * KEEPER_LEASE
            attempts = []
            while time.monotonic() < deadline:
                assert _try(state, "retry") == "conflict"
                attempts.append(time.monotonic())
                time.sleep(KEEPER_LEASE / 4)
            # The retries spanned several leases (however slowly a loaded machine ran them).
            assert len(attempts) >= 5
            assert attempts[-1] - started >= 3 * KEEPER_LEASE
            state.store_idempotent_answer("ci", "k1", 202, "{}")
    finally:
        keeper.close()
    assert _try(state, "retry") == "replayed"


def test_racing_retries_take_a_dead_claim_over_once(state_url: str, state: StateStore) -> None:
    assert _try(state, "dead") == "claimed"
    time.sleep(LEASE + 0.05)
    takers = 6
    stores = [open_state(state_url) for _ in range(takers)]  # as separate API processes
    try:
        for store in stores:
            store.check()
        start = threading.Barrier(takers)

        def take(index: int) -> str:
            start.wait(timeout=30)
            return _try(stores[index], f"taker-{index}")

        with ThreadPoolExecutor(takers) as pool:
            outcomes = sorted(pool.map(take, range(takers)))
    finally:
        for store in stores:
            store.close()
    assert outcomes == ["claimed"] + ["conflict"] * (takers - 1)


def test_a_released_claim_is_released_only_by_its_owner(state: StateStore) -> None:
    assert _try(state, "a") == "claimed"
    state.release_idempotency_key("ci", "k1", owner="b")
    assert _try(state, "b") == "conflict"
    state.release_idempotency_key("ci", "k1", owner="a")
    assert _try(state, "b") == "claimed"


def test_a_database_from_before_leases_gains_the_columns_and_keeps_its_claims(
    state_url: str,
) -> None:
    """An idempotency table made by an older eventlake: opening it adds the lease columns;
    its pending claims (no owner, no lease) lapse by the old rule, 10 minutes after made."""
    old = sa.MetaData()
    table = sa.Table(
        "idempotency_keys",
        old,
        sa.Column("source", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", sa.Text),
    )
    engine = sa.create_engine(state_url)
    try:
        old.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                table.insert(),
                [
                    {
                        "source": "ci",
                        "key": "new",
                        "fingerprint": "body",
                        "created_at": time.time(),
                    },
                    {"source": "ci", "key": "old", "fingerprint": "body", "created_at": 0.0},
                ],
            )
    finally:
        engine.dispose()
    with open_state(state_url) as state, open_state(state_url) as again:
        columns = {c["name"] for c in sa.inspect(state.engine).get_columns("idempotency_keys")}
        assert {"owner", "expires_at"} <= columns
        assert again.check() is None  # a second process opening it finds them there
        assert _try(state, "retry", key="new") == "conflict"
        assert _try(state, "retry", key="old") == "claimed"


def test_the_keeper_renews_while_a_request_is_blocked(state: StateStore) -> None:
    """A request blocked for several leases (a slow publish) keeps its key; once it is done
    the keeper stops renewing, and the claim lapses a lease later."""
    keeper = ClaimKeeper(state, lease_seconds=KEEPER_LEASE)
    try:
        assert keeper.claim("ci", "k1", "body") is None
        with keeper.held("ci", "k1"):
            time.sleep(3 * KEEPER_LEASE)
            assert _try(state, "retry") == "conflict"
        _wait_until(lambda: _try(state, "retry") == "claimed", timeout=5 * KEEPER_LEASE)
    finally:
        keeper.close()
