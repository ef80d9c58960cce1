"""RFC 5734 framing: each EPP message is a 32-bit big-endian total length, then the XML.

The length counts its own four bytes. A peer's length header is checked against our
limit before a byte of the body is read, so a header announcing 100 MB costs nothing.
"""

from __future__ import annotations

import socket
import struct

HEADER = struct.Struct(">I")
# Generous for EPP (a big poll message or info answer is a few KiB) and far below harm.
DEFAULT_MAX_FRAME = 1024 * 1024


class FrameError(Exception):
    """The peer broke the framing, closed the connection or sent too much."""


class FrameTooLarge(FrameError):
    def __init__(self, announced: int, limit: int) -> None:
        super().__init__(f"frame of {announced} bytes announced; the limit is {limit}")
        self.announced = announced
        self.limit = limit


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise FrameError(f"connection closed after {got} of {size} bytes")
        got += n
    return bytes(buffer)


def read_frame(sock: socket.socket, *, max_size: int = DEFAULT_MAX_FRAME) -> bytes:
    """One EPP message's XML bytes; FrameError when the peer breaks the protocol."""
    (total,) = HEADER.unpack(_read_exactly(sock, HEADER.size))
    if total <= HEADER.size:
        raise FrameError(f"frame length {total} is not longer than its header")
    body = total - HEADER.size
    if body > max_size:
        raise FrameTooLarge(body, max_size)
    return _read_exactly(sock, body)


def encode_frame(data: bytes) -> bytes:
    return HEADER.pack(len(data) + HEADER.size) + data


def write_frame(sock: socket.socket, data: bytes) -> None:
    sock.sendall(encode_frame(data))
