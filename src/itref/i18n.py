"""The one translation function every user-facing string goes through.

``_("text")`` returns the text in the user's language and ``ngettext(singular, plural, n)``
picks the plural form. Catalogues live in ``itref/locale/<lang>/LC_MESSAGES/itref.mo``; until
a language has a catalogue, the English source text is shown. The language follows
``ITREF_LANG``, then the usual ``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG``.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "itref"
LOCALE_DIR = Path(__file__).with_name("locale")

_translation: gettext.NullTranslations | None = None


def _languages() -> list[str] | None:
    """Return the languages asked for by ``ITREF_LANG``, or None to let gettext read the environment."""
    forced = os.environ.get("ITREF_LANG")
    return [forced] if forced else None


def set_language(lang: str | None) -> None:
    """Switch the language for the rest of the process (``None`` goes back to the environment)."""
    global _translation
    if lang:
        os.environ["ITREF_LANG"] = lang
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=_languages(), fallback=True)


def _get() -> gettext.NullTranslations:
    if _translation is None:
        set_language(None)
    assert _translation is not None
    return _translation


def _(message: str) -> str:
    """Return ``message`` translated into the current language (the source text when untranslated)."""
    return _get().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Return the singular or plural form for ``n``, translated into the current language."""
    return _get().ngettext(singular, plural, n)
