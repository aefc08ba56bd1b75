"""The shape every emulated controller shares: keys, a sync function, and write helpers.

A controller is level-triggered like the real ones: the manager tells it *which* object
to look at (a key), never *what changed*, and :meth:`Controller.sync` brings that object's
world to the desired state from scratch. Syncs are synchronous and short, so they never
block the event loop for long, and they only write when something differs, so a
controller reacting to its own writes settles instead of looping.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..store import ApiError, Obj, WatchEvent

if TYPE_CHECKING:
    from . import Controllers

Key = tuple[str, str]


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata", {})
    return meta.get("namespace", ""), meta.get("name", "")


def parse_time(ts: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp as the API writes them."""
    if not ts:
        return None
    try:
        return datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def set_condition(conditions: list[Obj], kind: str, status: str, reason: str, message: str,
                  now: str, *, heartbeat: str | None = None,
                  update_field: str | None = None) -> list[Obj]:
    """Set one condition, keeping ``lastTransitionTime`` unless the status flips.
    ``update_field`` (e.g. ``lastUpdateTime``) is refreshed whenever reason or message
    change; ``heartbeat`` names a field refreshed on every call."""
    out = [dict(c) for c in conditions or []]
    for cond in out:
        if cond.get("type") != kind:
            continue
        changed = cond.get("reason") != reason or cond.get("message") != message
        if cond.get("status") != status:
            cond["lastTransitionTime"] = now
            changed = True
        cond.update(status=status, reason=reason, message=message)
        if update_field and changed:
            cond[update_field] = now
        if heartbeat:
            cond[heartbeat] = now
        return out
    cond = {"type": kind, "status": status}
    if update_field:
        cond[update_field] = now
    if heartbeat:
        cond[heartbeat] = now
    cond.update(lastTransitionTime=now, reason=reason, message=message)
    out.append(cond)
    return out


class Controller:
    """Base class. Subclasses set :attr:`primary`, :attr:`watches` and implement
    :meth:`sync`; they map foreign events to their own keys in :meth:`keys_for`."""

    primary: str = ""
    watches: tuple[str, ...] = ()
    resync_seconds: float = 30.0  # emulated seconds between full resyncs

    def __init__(self, manager: Controllers):
        self.manager = manager
        self.cluster = manager.cluster
        self.store = manager.cluster.store
        self.clock = manager.cluster.clock
        self.index = manager.index
        self.recorder = manager.recorder

    @property
    def name(self) -> str:
        return type(self).__name__

    # ---- routing -------------------------------------------------------------------
    def keys_for(self, event: WatchEvent) -> Iterable[Key]:
        if event.resource == self.primary:
            return (key_of(event.object),)
        return ()

    def all_keys(self) -> Iterable[Key]:
        return [key_of(o) for o in self.store.iter(self.primary)]

    def sync(self, key: Key) -> None:
        raise NotImplementedError

    def requeue(self, key: Key, after: float) -> None:
        """Look at ``key`` again after ``after`` emulated seconds."""
        self.manager.requeue_after(self, key, after)

    def enqueue(self, key: Key) -> None:
        self.manager.enqueue(self, key)

    # ---- writing -------------------------------------------------------------------
    def write_status(self, resource: str, key: Key, status: Obj) -> bool:
        """Replace ``status`` when it differs; returns whether a write happened."""
        obj = self.store.peek(resource, *key)
        if obj is None or obj.get("status") == status:
            return False
        return self.mutate(resource, key, lambda o: o.__setitem__("status", copy.deepcopy(status)))

    def mutate(self, resource: str, key: Key, fn: Callable[[Obj], Any]) -> bool:
        """``store.mutate`` that treats a vanished object as nothing to do."""
        try:
            self.store.mutate(resource, key[0], key[1], fn)
            return True
        except ApiError as err:
            if err.code == 404:
                return False
            raise

    def delete(self, resource: str, key: Key) -> bool:
        try:
            self.store.delete(resource, key[0], key[1])
            return True
        except ApiError as err:
            if err.code == 404:
                return False
            raise

    def now(self) -> str:
        return self.clock.timestamp()

    def event(self, obj: Obj, type_: str, reason: str, message: str, **kw: Any) -> None:
        self.recorder.record(obj, type_, reason, message, component=kw.pop(
            "component", self.component), **kw)

    component = "controller-manager"
