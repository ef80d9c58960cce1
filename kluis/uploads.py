"""Every file a person or a bank sends kluis passes here: checked, parsed, cleaned.

One module for every upload (the KvK extract, the ID copy, bank statements, and any
later attachment), so they cannot drift apart:

- the first bytes decide what a file is, never its name or the browser's type;
- a size cap before anything is parsed, and a pixel cap read from the header before
  any image is decoded (a 20000x20000 PNG is 389 KB on the wire and 1.6 GB in memory);
- a PDF is parsed with pypdf and its whole object graph walked: names are compared
  after pypdf decoded them, so `/J#61vaScript` is `/JavaScript`; JavaScript, actions,
  embedded files and forms are refused; the pages are copied into a new file without
  document information or XMP, so bytes that are not part of the PDF's structure
  (HTML behind a `%PDF-1.4` line) are not kept;
- an image is decoded and encoded again from its pixels alone, so EXIF, XMP, text
  chunks and whatever hides after the image data go;
- every library exception becomes an `UploadRefused` with a reason, and `message()`
  turns the reason into words for the person uploading.

Serving: `attachment_response()` is the only way kluis hands back a stored upload:
as an attachment, with `Content-Security-Policy: sandbox` and `nosniff`. An ID copy
is never handed back at all: `render_preview()` draws a new PNG on the server from
its pixels, and that is what the privacy officer sees.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PAGES = 50

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
XML = "application/xml"
ZIP = "application/zip"
TEXT = "text/plain"

DOCUMENTS = frozenset({PDF, PNG, JPEG})
STATEMENTS = frozenset({XML, ZIP})
# What a customer may attach to a help request: a screenshot, a scan, a log file.
ATTACHMENTS = frozenset({PDF, PNG, JPEG, TEXT})

# The first bytes of archives and compressed files: refused with their own reason where
# no archive is taken (a zip bomb is then never opened at all).
ARCHIVE_HEADS = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"BZh")

# Names that make a PDF act rather than show, compared after pypdf decoded them.
ACTIVE_NAMES = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/OpenAction",
        "/AA",
        "/Launch",
        "/EmbeddedFiles",
        "/EmbeddedFile",
        "/RichMedia",
        "/XFA",
        "/AcroForm",
        "/SubmitForm",
        "/ImportData",
        "/GoToE",
        "/GoToR",
        "/URI",
        "/Sound",
        "/Movie",
    }
)

REASONS = {
    "empty": _("Dit bestand is leeg."),
    "too_large": _("Dit bestand is groter dan 10 MB. Maak de foto of scan kleiner."),
    "too_many_pixels": _(
        "Deze afbeelding heeft te veel beeldpunten (meer dan 40 megapixel). Maak haar kleiner."
    ),
    "too_many_pages": _("Deze PDF heeft meer dan 50 pagina's."),
    "type": _("Dit type bestand nemen we niet aan, wat de naam ook zegt."),
    "archive": _(
        "Een archief of gecomprimeerd bestand (zoals zip of gz) nemen we niet aan. Voeg de "
        "bestanden zelf toe."
    ),
    "broken": _("Dit bestand is beschadigd of onvolledig; we kunnen het niet lezen."),
    "pdf_active": _(
        "Deze PDF bevat scripts, acties, formulieren of ingesloten bestanden. Upload een "
        "gewone PDF (bijvoorbeeld opnieuw afgedrukt als PDF) of een foto."
    ),
    "pdf_encrypted": _("Deze PDF is beveiligd met een wachtwoord. Upload een onbeveiligde versie."),
    "pdf_no_image": _(
        "In deze PDF staat geen foto of scan. Upload een foto (JPEG of PNG) of een gescande PDF."
    ),
}

_ACCEPTED_WORDS = {
    PDF: "PDF",
    PNG: "PNG",
    JPEG: "JPEG",
    XML: "XML",
    ZIP: "ZIP",
    TEXT: "tekst (UTF-8)",
}


class UploadRefused(ValueError):
    """The file is not one kluis takes; str() is the reason, `message()` the words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    mimetype: str


def message(refused: UploadRefused, *, accept: Iterable[str] = DOCUMENTS) -> str:
    """The reason in words for the person uploading, in the active language."""
    if refused.reason == "type":
        kinds = ", ".join(sorted(_ACCEPTED_WORDS[k] for k in accept))
        return str(_("Upload een bestand van het type %(kinds)s. Dit bestand is dat niet.")) % {
            "kinds": kinds
        }
    return str(REASONS.get(refused.reason, REASONS["broken"]))


