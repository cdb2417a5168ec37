"""Bearer tokens: who may call the server, and which operations.

The ``--tokens`` file has one token a line (blank lines and ``#`` comments
skipped)::

    TOKEN [SCOPE ...] [id=NAME]

TOKEN is the token itself or ``sha256:HEX``, the SHA-256 of the token in
hexadecimal (so the file need not hold the secret).  SCOPEs are ``submit``
(``POST /Claim/$submit``), ``inquire`` (``POST /Claim/$inquire``) and ``read``
(``GET /ClaimResponse/{id}`` and ``GET /Questionnaire/{policy}``); none means
all three.  NAME is what the decision log and the server's own log record of
the caller; without it, ``sha256:`` and the first 8 hex digits of the token's
hash.  Tokens are held only as hashes and compared with
``hmac.compare_digest``; no token ever reaches a log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from engine.deciding.errors import UserError

SCOPES = ("submit", "inquire", "read")
_HEX = re.compile(r"sha256:([0-9a-fA-F]{64})")
_NAME = re.compile(r"id=([A-Za-z0-9._@-]{1,64})")


@dataclass(frozen=True)
class Token:
    digest: bytes  # SHA-256 of the token
    scopes: frozenset[str]
    id: str


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def read_tokens(path: str) -> tuple[Token, ...]:
    """The tokens of a ``--tokens`` file; a line that is not one is an error naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--tokens {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    tokens: list[Token] = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        secret, rest = fields[0], fields[1:]
        where = f"--tokens {path}:{number}"
        if secret.startswith("sha256:"):
            match = _HEX.fullmatch(secret)
            if match is None:
                raise UserError(f"{where}: 'sha256:' is followed by the 64 hex digits of the token's SHA-256")
            hashed = bytes.fromhex(match.group(1))
        else:
            if len(secret) < 16:
                raise UserError(f"{where}: a token of fewer than 16 characters is too easily guessed: use a longer one")
            hashed = digest(secret)
        scopes, name = set(), None
        for word in rest:
            if word.startswith("#"):
                break
            if (m := _NAME.fullmatch(word)) is not None:
                name = m.group(1)
            elif word in SCOPES:
                scopes.add(word)
            else:
                raise UserError(f"{where}: '{word}' is neither a scope ({', '.join(SCOPES)}) nor id=NAME "
                                "(letters, digits, . _ @ -)")
        tokens.append(Token(hashed, frozenset(scopes or SCOPES), name or f"sha256:{hashed.hex()[:8]}"))
    if not tokens:
        raise UserError(f"--tokens {path}: no token in it: write one token a line")
    return tuple(tokens)


def find(tokens: tuple[Token, ...], header: str | None) -> Token | None:
    """The token an ``Authorization: Bearer ...`` header carries, if it is one of ``tokens``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    given = digest(value.strip())
    found = None
    for token in tokens:  # every token compared, so the time says nothing of which one matched
        if hmac.compare_digest(token.digest, given):
            found = token
    return found
