"""Patrons' languages: the translation files, choosing a language, serving the texts.

Used by every adapter that words something for a patron (the widget, email, the desk's
card); it imports only the standard library, so any adapter may use it.
"""

from adapters.i18n.catalog import REFERENCE, TEXTS_DIR, Catalog, Language, TextsError
from adapters.i18n.choose import normal_tag, pick_language, primary_language

__all__ = ["REFERENCE", "TEXTS_DIR", "Catalog", "Language", "TextsError", "normal_tag",
           "pick_language", "primary_language"]
