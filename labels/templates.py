"""Label stock geometry: sheets of labels and single thermal labels.

This module owns :data:`TEMPLATES`, the page size, grid and label size of every stock
the renderers know, in millimetres measured from the top-left corner of the page.
Sheet figures are those of the common Avery sizes named in each description.
"""

from __future__ import annotations

from dataclasses import dataclass

INCH = 25.4


@dataclass(frozen=True)
class Template:
    """One label stock. All lengths in millimetres; ``left``/``top`` locate the first
    label, ``pitch_x``/``pitch_y`` the distance from one label to the next."""

    name: str
    description: str
    page_width: float
    page_height: float
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float = 0.0
    top: float = 0.0
    pitch_x: float = 0.0
    pitch_y: float = 0.0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def thermal(self) -> bool:
        """A single label per page, as a roll printer feeds it."""
        return self.per_page == 1

    def origin(self, slot: int) -> tuple[float, float]:
        """Top-left corner of the label in ``slot`` (0-based, row by row)."""
        row, column = divmod(slot, self.columns)
        return self.left + column * self.pitch_x, self.top + row * self.pitch_y


def _thermal(name: str, width_in: float, height_in: float, description: str) -> Template:
    w, h = width_in * INCH, height_in * INCH
    return Template(name, description, w, h, 1, 1, w, h)


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "a4-3x8", "A4, 24 labels 63.5 × 33.9 mm (Avery L7159)",
            210, 297, 3, 8, 63.5, 33.9, 6.4, 12.9, 66.0, 33.9,
        ),
        Template(
            "a4-3x7", "A4, 21 labels 63.5 × 38.1 mm (Avery L7160)",
            210, 297, 3, 7, 63.5, 38.1, 7.2, 15.15, 66.0, 38.1,
        ),
        Template(
            "a4-2x7", "A4, 14 labels 99.1 × 38.1 mm (Avery L7163)",
            210, 297, 2, 7, 99.1, 38.1, 4.65, 15.15, 101.6, 38.1,
        ),
        Template(
            "letter-3x10", "US Letter, 30 labels 2.625 × 1 in (Avery 5160)",
            8.5 * INCH, 11 * INCH, 3, 10, 2.625 * INCH, 1 * INCH,
            0.1875 * INCH, 0.5 * INCH, 2.75 * INCH, 1 * INCH,
        ),
        Template(
            "letter-2x5", "US Letter, 10 labels 4 × 2 in (Avery 5163)",
            8.5 * INCH, 11 * INCH, 2, 5, 4 * INCH, 2 * INCH,
            0.15625 * INCH, 0.5 * INCH, 4.1875 * INCH, 2 * INCH,
        ),
        _thermal("thermal-4x6", 4, 6, "Thermal roll, one 4 × 6 in label per page"),
        _thermal("thermal-2x1", 2, 1, "Thermal roll, one 2 × 1 in label per page"),
    )
}  # fmt: skip


def get_template(name: str) -> Template:
    """Return the template called ``name`` or raise ValueError listing the known ones."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValueError(
            f"unknown template {name!r}; choose one of {', '.join(TEMPLATES)}"
        ) from None
