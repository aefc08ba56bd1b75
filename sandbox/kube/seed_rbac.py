"""The seeded RBAC: what a real cluster has, plus the over-broad binding to find.

- ClusterRoles ``cluster-admin`` (everything) and ``view`` (get/list/watch), as every
  cluster has them; ``system:masters`` is bound to ``cluster-admin`` by
  ``cluster-admin`` (the built-in binding an access review must not flag).
- ``mcp-server``: a Role in ``mcp-production`` (pods, configmaps read; the
  ``postgres-credentials`` secret) bound to the ``mcp-server-production`` service account.
- ``prometheus-server`` may read pods, nodes, services and endpoints everywhere.
- The finding: ``ci-deployer`` (mcp-production), a CI service account made for one
  migration, is bound to ``cluster-admin`` cluster-wide by ``ci-deployer-admin`` and
  still has a Role with wildcard verbs on secrets; its old token secret
  ``ci-deployer-token-legacy`` (200 days) is referenced by nothing.
"""

from __future__ import annotations

from typing import Any

GROUP = "rbac.authorization.k8s.io"
API = f"{GROUP}/v1"
NS = "mcp-production"


def _meta(name: str, ago: str, namespace: str | None = None, **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": ago, **extra}
    if namespace:
        meta["namespace"] = namespace
    return meta


def rbac(store: Any, clock: Any, ago: Any) -> None:
    """``ago(clock, days)`` is the seed's timestamp helper."""
    cluster_roles = {
        "cluster-admin": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                          {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        "view": [{"apiGroups": ["", "apps", "batch"], "resources": ["*"],
                  "verbs": ["get", "list", "watch"]}],
        "prometheus-server": [{"apiGroups": [""], "verbs": ["get", "list", "watch"],
                               "resources": ["nodes", "pods", "services", "endpoints"]}],
    }
    for name, rules in cluster_roles.items():
        store.create(f"clusterroles.{GROUP}", {"apiVersion": API, "kind": "ClusterRole",
                                               "metadata": _meta(name, ago(clock, 400)),
                                               "rules": rules})
    bindings = [
        ("cluster-admin", "cluster-admin", [{"kind": "Group", "name": "system:masters",
                                             "apiGroup": GROUP}], 400),
        ("prometheus-server", "prometheus-server",
         [{"kind": "ServiceAccount", "name": "prometheus-server", "namespace": "monitoring"}],
         250),
        ("ci-deployer-admin", "cluster-admin",
         [{"kind": "ServiceAccount", "name": "ci-deployer", "namespace": NS}], 200),
    ]
    for name, role, subjects, days in bindings:
        store.create(f"clusterrolebindings.{GROUP}", {
            "apiVersion": API, "kind": "ClusterRoleBinding",
            "metadata": _meta(name, ago(clock, days)),
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": subjects})
    roles = {
        "mcp-server": [{"apiGroups": [""], "resources": ["pods", "configmaps"],
                        "verbs": ["get", "list", "watch"]},
                       {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                        "resourceNames": ["postgres-credentials"]}],
        "ci-deployer-secrets": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}],
    }
    for name, rules in roles.items():
        store.create(f"roles.{GROUP}", {"apiVersion": API, "kind": "Role",
                                        "metadata": _meta(name, ago(clock, 200), NS),
                                        "rules": rules})
    for name, role, sa in (("mcp-server", "mcp-server", "mcp-server-production"),
                           ("ci-deployer-secrets", "ci-deployer-secrets", "ci-deployer")):
        store.create(f"rolebindings.{GROUP}", {
            "apiVersion": API, "kind": "RoleBinding",
            "metadata": _meta(name, ago(clock, 200), NS),
            "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": NS}]})
    store.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                     "metadata": _meta("ci-deployer", ago(clock, 200), NS)})
    store.create("secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": _meta("ci-deployer-token-legacy", ago(clock, 200), NS,
                          annotations={"kubernetes.io/service-account.name": "ci-deployer-old"}),
        "data": {"token": "c2FuZGJveC1sZWdhY3ktdG9rZW4="}})