def sniff(head: bytes) -> str | None:
    """What the first bytes say the file is (None: nothing kluis takes)."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if text.startswith(b"<?xml") or text.startswith(b"<Document"):
        return XML
    return None


def check_head(head: bytes, *, accept: frozenset[str]) -> str:
    """The kind of a file too large to read whole (a bank statement), from its head."""
    if not head:
        raise UploadRefused("empty")
    kind = sniff(head)
    if kind is None or kind not in accept:
        if ZIP not in accept and head.startswith(ARCHIVE_HEADS):
            raise UploadRefused("archive")
        raise UploadRefused("type")
    return kind


def clean_upload(
    data: bytes,
    *,
    accept: frozenset[str] = DOCUMENTS,
    max_bytes: int = MAX_BYTES,
    pdf_needs_image: bool = False,
) -> CleanFile:
    """The file cleaned, or UploadRefused. `pdf_needs_image`: a PDF must hold a scan."""
    if len(data) > max_bytes:
        raise UploadRefused("too_large")
    if TEXT in accept and data and sniff(data[:64]) is None and not data.startswith(ARCHIVE_HEADS):
        return CleanFile(_clean_text(data), TEXT)
    kind = check_head(data[:64], accept=accept)
    if kind == PDF:
        content = _clean_pdf(data)
        if pdf_needs_image:
            _pdf_pages_as_images(content)  # refuses a PDF with nothing to show
        return CleanFile(content, PDF)
    if kind in (PNG, JPEG):
        return CleanFile(_clean_image(data, kind), kind)
    return CleanFile(data, kind)  # XML and ZIP: their own readers check the structure


# --- text -----------------------------------------------------------------------------

# Control characters no log or text holds (tab, line feed, form feed and carriage
# return are fine).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _clean_text(data: bytes) -> bytes:
    """UTF-8 text without other control characters (a binary file is not text,
    whatever its name); stored as UTF-8 without a byte order mark."""
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        raise UploadRefused("type") from None
    if _NOT_TEXT.search(text):
        raise UploadRefused("type")
    return text.encode("utf-8")


# --- images ---------------------------------------------------------------------------


def _open_image(data: bytes) -> Any:
    """A Pillow image whose size was checked before a single pixel was decoded."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width <= 0 or height <= 0:
        raise UploadRefused("broken")
    if width * height > MAX_PIXELS:
        raise UploadRefused("too_many_pixels")
    return image


def _image_errors() -> tuple[type[BaseException], ...]:
    from PIL import Image, UnidentifiedImageError

    return (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        MemoryError,
        struct_error(),
    )


def struct_error() -> type[BaseException]:
    import struct

    return struct.error


def _clean_image(data: bytes, kind: str) -> bytes:
    from PIL import Image

    try:
        with _open_image(data) as image:
            expected = "PNG" if kind == PNG else "JPEG"
            if image.format != expected:
                raise UploadRefused("type")
            image.load()
            pixels = _pixels(image)
        return _encode(pixels, expected)
    except UploadRefused:
        raise
    except Image.DecompressionBombError:
        raise UploadRefused("too_many_pixels") from None
    except _image_errors():
        raise UploadRefused("broken") from None


def _pixels(image: Any) -> Any:
    """A fresh image from the pixels alone: no info, no EXIF, no text chunks."""
    from PIL import Image

    mode = image.mode if image.mode in ("RGB", "RGBA", "L", "LA") else "RGB"
    converted = image.convert(mode)
    clean = Image.new(converted.mode, converted.size)
    clean.paste(converted)
    return clean


def _encode(image: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=90)
    else:
        image.save(out, format="PNG")
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------


def _pdf_errors() -> tuple[type[BaseException], ...]:
    from pypdf.errors import PyPdfError

    return (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
        OSError,
        EOFError,
        AssertionError,
        MemoryError,
        struct_error(),
    )


