"""Cleaning and tokenizing review text, one function for every text source.

The rules, in order:

1. HTML line-break tags (``<br />``, ``<br/>``, ``<BR>`` and other spellings)
   become a space, so the words on either side stay apart.
2. Every other tag (``<i>``, ``</i>``, ``<p class="x">``) is removed.
3. HTML entities are decoded (``&amp;`` to ``&``, ``&#39;`` to ``'``).
4. The text is lower-cased.
5. Tokens are runs of letters and digits, with inner apostrophes kept
   (``don't`` is one token) and all other punctuation dropped.
"""

from __future__ import annotations

import html
import re

_LINE_BREAK_TAG = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^<>]*>")
# [^\W_] is a letter or digit in any script; apostrophes join parts of one word.
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def clean_text(text: str) -> str:
    """Return ``text`` with tags replaced or removed, entities decoded and lower-cased."""
    text = _LINE_BREAK_TAG.sub(" ", text)
    text = _ANY_TAG.sub("", text)
    text = html.unescape(text)
    return text.lower()


def tokenize(text: str) -> list[str]:
    """Split a review into word tokens after cleaning it with :func:`clean_text`."""
    return [token.replace("’", "'") for token in _TOKEN.findall(clean_text(text))]
