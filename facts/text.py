"""What a string from a case may hold.

Control characters other than tab and newline, and halves of surrogate pairs,
are refused in every string of a case: clingo cuts a string at a NUL, a
terminal obeys an escape, and neither is anything a record means to say.
The case-file reader checks the text as it reads it (with the line); the case
model checks again, so a record built another way (a FHIR bundle) is held
to the same rule.
"""

from __future__ import annotations

import re

HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character(text: str) -> str | None:
    """Why ``text`` is refused, or None."""
    found = HIDDEN.search(text)
    if found is None:
        return None
    ch = found.group()
    what = "half of a surrogate pair, not a character" if "\ud800" <= ch <= "\udfff" else "a control character"
    return f"U+{ord(ch):04X} ({what}) is not allowed in text: remove it"
