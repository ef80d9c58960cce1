"""Conversations with registries over several sessions at once, in one thread.

EPP allows one command in flight per session (RFC 5730 §2), so commands are never
pipelined within a session; a pipeline holds up to the pool's limit of sessions per
registry and keeps one command in flight on each. While the registry works on them,
the caller builds the next commands and writes its records. Each conversation is a
generator (`Steps`) that yields commands and is sent their answers, as
`EppClient.drive` runs one on a single session; every command is validated before it
is sent, as `EppClient.start` does for any command.
"""

from __future__ import annotations

import selectors
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kluis.domains.epp.client import (
    EppClient,
    EppCommandFailed,
    EppError,
    EppTransportError,
    Steps,
)
from kluis.domains.epp.pool import SessionPool


@dataclass
class Ended:
    """A conversation that ended: its result, or the error that ended it."""

    tag: Any
    value: Any = None
    error: EppError | None = None


@dataclass
class _Flight:
    key: str
    epp: EppClient
    steps: Steps[Any]
    tag: Any


class Pipeline:
    def __init__(self, pool_for: Callable[[str], SessionPool]) -> None:
        self._pool_for = pool_for
        self._held: dict[str, list[EppClient]] = {}
        self._full: set[str] = set()  # registries that would give no more sessions
        self._flights: dict[int, _Flight] = {}  # by the session's socket
        self._selector = selectors.DefaultSelector()

    @property
    def busy(self) -> int:
        return len(self._flights)

    def may_start(self, key: str) -> bool:
        """Whether free_session(key) may give a session now (nothing is opened here)."""
        held = [epp for epp in self._held.get(key, []) if epp.is_open]
        if any(not epp.waiting for epp in held):
            return True
        return not held or (key not in self._full and len(held) < self._pool_for(key).max_sessions)

    def free_session(self, key: str) -> EppClient | None:
        """An idle session with registry `key`: one held, or one more from its pool while
        the pool gives one at once. None while all held ones are busy; EppError when
        none is held and none can be had."""
        held = self._held.setdefault(key, [])
        pool = self._pool_for(key)
        for epp in list(held):
            if not epp.is_open:  # broken outside a conversation (set-up commands)
                held.remove(epp)
                pool.release(epp)
            elif not epp.waiting:
                return epp
        if held and (key in self._full or len(held) >= pool.max_sessions):
            return None
        try:
            # The first session is waited for as any caller waits; more only if free now.
            epp = pool.acquire(wait=0 if held else None)
        except EppError:
            if not held:
                raise
            # None free, or the registry allows no more just now (2502), or a new one
            # could not be opened: the run goes on with the sessions it holds.
            self._full.add(key)
            return None
        held.append(epp)
        return epp

    def launch(self, key: str, epp: EppClient, steps: Steps[Any], tag: Any) -> Ended | None:
        """Start a conversation on an idle session; Ended if it ended at once."""
        try:
            command = next(steps)
        except StopIteration as done:
            return Ended(tag, value=done.value)
        except EppError as exc:
            return Ended(tag, error=exc)
        return self._send(_Flight(key, epp, steps, tag), command)

    def _send(self, flight: _Flight, command: Any) -> Ended | None:
        try:
            flight.epp.start(command)
        except EppError as exc:
            self._drop_if_broken(flight)
            return Ended(flight.tag, error=exc)
        fd = flight.epp.fileno()
        self._flights[fd] = flight
        self._selector.register(fd, selectors.EVENT_READ)
        return None

    def wait(self) -> list[Ended]:
        """Read the answers that arrive (at least one, or every conversation in flight
        ends with EppTransportError after its sessions' timeout passed in silence) and
        send the next commands: the conversations that ended."""
        ended: list[Ended] = []
        timeout = max(f.epp.endpoint.timeout for f in self._flights.values())
        ready = self._selector.select(timeout)
        if not ready:
            for fd in list(self._flights):
                flight = self._take(fd)
                flight.epp.close()
                self._drop_if_broken(flight)
                ended.append(Ended(flight.tag, error=EppTransportError("no answer in time")))
            return ended
        for key, _events in ready:
            flight = self._take(int(key.fd))
            try:
                try:
                    answer = flight.epp.finish()
                except EppCommandFailed as exc:
                    command = flight.steps.throw(exc)
                else:
                    command = flight.steps.send(answer)
            except StopIteration as done:
                ended.append(Ended(flight.tag, value=done.value))
                continue
            except EppError as exc:
                self._drop_if_broken(flight)
                ended.append(Ended(flight.tag, error=exc))
                continue
            end = self._send(flight, command)
            if end is not None:
                ended.append(end)
        return ended

    def _take(self, fd: int) -> _Flight:
        self._selector.unregister(fd)
        return self._flights.pop(fd)

    def _drop_if_broken(self, flight: _Flight) -> None:
        if not flight.epp.is_open:
            held = self._held.get(flight.key, [])
            if flight.epp in held:
                held.remove(flight.epp)
            self._pool_for(flight.key).release(flight.epp)

    def close(self) -> None:
        """Give every session back; one still waiting for an answer is closed."""
        for fd in list(self._flights):
            self._take(fd)
        for key, held in self._held.items():
            pool = self._pool_for(key)
            for epp in held:
                pool.release(epp)
        self._held.clear()
        self._selector.close()
