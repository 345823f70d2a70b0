"""The languages: every reason code has a worker message to translate, every catalogue is
complete and compiled, and a new language is only a catalogue."""

from __future__ import annotations

import gettext
import os
import shutil

from babel.messages.pofile import read_po

from server.core.reasons import REASONS
from server.web import i18n


def test_every_reason_code_has_a_translatable_message():
    assert set(REASONS) <= set(i18n.REASON_TEXT)
    # the English msgids are the core's own worker messages
    for code, (message, _when) in REASONS.items():
        assert str(i18n.REASON_TEXT[code]._args[0]) == message, code


def test_catalogues_complete_and_compiled():
    for lang in i18n.languages()[1:]:
        po_path = i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        untranslated = [m.id for m in catalog if m.id and not m.string]
        assert not untranslated, (lang, untranslated[:10])
        with po_path.with_suffix(".mo").open("rb") as f:
            compiled = gettext.GNUTranslations(f)
        for m in catalog:
            if m.id and isinstance(m.id, str):
                assert compiled.gettext(m.id) == m.string, (lang, m.id)


def test_a_new_language_is_only_a_catalogue(tmp_path, monkeypatch):
    folder = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, folder)
    (folder / "vi" / "LC_MESSAGES").mkdir(parents=True)
    po = (folder / "id" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    (folder / "vi" / "LC_MESSAGES" / "messages.po").write_text(
        po.replace("Language: id", "Language: vi"), encoding="utf-8"
    )
    monkeypatch.setattr(i18n, "TRANSLATIONS", folder)
    assert i18n.languages() == ["en", "id", "vi"]
    written = i18n.compile_catalogues(folder)
    assert folder / "vi" / "LC_MESSAGES" / "messages.mo" in written
    assert i18n.language_name("vi") == "Tiếng việt"


def test_a_current_catalogue_with_an_older_time_is_not_rewritten(tmp_path):
    """A fresh clone gives the .po a later time than the committed .mo: a read-only install
    must neither rewrite nor warn about a catalogue that says the same."""
    folder = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, folder)
    i18n.compile_catalogues(folder)  # the committed .mo may lag the .po in a work tree
    mo = folder / "id" / "LC_MESSAGES" / "messages.mo"
    po = mo.with_suffix(".po")
    os.utime(mo, (1_000_000, 1_000_000))
    assert i18n.compile_catalogues(folder) == []
    po.write_text(po.read_text(encoding="utf-8") + '\nmsgid "zz-new"\nmsgstr "zz-baru"\n')
    os.utime(mo, (1_000_000, 1_000_000))
    assert i18n.compile_catalogues(folder) == [mo]


def test_the_committed_catalogues_are_compiled_from_their_po():
    """A .mo newer than its .po is trusted at start (compile_catalogues skips it), so a
    merge that changes the .po must commit the .mo compiled from it."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in sorted(i18n.TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        assert po_path.with_suffix(".mo").read_bytes() == compiled.getvalue(), po_path
