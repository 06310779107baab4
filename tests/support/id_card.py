"""Images of identity documents with known text, for the OCR tests: drawn with Pillow in
its bundled font, large and black on white, as a phone photo of a card reads at best."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont


def identity_card(lines: list[str], image_format: str = "PNG", dpi: float | None = None) -> bytes:
    """A card bearing `lines`, one under the other, as PNG, JPEG or PDF bytes. `dpi` is the
    resolution recorded in the file (a PDF's page size follows from it: at 300 the page is
    card-sized, at Pillow's default of 72 it is 15 inches wide)."""
    font = ImageFont.load_default(size=36)
    card = Image.new("RGB", (1100, 80 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(card)
    for number, line in enumerate(lines):
        draw.text((40, 40 + 70 * number), line, fill="black", font=font)
    out = io.BytesIO()
    if dpi is None:
        card.save(out, format=image_format)
    elif image_format.upper() == "PDF":
        card.save(out, format=image_format, resolution=dpi)
    else:
        card.save(out, format=image_format, dpi=(dpi, dpi))
    return out.getvalue()


def kenyan_card(national_id: str, first_names: str, surname: str, born: str) -> list[str]:
    """The lines of a Kenyan national identity card; `born` as printed (`30.04.1988`)."""
    return [
        "REPUBLIC OF KENYA",
        "NATIONAL IDENTITY CARD",
        f"ID NUMBER: {national_id}",
        f"SURNAME: {surname}",
        f"GIVEN NAMES: {first_names}",
        f"DATE OF BIRTH: {born}",
    ]
