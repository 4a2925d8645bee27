"""Per-recipientRand nonce sets (protocol.md §7.5), persisted."""

from __future__ import annotations

from pathlib import Path

from lpengine.pm.nonces import NEW, SEEN, TOO_MANY, NonceSets
from lpengine.pm.store import DB_FILE, Store

H1, H2 = b"\x01" * 32, b"\x02" * 32


def test_order_duplicates_and_limit(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE)
    sets = NonceSets(store, max_nonces=3)
    assert sets.record(H1, 100, [5, 1, 5]) == [NEW, NEW, SEEN]  # out of order is fine
    assert sets.record(H1, 100, [9, 7, 1]) == [NEW, TOO_MANY, SEEN]  # duplicate wins over full
    assert sets.record(H2, 100, [1]) == [NEW]  # sets are per recipientRand
    assert sets.count(H1) == 3
    store.close()


def test_survive_a_restart_and_prune(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE)
    sets = NonceSets(store, max_nonces=600)
    sets.record(H1, 100, [3, 2**32 - 1])
    sets.record(H2, 200, [0])
    store.close()

    store = Store(tmp_path / DB_FILE)
    sets = NonceSets(store, max_nonces=600)
    assert sets.record(H1, 100, [3, 2**32 - 1, 4]) == [SEEN, SEEN, NEW]
    assert sets.prune(99) == 0
    assert sets.prune(100) == 1  # expiration block reached
    assert sets.record(H1, 100, [3]) == [NEW]
    assert sets.prune(150) == 1
    assert len(sets) == 1
    store.close()

    store = Store(tmp_path / DB_FILE)
    sets = NonceSets(store, max_nonces=600)
    assert len(sets) == 1 and sets.count(H2) == 1
    store.close()
