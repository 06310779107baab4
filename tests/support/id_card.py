"""Images of identity documents with known text, for the OCR tests: drawn with Pillow in
its bundled font, large and black on white, as a phone photo of a card reads at best."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont


def identity_card(lines: list[str], image_format: str = "PNG") -> bytes:
    """A card bearing `lines`, one under the other, as PNG, JPEG or PDF bytes."""
    font = ImageFont.load_default(size=36)
    card = Image.new("RGB", (1100, 80 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(card)
    for number, line in enumerate(lines):
        draw.text((40, 40 + 70 * number), line, fill="black", font=font)
    out = io.BytesIO()
    card.save(out, format=image_format)
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
