"""Checking and cleaning an uploaded ID copy before it is sealed.

JPEG, PNG or PDF, recognised by their first bytes (never by name or declared type),
at most 10 MB. Images are decoded and encoded again by Pillow without their EXIF,
XMP or text chunks, so camera, location and editing metadata go. For a PDF kluis has
no renderer, so it takes the narrow safe path: a PDF with active or hidden content
(JavaScript, actions, embedded files, forms, compressed object streams) is refused
with the advice to upload a photo instead, and the document information dictionary
and an uncompressed XMP packet are blanked in place (same length, so the
cross-reference offsets stay valid).
"""

from __future__ import annotations

import io
import re

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"

_PDF_REFUSED = (
    b"/JavaScript",
    b"/JS",
    b"/Launch",
    b"/EmbeddedFile",
    b"/RichMedia",
    b"/XFA",
    b"/OpenAction",
    b"/AA",
    b"/ObjStm",
    b"/SubmitForm",
    b"/ImportData",
    b"/GoToR",
)
_INFO_REF = re.compile(rb"/Info\s+(\d+)\s+(\d+)\s+R")
_LITERAL = re.compile(rb"\((?:\\.|[^\\)])*\)", re.S)
_HEX = re.compile(rb"(?<!<)<([0-9A-Fa-f\s]*)>(?!>)")
_XMP = re.compile(rb"<x:xmpmeta.*?</x:xmpmeta>", re.S)


class UploadRefused(ValueError):
    """The file is not one kluis accepts; the message says why, for the requester."""


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def clean_id_copy(data: bytes) -> tuple[bytes, str]:
    """(cleaned bytes, mimetype), or UploadRefused."""
    if len(data) > MAX_BYTES:
        raise UploadRefused("too_large")
    kind = sniff(data)
    if kind is None:
        raise UploadRefused("not_image_or_pdf")
    if kind == PDF:
        return _clean_pdf(data), PDF
    return _clean_image(data, kind), kind


def _clean_image(data: bytes, kind: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise UploadRefused("too_large")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            pixels = (
                image.convert("RGB")
                if kind == JPEG or image.mode not in ("RGB", "RGBA", "L")
                else image.copy()
            )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, UploadRefused):
            raise
        raise UploadRefused("broken") from None
    # A fresh image carries no info dictionary: no EXIF, XMP, ICC text or comments.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    if kind == JPEG:
        clean.save(out, format="JPEG", quality=90)
    else:
        clean.save(out, format="PNG")
    return out.getvalue()


def _blank(match: re.Match[bytes]) -> bytes:
    text = match.group(0)
    return text[:1] + b" " * (len(text) - 2) + text[-1:]


def _clean_pdf(data: bytes) -> bytes:
    if b"%%EOF" not in data[-2048:]:
        raise UploadRefused("broken")
    for marker in _PDF_REFUSED:
        if re.search(re.escape(marker) + rb"(?![A-Za-z])", data):
            raise UploadRefused("pdf_active_content")
    out = bytearray(data)
    for ref in _INFO_REF.finditer(data):
        number, generation = ref.group(1), ref.group(2)
        head = re.search(rb"(?<!\d)" + number + rb"\s+" + generation + rb"\s+obj\b", data)
        if head is None:
            continue
        end = data.find(b"endobj", head.end())
        if end < 0:
            raise UploadRefused("broken")
        body = data[head.end() : end]
        body = _LITERAL.sub(_blank, body)
        body = _HEX.sub(lambda m: b"<" + re.sub(rb"[0-9A-Fa-f]", b"0", m.group(1)) + b">", body)
        out[head.end() : end] = body
    if b"/Metadata" in data:
        packets = list(_XMP.finditer(bytes(out)))
        if not packets:
            raise UploadRefused("pdf_active_content")  # compressed metadata we cannot strip
        for packet in packets:
            out[packet.start() : packet.end()] = b" " * (packet.end() - packet.start())
    return bytes(out)