def _has_active(obj: object, seen: set[int], depth: int = 0) -> bool:
    """Whether any name in this object, or below it, makes the PDF act."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    if depth > 100:
        raise UploadRefused("broken")
    if isinstance(obj, IndirectObject):
        key = id(obj.pdf) ^ (obj.idnum << 20) ^ obj.generation
        if key in seen:
            return False
        seen.add(key)
        obj = obj.get_object()
    if isinstance(obj, NameObject):
        return str(obj) in ACTIVE_NAMES
    if isinstance(obj, DictionaryObject):
        for name, value in obj.items():
            if str(name) in ACTIVE_NAMES or _has_active(value, seen, depth + 1):
                return True
        return False
    if isinstance(obj, ArrayObject):
        return any(_has_active(value, seen, depth + 1) for value in obj)
    return False


def _every_object(reader: Any) -> Iterable[object]:
    """The trailer, then every object the cross-reference table lists (reachable or not)."""
    from pypdf.generic import IndirectObject

    yield reader.trailer
    for generation, numbers in getattr(reader, "xref", {}).items():
        for number in list(numbers):
            yield IndirectObject(number, generation, reader)
    for number in getattr(reader, "xref_objStm", {}):
        yield IndirectObject(number, 0, reader)


def _clean_pdf(data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRefused("pdf_encrypted")
        seen: set[int] = set()
        for obj in _every_object(reader):
            if _has_active(obj, seen):
                raise UploadRefused("pdf_active")
        count = len(reader.pages)
        if count == 0:
            raise UploadRefused("broken")
        if count > MAX_PAGES:
            raise UploadRefused("too_many_pages")
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        writer._info = None  # no /Info dictionary; XMP lives in the catalog, not copied
        out = io.BytesIO()
        writer.write(out)
    except UploadRefused:
        raise
    except _pdf_errors():
        raise UploadRefused("broken") from None
    return out.getvalue()


def _pdf_pages_as_images(content: bytes) -> list[Any]:
    """The scanned images of a (cleaned) PDF, each checked for size before decoding."""
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject

    images: list[Any] = []
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        for page in reader.pages:
            resources = page.get("/Resources")
            resources = resources.get_object() if resources is not None else None
            xobjects = (
                resources.get("/XObject") if isinstance(resources, DictionaryObject) else None
            )
            xobjects = xobjects.get_object() if xobjects is not None else None
            if not isinstance(xobjects, DictionaryObject):
                continue
            for ref in xobjects.values():
                xobj = ref.get_object()
                if xobj.get("/Subtype") != "/Image":
                    continue
                width, height = int(xobj.get("/Width", 0)), int(xobj.get("/Height", 0))
                if width <= 0 or height <= 0:
                    raise UploadRefused("broken")
                if width * height > MAX_PIXELS:
                    raise UploadRefused("too_many_pixels")
            for found in page.images:
                image = found.image
                if image is None:
                    continue
                if image.width * image.height > MAX_PIXELS:
                    raise UploadRefused("too_many_pixels")
                images.append(image)
    except UploadRefused:
        raise
    except _pdf_errors() + _image_errors():
        raise UploadRefused("broken") from None
    if not images:
        raise UploadRefused("pdf_no_image")
    return images


# --- showing and serving --------------------------------------------------------------

PREVIEW_WIDTH = 1200


def render_preview(content: bytes, mimetype: str, *, caption: str = "") -> bytes:
    """A new PNG drawn on the server from the file's pixels, with a caption band.

    What the privacy officer sees of an ID copy: never the uploaded bytes, and at most
    PREVIEW_WIDTH pixels wide, so nothing of the original file's structure reaches a
    browser.
    """
    from PIL import Image, ImageDraw

    try:
        if mimetype == PDF:
            pages = _pdf_pages_as_images(content)
        elif mimetype in (PNG, JPEG):
            with _open_image(content) as image:
                image.load()
                pages = [_pixels(image)]
        else:
            raise UploadRefused("type")
        scaled = []
        for page in pages:
            page = page.convert("RGB")
            if page.width > PREVIEW_WIDTH:
                height = max(1, round(page.height * PREVIEW_WIDTH / page.width))
                page = page.resize((PREVIEW_WIDTH, height))
            scaled.append(page)
        band = 28 if caption else 0
        width = max(p.width for p in scaled)
        height = sum(p.height for p in scaled) + band
        if width * height > MAX_PIXELS:
            raise UploadRefused("too_many_pixels")
        sheet = Image.new("RGB", (width, height), "white")
        y = band
        for page in scaled:
            sheet.paste(page, (0, y))
            y += page.height
        if caption:
            ImageDraw.Draw(sheet).text((8, 8), caption, fill="black")
        return _encode(sheet, "PNG")
    except UploadRefused:
        raise
    except Image.DecompressionBombError:
        raise UploadRefused("too_many_pixels") from None
    except _image_errors():
        raise UploadRefused("broken") from None


_EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", XML: "xml", ZIP: "zip", TEXT: "txt"}


def extension(mimetype: str) -> str:
    """The file name extension kluis gives a stored file of this kind."""
    return _EXTENSIONS.get(mimetype, "bin")


def attachment_response(content: bytes, *, mimetype: str, filename: str) -> HttpResponse:
    """A stored file as a download that no browser runs or sniffs as something else."""
    stem = "".join(c for c in filename if c.isalnum() or c in "-_") or "bestand"
    name = f"{stem}.{extension(mimetype)}"
    content_type = f"{mimetype}; charset=utf-8" if mimetype == TEXT else mimetype
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
