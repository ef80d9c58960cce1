"""RFC 5734 framing, and what a hostile peer can do with a length header."""

from __future__ import annotations

import socket
import time

import pytest

from kluis.domains.epp.framing import (
    FrameError,
    FrameTooLarge,
    encode_frame,
    read_frame,
    write_frame,
)


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.settimeout(2)
    b.settimeout(2)
    return a, b


def test_a_frame_counts_its_own_four_bytes_and_reads_back_whole() -> None:
    a, b = _pair()
    body = b"<epp/>" * 3000  # larger than one recv
    write_frame(a, body)
    assert encode_frame(b"x")[:4] == (5).to_bytes(4, "big")
    assert read_frame(b) == body


def test_a_100_mb_header_is_refused_before_a_byte_of_the_body_is_read() -> None:
    a, b = _pair()
    a.sendall((100 * 1024 * 1024 + 4).to_bytes(4, "big") + b"<epp")
    started = time.monotonic()
    with pytest.raises(FrameTooLarge) as caught:
        read_frame(b, max_size=1024 * 1024)
    # Waiting for 100 MB that never come would time out after 2 s instead.
    assert time.monotonic() - started < 1
    assert caught.value.announced == 100 * 1024 * 1024


@pytest.mark.parametrize("length", [0, 3, 4])
def test_a_length_not_longer_than_the_header_is_a_framing_error(length: int) -> None:
    a, b = _pair()
    a.sendall(length.to_bytes(4, "big"))
    with pytest.raises(FrameError):
        read_frame(b)


def test_a_connection_closed_mid_frame_is_a_framing_error_not_a_short_message() -> None:
    a, b = _pair()
    a.sendall((104).to_bytes(4, "big") + b"<epp>")
    a.close()
    with pytest.raises(FrameError, match="closed after 5 of 100"):
        read_frame(b)
