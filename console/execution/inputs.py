"""Typed wizard inputs: parse, validate, and a default from the config or the live state.

An input turns the operator's text (a form field or ``--set key=value``) into a value or a
clear :class:`InputError`, before anything runs. Each input may have a default — a constant,
a function of the environment's config, or an async function of the live state (current
replica count, the newest backup) — so that a wizard runs with no answers at all in the
sandbox. Bounds may depend on the config too (``max_replicas``). Secret inputs are never
logged or stored; they are asked again on resume.
"""

from __future__ import annotations

import inspect
import ipaddress
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .context import StepContext

K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# registry[:port]/path[:tag][@sha256:digest] — the shape docker/distribution accepts
IMAGE_REF = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$",
    re.ASCII,  # a tag's \w is [A-Za-z0-9_], as for docker: 'nginx:é' is no reference
)
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INTEGER = re.compile(r"^[+-]?[0-9]+$")  # ASCII digits: int() also reads '١٢' and '1_000'
SQL_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
SQL_RESERVED = frozenset(
    "all analyse analyze and any array as asc asymmetric both case cast check collate column "
    "constraint create current_catalog current_date current_role current_time "
    "current_timestamp current_user default deferrable desc distinct do else end except "
    "false fetch for foreign from grant group having in initially intersect into lateral "
    "leading limit localtime localtimestamp not null offset on only or order placing "
    "primary references returning select session_user some symmetric table then to "
    "trailing true union unique user using variadic when where window with drop delete "
    "insert update truncate alter".split()
)

T = TypeVar("T")
# a value, or a function of the step context returning one (or awaiting to one)
Default = Any
Bound = int | Callable[["StepContext"], int] | Callable[["StepContext"], Awaitable[int]] | None


def has_control(text: str) -> bool:
    """C0 and C1 controls (ESC, DEL, the 8-bit CSI) and bidi overrides: never in an answer."""
    return any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in text)


class InputError(ValueError):
    """An answer that cannot be used; the message says what would be accepted."""


async def _call(value: Any, ctx: StepContext) -> Any:
    if callable(value):
        value = value(ctx)
    if inspect.isawaitable(value):
        value = await value
    return value


@dataclass(frozen=True)
class Input:
    """Free text; the base of every input kind."""

    name: str
    label: str
    help: str = ""
    default: Default = None
    required: bool = True
    secret: bool = False
    max_length: int = 500
    kind: str = field(default="text", init=False)

    async def default_value(self, ctx: StepContext) -> Any:
        """The default for this environment (may look at the live state)."""
        return await _call(self.default, ctx)

    async def options(self, ctx: StepContext) -> list[str] | None:
        """Choices to offer, when the input has a closed set."""
        return None

    async def parse(self, raw: str | None, ctx: StepContext) -> Any:
        """Text to value; empty text means "no value" (an error when required)."""
        text = (raw or "").strip()
        if not text:
            if self.required:
                raise InputError("a value is required")
            return None
        if len(text) > self.max_length:
            raise InputError(f"at most {self.max_length} characters")
        return await self.convert(text, ctx)

    async def convert(self, text: str, ctx: StepContext) -> Any:
        if has_control(text):
            raise InputError("control characters are not allowed")
        return text

    def show(self, value: Any) -> str:
        """The value as the log and the screen show it (secrets masked)."""
        if value is None:
            return ""
        return "***" if self.secret else str(value)


@dataclass(frozen=True)
class IntInput(Input):
    """An integer in [minimum, maximum]; bounds may be functions of the context (config)."""

    minimum: Bound = None
    maximum: Bound = None
    kind: str = field(default="integer", init=False)

    async def bounds(self, ctx: StepContext) -> tuple[int | None, int | None]:
        return await _call(self.minimum, ctx), await _call(self.maximum, ctx)

    async def convert(self, text: str, ctx: StepContext) -> int:
        try:
            if not INTEGER.match(text):
                raise ValueError(text)
            value = int(text, 10)
        except ValueError:
            raise InputError(f"{text!r} is not a whole number") from None
        low, high = await self.bounds(ctx)
        if (low is not None and value < low) or (high is not None and value > high):
            raise InputError(f"{value} is out of range {low if low is not None else '-∞'}"
                             f"..{high if high is not None else '∞'}")
        return value


@dataclass(frozen=True)
class ChoiceInput(Input):
    choices: Sequence[str] = ()
    kind: str = field(default="choice", init=False)

    async def options(self, ctx: StepContext) -> list[str]:
        return list(self.choices)

    async def convert(self, text: str, ctx: StepContext) -> str:
        options = await self.options(ctx)
        if text not in options:
            shown = ", ".join(options[:12]) + (" …" if len(options) > 12 else "")
            raise InputError(f"{text!r} is not one of: {shown or '(none available)'}")
        return text


@dataclass(frozen=True)
class LiveChoiceInput(ChoiceInput):
    """A choice from a list read from the platform (backups, pods, nodes)."""

    source: Callable[[StepContext], Awaitable[list[str]]] | None = None
    kind: str = field(default="live-choice", init=False)

    async def options(self, ctx: StepContext) -> list[str]:
        return list(await self.source(ctx)) if self.source else []


@dataclass(frozen=True)
class BoolInput(Input):
    kind: str = field(default="yes/no", init=False)

    async def convert(self, text: str, ctx: StepContext) -> bool:
        lowered = text.lower()
        if lowered in ("y", "yes", "true", "1", "on"):
            return True
        if lowered in ("n", "no", "false", "0", "off"):
            return False
        raise InputError(f"{text!r}: answer yes or no")


@dataclass(frozen=True)
class NetworkInput(Input):
    """An IP address or a CIDR block (strict: no host bits set)."""

    allow_cidr: bool = True
    kind: str = field(default="ip/cidr", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        try:
            if "/" in text:
                if not self.allow_cidr:
                    raise InputError("a single address is expected, not a network")
                return str(ipaddress.ip_network(text, strict=True))
            return str(ipaddress.ip_address(text))
        except ValueError as exc:
            raise InputError(f"{text!r} is not a valid IP address or CIDR ({exc})") from None


@dataclass(frozen=True)
class K8sNameInput(Input):
    kind: str = field(default="kubernetes name", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        if len(text) > 253 or not K8S_NAME.match(text):
            raise InputError(f"{text!r} is not a Kubernetes name (lower-case letters, digits, "
                             "'-' and '.', starting and ending alphanumeric)")
        return text


@dataclass(frozen=True)
class ImageInput(Input):
    kind: str = field(default="image reference", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        if len(text) > 255 or not IMAGE_REF.match(text):
            raise InputError(f"{text!r} is not an image reference like "
                             "registry/name:tag or name@sha256:digest")
        return text


@dataclass(frozen=True)
class SqlIdentifierInput(Input):
    """A table, column or index name, unquoted: letters, digits, _ and $, no keywords."""

    kind: str = field(default="SQL identifier", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        if not SQL_IDENT.match(text):
            raise InputError(f"{text!r} is not a plain SQL identifier (letter or _, then "
                             "letters, digits, _ or $; at most 63)")
        if text.lower() in SQL_RESERVED:
            raise InputError(f"{text!r} is a reserved SQL word")
        return text
