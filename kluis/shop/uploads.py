"""The KvK extract upload: PDF, PNG or JPEG by its bytes, at most 10 MB, stripped.

The name and the browser's content type are not believed: the first bytes decide.
Images are decoded and re-encoded by Pillow, which drops EXIF, XMP, ICC comments and
anything hidden after the image data. A PDF is refused when it carries JavaScript,
actions that launch or submit, embedded files or XFA forms; otherwise its pages are
copied into a new file without the document information (/Info) or XMP metadata.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000

PDF_MAGIC = b"%PDF-"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

# Names that make a PDF act rather than show. Matched on the raw bytes and on every
# object pypdf reads (which covers compressed object streams).
_ACTIVE = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFiles?|EmbeddedFile|RichMedia|XFA|SubmitForm|ImportData|GoToE)\b"
)
_ACTIVE_NAMES = {
    "/JavaScript",
    "/JS",
    "/Launch",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/RichMedia",
    "/XFA",
    "/SubmitForm",
    "/ImportData",
    "/GoToE",
}


class UploadRefused(ValueError):
    """The message says why, in words for the person uploading."""


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    mimetype: str


def sniff(head: bytes) -> str | None:
    if head.startswith(PDF_MAGIC):
        return "application/pdf"
    if head.startswith(PNG_MAGIC):
        return "image/png"
    if head.startswith(JPEG_MAGIC):
        return "image/jpeg"
    return None


def clean_upload(data: bytes) -> CleanFile:
    if len(data) > MAX_BYTES:
        raise UploadRefused("too_large")
    if not data:
        raise UploadRefused("empty")
    kind = sniff(data[:16])
    if kind is None:
        raise UploadRefused("type")
    if kind == "application/pdf":
        return CleanFile(_clean_pdf(data), kind)
    return CleanFile(_clean_image(data, kind), kind)


def _clean_image(data: bytes, kind: str) -> bytes:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            expected = "PNG" if kind == "image/png" else "JPEG"
            if image.format != expected:
                raise UploadRefused("type")
            image.load()
            # A fresh image from the pixels alone: no info, no EXIF, no text chunks.
            mode = image.mode if image.mode in ("RGB", "RGBA", "L", "LA", "P") else "RGB"
            pixels = image.convert(mode)
            clean = Image.new(pixels.mode, pixels.size)
            clean.paste(pixels)
            if pixels.mode == "P":
                clean.putpalette(pixels.getpalette() or [])
            out = io.BytesIO()
            if expected == "JPEG":
                clean.convert("RGB").save(out, format="JPEG", quality=90)
            else:
                clean.save(out, format="PNG")
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        if isinstance(exc, UploadRefused):
            raise
        raise UploadRefused("broken") from None
    return out.getvalue()


def _walk_active(obj: object, seen: set[int], depth: int = 0) -> bool:
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    if depth > 60:
        return False
    if isinstance(obj, IndirectObject):
        key = (obj.idnum * 65536) + obj.generation
        if key in seen:
            return False
        seen.add(key)
        try:
            obj = obj.get_object()
        except Exception:
            return True  # an object that does not resolve is not a document we take
    if isinstance(obj, NameObject):
        return str(obj) in _ACTIVE_NAMES
    if isinstance(obj, DictionaryObject):
        return any(
            str(k) in _ACTIVE_NAMES or _walk_active(v, seen, depth + 1) for k, v in obj.items()
        )
    if isinstance(obj, ArrayObject):
        return any(_walk_active(v, seen, depth + 1) for v in obj)
    return False


def _clean_pdf(data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    if _ACTIVE.search(data):
        raise UploadRefused("pdf_active")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRefused("pdf_encrypted")
        if _walk_active(reader.trailer, set()):
            raise UploadRefused("pdf_active")
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        # No /Info dictionary and no XMP: only the pages are copied.
        writer._info = None
        out = io.BytesIO()
        writer.write(out)
    except UploadRefused:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise UploadRefused("broken") from None
    return out.getvalue()
