"""NetworkPolicy enforcement at the sandbox's front door, by client address.

On a cluster the CNI drops a connection to a pod unless some NetworkPolicy selecting the
pod admits its source (no policy selecting it: everything is admitted; policies only add
allowances, so one admitting everyone makes any "deny" policy beside it useless). The
MCP-server simulator plays the pods behind the load balancer; before it answers, it asks
:func:`admits` about the request's client address against the production emulator's
NetworkPolicies as they stand at that moment — so a rehearsal of ``security-incident``
shows an address refused or served for real.

Where the address comes from: a request may claim one in :data:`CLIENT_HEADER`, which the
simulator believes only together with the sandbox's own token in :data:`TOKEN_HEADER` (the
token is in the sandbox's 0600 sidecar file); anything else is the TCP peer (127.0.0.1).
That stands for a load balancer that preserves client addresses; when the pods' Service is
a LoadBalancer with ``externalTrafficPolicy: Cluster``, the address is replaced by a
node's, as kube-proxy's SNAT would, and blocks by client address stop working — as they
would in production.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .kube.selectors import matches_selector_object

CLIENT_HEADER = "X-Sandbox-Client-Address"
TOKEN_HEADER = "X-Sandbox-Token"
NAMESPACE = "mcp-production"
POD_LABELS = {"app": "mcp-server"}
PORT = 8080
SNAT_ADDRESS = "10.0.1.10"  # a node's address, what pods see behind SNAT


def _port_ok(rule: dict[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        number = p.get("port")
        end = p.get("endPort")
        if number is None or number == port or number == "http" or \
                (isinstance(number, int) and end is not None and number <= port <= end):
            return True
    return False


def _peer_admits(peer: dict[str, Any], address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    block = peer.get("ipBlock")
    if not block:
        return False  # pod and namespace selectors admit pods, not outside clients
    try:
        network = ipaddress.ip_network(block.get("cidr", ""), strict=False)
    except ValueError:
        return False
    if address.version != network.version or address not in network:
        return False
    for text in block.get("except") or []:
        try:
            if address in ipaddress.ip_network(text, strict=False):
                return False
        except ValueError:
            continue
    return True


def source_address(cluster: Any, claimed: str, namespace: str = NAMESPACE) -> str:
    """What the pods see: the client's address, or a node's behind a SNATing balancer."""
    for svc in cluster.store.iter("services", namespace):
        spec = svc.get("spec") or {}
        if spec.get("type") == "LoadBalancer" and \
                (spec.get("selector") or {}).items() <= POD_LABELS.items() and \
                spec.get("externalTrafficPolicy", "Cluster") != "Local":
            return SNAT_ADDRESS
    return claimed


def admits(cluster: Any, client: str, *, namespace: str = NAMESPACE,
           labels: dict[str, str] | None = None, port: int = PORT) -> tuple[bool, str]:
    """Whether ingress from ``client`` to the pods labelled ``labels`` is allowed, and why."""
    labels = labels or POD_LABELS
    seen = source_address(cluster, client, namespace)
    try:
        address = ipaddress.ip_address(seen)
    except ValueError:
        return False, f"{seen!r} is not an address"
    selecting = []
    for policy in cluster.store.iter("networkpolicies.networking.k8s.io", namespace):
        spec = policy.get("spec") or {}
        types = spec.get("policyTypes") or ["Ingress"]  # absent: Ingress always applies
        if "Ingress" in types and matches_selector_object(spec.get("podSelector"), labels):
            selecting.append(policy)
    if not selecting:
        return True, "no NetworkPolicy selects the pods"
    for policy in selecting:
        for rule in (policy.get("spec") or {}).get("ingress") or []:
            if not _port_ok(rule, port):
                continue
            peers = rule.get("from")
            if not peers:
                return True, f"admitted by {policy['metadata']['name']} (from anywhere)"
            if any(_peer_admits(peer, address) for peer in peers):
                return True, f"admitted by {policy['metadata']['name']}"
    names = ", ".join(p["metadata"]["name"] for p in selecting)
    return False, f"{seen} admitted by none of the policies selecting the pods ({names})"
