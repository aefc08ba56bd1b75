"""Finding a password written into a connection URL, so the config can refuse it.

A password belongs in the variable named by ``password_env``; one typed into the file ends
up in backups of the file, in screenshots of ``config validate`` and in the session log.
A regular expression over the URL misses two common spellings, so the URL is read the way
the clients read it instead:

- userinfo, ``scheme://user:secret@host``, including a secret that holds ``/`` or ``@``
  (``urllib.parse`` alone would take ``user:pa/ss@host`` for a host ``user`` with port
  ``pa`` and the rest for a path, and see no password at all);
- the query string, ``?password=secret`` or ``?sslpassword=secret``, which libpq, asyncpg
  and redis-py all honour.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

PASSWORD_PARAMETERS = frozenset({"password", "sslpassword"})


def _authority_part(url: str) -> str:
    """What follows ``scheme://`` up to the query or fragment."""
    rest = url.split("://", 1)[1] if "://" in url else url
    for mark in ("?", "#"):
        rest = rest.split(mark, 1)[0]
    return rest


def inline_password(url: str) -> str | None:
    """Where ``url`` holds a password ("user information", "query parameter password"),
    or None when it holds none."""
    head = _authority_part(url)
    if "@" in head:
        # up to the first '@': a password may itself hold '@' or '/', a user name not
        userinfo = head.split("@", 1)[0]
        _user, colon, secret = userinfo.partition(":")
        if colon and secret:
            return "user information"
    try:
        query = urlsplit(url).query
    except ValueError:  # a malformed URL: the scheme check reports it
        return None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in PASSWORD_PARAMETERS and value:
            return f"query parameter {key}"
    return None
