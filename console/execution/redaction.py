"""Secret redaction for every line the console logs, shows or exports.

Two kinds of secret are removed: values we know (every configured ``*_env`` variable that
is set, the standard AWS secret variables, anything a step registers at run time such as a
password typed into a form) and shapes we recognise without knowing the value (AWS access
key ids, the value after ``aws_secret_access_key``, the password part of ``scheme://user:
pass@host``, ``Bearer`` tokens, Slack and other webhook URLs). The executor runs every
string through one :class:`Redactor` before it reaches the log, the screen or stdout, so a
secret that leaks into a command's output is caught at the one place output passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

# (pattern, replacement): each keeps enough context for the operator to see what was hidden.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # AWS access key ids (long-term AKIA, temporary ASIA, and the other documented prefixes)
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), "AKIA" + MASK),
    # aws_secret_access_key = xxx / "SecretAccessKey": "xxx" / AWS_SECRET_ACCESS_KEY=xxx
    (re.compile(r"(?i)(aws_secret_access_key|secretaccesskey|aws_session_token|sessiontoken)"
                r"""(["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{8,}"""), r"\1\2" + MASK),
    # Slack, Discord and generic webhook URLs: the path is the secret
    (re.compile(r"https://hooks\.slack\.com/[^\s\"'<>]+"), "https://hooks.slack.com/" + MASK),
    (re.compile(r"https://(?:discord(?:app)?\.com|[\w.-]+)/api/webhooks/[^\s\"'<>]+"),
     "https://<webhook>/" + MASK),
    (re.compile(r"(https?://[^\s\"'<>/]+/[^\s\"'<>]*?(?:webhook|hooks)/)[^\s\"'<>]+", re.I),
     r"\1" + MASK),
    # database and broker URLs: the password may hold '/' or '@' (clients accept both), so
    # it runs to the last '@' of the URL; over-masking a path there is the safe mistake
    (re.compile(r"((?:postgres(?:ql)?|rediss?|mysql|mariadb|mongodb(?:\+srv)?|amqps?)"
                r"://[^/\s:@\"']*:)[^\s\"']+(@)", re.I), r"\1" + MASK + r"\2"),
    # ?password=... / &sslpassword=... in a URL's query, however short
    (re.compile(r"(?i)([?&](?:ssl)?password=)[^&#\s\"']+"), r"\1" + MASK),
    # scheme://user:password@host  (postgresql, redis, amqp, http basic auth...)
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']*:)[^@\s/\"']+(@)"), r"\1" + MASK + r"\2"),
    # Authorization: Bearer xxx / Basic xxx, and bare "Bearer xxx"
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + MASK),
    # password=xxx / "password": "xxx" / PGPASSWORD=xxx in key=value output. Only the value
    # on the key's own line: a YAML key whose value is a block below it (``secretKeyRef:``
    # then ``name: ...``) is structure. Nor are a value that opens a mapping or list
    # (``secretKeyRef: {name: ...}``), a key that names an env variable (``*_env``) or
    # refers to a Secret by name (``secretName``, ``secretKeyRef``, ``secretRef``,
    # ``existingSecret``): those name where a secret lives, not the secret
    (re.compile(r"""(?i)\b([a-z_]*(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token"""
                r"""|api[_-]?token)[a-z_]*)"""
                r"""(?<!_env)(?<!name)(?<!ref)(?<!refs)(?<!existingsecret)"""
                r"""(["']?[ \t]*[:=][ \t]*["']?)"""
                r"""(?!\*\*\*)(?![{\[])[^\s"',;&]{4,}"""), r"\1\2" + MASK),
)


# every pattern above needs one of these in the text; one search skips the rest for the
# (vast) majority of output lines, which contain none of them. Searched in the lower-cased
# text without IGNORECASE: Python's case-insensitive alternation tries every word at every
# position (65 us for a 150-byte log line, against 4 us this way: a followed log runs
# every line through here)
TRIGGER = re.compile("|".join(re.escape(word) for word in (
    "akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa", "secret", "session",
    "token", "hook", "://", "bearer", "basic", "passw", "api_key", "api-key", "apikey", "auth")))
CACHE_LIMIT = 4096


class Redactor:
    """Masks known secret values and secret-looking patterns in text and in nested data."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._short: dict[str, str] = {}  # memo for short strings (keys, stream names)
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        """Register more values to hide (e.g. a password typed into a wizard form)."""
        new = {v for v in values if v and len(v) >= 4} - self._secrets
        if not new:
            return
        self._secrets |= new
        self._short.clear()
        # longest first, so a secret containing another is masked whole
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        short = len(value) <= 40
        if short and value in self._short:
            return self._short[value]
        original = value
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        if TRIGGER.search(value.lower()):
            for pattern, replacement in PATTERNS:
                value = pattern.sub(replacement, value)
        if short and len(self._short) < CACHE_LIMIT:
            self._short[original] = value
        return value

    def data(self, value: Any) -> Any:
        """Redact every string inside dicts, lists and tuples (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def redactor_for(config: Any, environ: Mapping[str, str] | None = None) -> Redactor:
    """A redactor loaded with every secret the configuration points at."""
    from console.config import secret_values

    return Redactor(secret_values(config, environ))
