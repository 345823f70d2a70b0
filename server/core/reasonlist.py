"""The plant's reason list: why something was scrapped, held, released, reworked, returned or
adjusted.

These are data a plant edits (`Reason` rows: code, English and Indonesian text, the uses
each applies to), given by a worker with a reason label `CMD-WHY-<code>` or by a scan's
`"reason"`. They are not the *rejection* reason codes of `server/core/reasons.py`, which
are the stable codes of the answer when a scan is refused (two of those, `unknown_reason`
and `reason_not_applicable`, are raised here).

A new database (an empty reason table) gets `DEFAULTS` (see `seed_defaults`); after that
the list is the plant's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from server.core.errors import Rejected
from server.models import Reason

#: what a reason may be given for
USES = ("scrap", "hold", "release", "rework", "return", "adjust", "downtime")

#: a reason code as printed on a label: `CMD-WHY-<code>`
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9_]{0,31}$"
_CODE_RE = re.compile(CODE_PATTERN)

#: the reasons to rework a new database starts with; migration 0006 adds them to a list
#: that had none (a rework needs a reason since then)
REWORK_DEFAULTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("ASSEMBLY", "Assembly error", "Kesalahan perakitan", ("hold", "rework")),
    ("REPAIR", "Repairable defect", "Cacat yang dapat diperbaiki", ("rework",)),
)

#: the list a new database starts with: (code, English, Bahasa Indonesia, uses). Codes are
#: kept short: `CMD-WHY-<code>` up to 19 characters reads at 200 dpi on the A4 sheet
#: (tests/test_labels_api.py), a longer one needs a wider label
DEFAULTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("DAMAGED", "Damaged", "Rusak", ("scrap", "hold", "return")),
    ("DIMENSION", "Out of dimension", "Dimensi tidak sesuai", ("scrap", "hold", "rework")),
    ("SURFACE", "Surface defect", "Cacat permukaan", ("scrap", "hold", "rework")),
    ("MATERIAL", "Material defect", "Cacat material", ("scrap", "hold", "return")),
    ("SETUP", "Setup scrap", "Buangan penyetelan", ("scrap",)),
    ("DIRTY", "Contaminated", "Terkontaminasi", ("scrap", "hold")),
    ("EXPIRED", "Expired", "Kedaluwarsa", ("scrap", "hold")),
    *REWORK_DEFAULTS,
    ("QC_CHECK", "Quality check pending", "Menunggu pemeriksaan mutu", ("hold",)),
    ("QC_OK", "Checked and good", "Diperiksa dan baik", ("release",)),
    ("REWORKED", "Reworked and good", "Sudah dikerjakan ulang dan baik", ("release",)),
    ("UNUSED", "Not used", "Tidak terpakai", ("return",)),
    ("WRONG_PART", "Wrong part", "Komponen salah", ("return", "hold")),
    ("COUNT", "Count correction", "Koreksi hitungan", ("adjust",)),
    ("BREAKDOWN", "Machine breakdown", "Mesin rusak", ("downtime",)),
    ("NO_MATERIAL", "Waiting for material", "Menunggu material", ("downtime",)),
)


def normal_code(code: str) -> str:
    """A code as stored: upper case, surrounding blanks dropped (labels are scanned in
    whatever case a scanner sends)."""
    return code.strip().upper()


def valid_code(code: str) -> bool:
    return bool(_CODE_RE.match(code))


def in_order(uses) -> list[str]:
    """`uses` in USES order, each once: the stored list reads the same however it was sent."""
    return [u for u in USES if u in uses]


def seed_defaults(defaults=DEFAULTS) -> int:
    """Insert `defaults` (called while the reason table is empty), leaving a code already
    there as it is; returns how many were offered."""
    rows = [
        {"code": code, "text_en": en, "text_id": id_, "applies_to": in_order(uses)}
        for code, en, id_, uses in defaults
    ]
    Reason.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)


def lookup(code: str) -> Reason | None:
    """The reason of `code` (any case), active or not."""
    return Reason.get_or_none(Reason.code == normal_code(code))


def check_reason(
    code: str, use: str | None, find: Callable[[str], Reason | None] = lookup
) -> Reason:
    """The active reason `code`, which must apply to `use` (one of USES; None: any use;
    any other action, e.g. move, takes no reason).

    Raises Rejected `unknown_reason` (no such code, or deactivated) or
    `reason_not_applicable`. `find` looks a normalised code up (the scan path passes its
    batch cache)."""
    norm = normal_code(code)
    reason = find(norm) if valid_code(norm) else None
    if reason is None or not reason.active:
        raise Rejected("unknown_reason", f"Reason {code!r} is not on the reason list")
    if use is not None and use not in (reason.applies_to or []):
        why = (
            f"Reason {reason.code} is not a reason to {use}"
            if use in USES
            else f"A {use} scan takes no reason ({reason.code} given)"
        )
        raise Rejected("reason_not_applicable", why, reason=reason.code, use=use)
    return reason


def text(reason: Reason, language: str | None) -> str:
    """The reason's text in `language` (Indonesian when asked and written, else English)."""
    if language and language.startswith("id") and reason.text_id:
        return reason.text_id
    return reason.text_en
