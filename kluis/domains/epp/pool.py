"""Logged-in EPP sessions, shared, never more at once than the registry allows.

Registries cap the sessions a registrar may hold open (a 2502 answer at login past
the cap); the pool counts idle sessions as open too, so it never crosses the cap, and
a caller waits (up to `wait`) for a session instead. An idle session older than
`keepalive` is greeted with <hello> before use; one that does not answer, or that
broke during a command, is dropped and replaced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kluis.domains.epp.client import EppClient, EppError, EppTransportError


class PoolExhausted(EppError):
    """No session became free within the wait."""


class SessionPool:
    def __init__(
        self,
        open_session: Callable[[], EppClient],
        *,
        max_sessions: int,
        keepalive: float = 600.0,
        wait: float = 30.0,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("a pool needs at least one session")
        self._open_session = open_session
        self.max_sessions = max_sessions
        self.keepalive = keepalive
        self.wait = wait
        self._idle: list[EppClient] = []
        self._open = 0
        self._cond = threading.Condition()
        self.peak = 0

    @property
    def open_sessions(self) -> int:
        with self._cond:
            return self._open

    def _take(self, wait: float | None = None) -> EppClient | None:
        """An idle session, or None after reserving room for a new one."""
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._open < self.max_sessions:
                    self._open += 1
                    self.peak = max(self.peak, self._open)
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolExhausted(
                        f"all {self.max_sessions} sessions stayed busy for {self.wait:.0f} s"
                    )
                self._cond.wait(left)

    def _forget(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def _fresh(self, client: EppClient | None) -> EppClient:
        if client is not None:
            if time.monotonic() - client.last_used < self.keepalive:
                return client
            try:
                client.hello()
                return client
            except EppError:
                client.close()
        try:
            return self._open_session()
        except BaseException:
            self._forget()
            raise

    @contextmanager
    def session(self) -> Iterator[EppClient]:
        client = self._fresh(self._take())
        try:
            yield client
        except EppTransportError:
            client.close()
            self._forget()
            raise
        except BaseException:
            self._give_back(client)
            raise
        else:
            self._give_back(client)

    def acquire(self, *, wait: float | None = None) -> EppClient:
        """A session to hold across several commands, given back with `release`
        (PoolExhausted when none is free within `wait` seconds, the pool's own by
        default; EppError when a new one cannot be opened)."""
        return self._fresh(self._take(wait))

    def release(self, client: EppClient) -> None:
        """Give back a session from `acquire`: one that is closed or still waits for an
        answer (the caller stopped mid-command) is closed and counted out."""
        if client.waiting:
            client.close()
        self._give_back(client)

    def _give_back(self, client: EppClient) -> None:
        if not client.is_open:
            self._forget()
            return
        with self._cond:
            self._idle.append(client)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for client in idle:
            client.logout()
