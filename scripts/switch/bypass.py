"""The secret bypass link, for every switch (proxies and edge): the token, its one form, the
link and the cookie it sets, and where a proxy's state directory keeps it.

`switch on --secret` makes a new token; its holder gets the cookie from the link
``BYPASS_PATH + token`` and uses the site while the switch is on (docs/switch.md#bypass-link).
``proxies/behaviour.py`` states this for the proxy recipes (it re-exports these names); the
front door's functions do the same with the hash the edge's store keeps (switch/edge.py).

In a proxy's state directory the token is the name of the one empty file in ``bypass/``, a
directory of mode 0711: the proxy's worker (www-data) can test for ``bypass/<token>`` by name,
but nobody but its owner can list the directory to learn the name. HAProxy, which cannot test a
file per request, keeps the token's SHA-256 in its map instead (switch/proxy.py).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import stat

from ..template.names import RESERVED_PREFIX
from .statedir import SafeDir

BYPASS_PATH = f"/{RESERVED_PREFIX}/bypass/"
BYPASS_COOKIE = "maintenance_bypass"
BYPASS_STATUS = 303
BYPASS_LOCATION = "/"
# 32 random bytes (256 bits) as URL-safe base64 without padding: 43 characters.
TOKEN_BYTES = 32
# The one form of a token (the functions' TOKEN_FORM): checked before a cookie or link value
# touches a file name, a map or a hash.
TOKEN_FORM = "[A-Za-z0-9_-]{43}"
# What the edge's store and HAProxy's map keep of a token: its SHA-256, in lowercase hex.
HASH_FORM = "[0-9a-f]{64}"
# A proxy knows no window end: its cookie lasts 24 h (the edge: until the window ends, at most
# 24 h). `switch off` revokes the token, whatever the cookie's age.
BYPASS_MAX_AGE = 86400

# In a proxy's state directory.
DIRECTORY = "bypass"
DIRECTORY_MODE = 0o711


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the edge's store and HAProxy's map keep of a token: its SHA-256, lowercase hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_token(value: str) -> bool:
    return re.fullmatch(TOKEN_FORM, value) is not None


def bypass_cookie_parts(max_age: int = BYPASS_MAX_AGE) -> tuple[str, str]:
    """The Set-Cookie value of the bypass link's answer before and after the token: for a
    recipe that puts the link's token in at request time."""
    return f"{BYPASS_COOKIE}=", f"; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}"


def bypass_cookie(token: str, max_age: int = BYPASS_MAX_AGE) -> str:
    """The Set-Cookie value of the bypass link's answer."""
    assert is_token(token), "a token of the one form"
    before, after = bypass_cookie_parts(max_age)
    return before + token + after


def set_token(d: SafeDir, token: str | None) -> None:
    """Make ``token`` the state directory's only bypass token (None: no token, every link
    revoked). Whatever else is in ``bypass/`` goes: nothing there is anyone else's."""
    if token is None and d.entry(DIRECTORY) is None:
        return
    with d.subdir(DIRECTORY, DIRECTORY_MODE) as tokens:
        for name in tokens.names():
            st = tokens.entry(name)
            # A directory never counts as a token (the proxies test for a regular file): left be.
            if name != token and st is not None and not stat.S_ISDIR(st.st_mode):
                tokens.remove(name)
        if token is not None:
            assert is_token(token)
            tokens.write(token, b"")


def current_token(d: SafeDir) -> str | None:
    """The state directory's bypass token (a regular file of the token's form in ``bypass/``),
    or None. For HAProxy's map and for `status` (which says only whether there is one)."""
    st = d.entry(DIRECTORY)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return None
    with d.subdir(DIRECTORY, None) as tokens:
        for name in sorted(tokens.names()):
            entry = tokens.entry(name)
            if is_token(name) and entry is not None and stat.S_ISREG(entry.st_mode):
                return name
    return None
