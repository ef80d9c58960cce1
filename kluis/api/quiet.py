"""Unchanged polls of a hosting node, audited without a commit each.

A node polls the firewall lists every few seconds and nearly always hears "304, not
changed". Each of those answers was a commit of its own (its `api.used` entry and the
rate-limit count): most of the time of a 304, and a row in the hash chain per poll.

Here a token's first unchanged fetch of a minute in this process is recorded as any
request is (its `api.used` entry, the rate-limit count and the last use, one commit);
the further unchanged fetches of that minute in this process are answered without a
write and counted here. The next entry this process writes for the token carries them
as `repeats`: every use is on the chain, by an entry of its own or counted in the
next one, and none of them opened personal data. What a process that stops takes
with it is the count of at most its last minute per token, not the fact that the
token polled in that minute. A fetch that changed (200), a refusal or any other
operation is recorded at once, as before.

The rate limit keeps counting: a quiet answer is allowed only while the window's
count at the recorded request plus this process's quiet answers stays under the
limit, and the quiet answers are added to the token's count at its next record.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from kluis.api.tokens import Caller


@dataclass
class _Poll:
    minute: int
    counted: int  # the token's window count as of the recorded request
    repeats: int = 0  # quiet answers since then, not yet on the chain


_polls: dict[uuid.UUID, _Poll] = {}
# Service tokens admitted in this process, by their hash (their scopes never change).
_callers: dict[str, Caller] = {}


def clock() -> float:
    """The moment for the rate limit's window and the poll's minute (tests fix it)."""
    return time.time()


_lock = threading.Lock()


def quiet_allowed(token_id: uuid.UUID, minute: int, limit: int) -> bool:
    """Whether this process recorded the token's poll in this minute, within the limit."""
    with _lock:
        poll = _polls.get(token_id)
        return poll is not None and poll.minute == minute and poll.counted + poll.repeats < limit


def quiet_answered(token_id: uuid.UUID) -> None:
    with _lock:
        poll = _polls.get(token_id)
        if poll is not None:
            poll.repeats += 1


def repeats_take(token_id: uuid.UUID) -> int:
    """The quiet answers not yet on the chain; the caller's entry carries them."""
    with _lock:
        poll = _polls.get(token_id)
        if poll is None:
            return 0
        taken, poll.repeats = poll.repeats, 0
        return taken


def recorded(token_id: uuid.UUID, minute: int, counted: int) -> None:
    """An unchanged poll was recorded: the rest of the minute may be quiet."""
    with _lock:
        _polls[token_id] = _Poll(minute, counted)


def caller_keep(secret_hash: str, caller: Caller) -> None:
    with _lock:
        _callers[secret_hash] = caller


def caller_kept(secret_hash: str) -> Caller | None:
    with _lock:
        return _callers.get(secret_hash)


def forget() -> None:
    """For tests: no poll recorded, no caller kept."""
    with _lock:
        _polls.clear()
        _callers.clear()
