"""The label value: what to encode and what to print beside it.

This module owns :class:`Label` and its validation, and the :func:`gs1_label` helper that
builds a GS1-128 label from a GTIN, a lot, a serial and an expiry date. It knows nothing
of how a label is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from labels import gs1

SYMBOLOGIES = ("code128", "gs1-128", "qr", "datamatrix")
# Longest plain Code 128 / 2-D code accepted: beyond this no label template holds it.
MAX_CODE_CHARS = 60


def _printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


@dataclass(frozen=True)
class Label:
    """One label.

    ``code`` is exactly what a scanner must read back: an item code such as
    ``K7M2QX4R9``, a command such as ``CMD-OP-0042``, or for ``gs1-128`` the element
    string in its parenthesised form, e.g. ``(01)09506000134352(10)LOT42``.
    ``human`` is the text printed under the symbol; it defaults to ``code``.
    """

    code: str
    symbology: str = "code128"
    title: str = ""
    lines: tuple[str, ...] = ()
    stage: str = ""
    human: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise ValueError("a label needs a non-empty code")
        if self.symbology not in SYMBOLOGIES:
            raise ValueError(f"symbology {self.symbology!r} is not one of {', '.join(SYMBOLOGIES)}")
        if isinstance(self.lines, str | list):
            # A bare string would be split into characters; a list is not hashable.
            lines = (self.lines,) if isinstance(self.lines, str) else tuple(self.lines)
            object.__setattr__(self, "lines", lines)
        if self.symbology == "gs1-128":
            gs1.parse_hri(self.code)
            return
        if not _printable_ascii(self.code):
            raise ValueError(
                f"code {self.code!r} may hold only printable ASCII characters (space to ~)"
            )
        if len(self.code) > MAX_CODE_CHARS:
            raise ValueError(f"code {self.code!r} is longer than {MAX_CODE_CHARS} characters")

    @property
    def text(self) -> str:
        """The human-readable code printed on the label."""
        return self.code if self.human is None else self.human

    @property
    def info(self) -> tuple[str, ...]:
        """The small print: the label's lines, then the stage it was printed for."""
        rows = tuple(line for line in self.lines if line)
        return rows + ((f"Stage: {self.stage}",) if self.stage else ())


def gs1_label(
    gtin: str,
    lot: str | None = None,
    serial: str | None = None,
    expiry: date | str | None = None,
    **kw,
) -> Label:
    """Build a GS1-128 label: AI (01) GTIN, (17) expiry if given, then (10) lot and/or
    (21) serial last since they have variable length.

    ``expiry`` is a :class:`datetime.date` or a ``YYMMDD`` string. Raises ValueError
    with the reason when the GTIN check digit or any element is wrong. Other keyword
    arguments (``title``, ``lines``, ``stage``, ``human``) go to :class:`Label`.
    """
    elements = [gs1.Element("01", gs1.normalize_gtin(gtin))]
    if expiry is not None:
        text = expiry.strftime("%y%m%d") if isinstance(expiry, date) else str(expiry)
        elements.append(gs1.Element("17", text))
    if lot is not None:
        elements.append(gs1.Element("10", str(lot)))
    if serial is not None:
        elements.append(gs1.Element("21", str(serial)))
    return Label(code=gs1.hri(elements), symbology="gs1-128", **kw)
