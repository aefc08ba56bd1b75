"""The state one API server instance shares with its handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .auth import Authorizer, User
from .cluster import Cluster
from .faults import Faults


@dataclass
class ApiContext:
    cluster: Cluster
    authorizer: Authorizer
    faults: Faults
    minor: int = 31  # the Kubernetes minor version /version reports
    bookmark_interval: float = 10.0  # seconds between watch BOOKMARK events
    server_address: str = "127.0.0.1:0"
    stopping: bool = field(default=False)
    watchers: int = 0  # open watch streams (tests wait on it before writing)
    evictions: list = field(default_factory=list)  # (namespace, pod, allowed) per attempt

    @property
    def store(self):
        return self.cluster.store


CTX = web.AppKey("ctx", ApiContext)
USER = web.RequestKey("user", User)  # the authenticated (or impersonated) caller
