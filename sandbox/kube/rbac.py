"""RBAC objects honoured: Roles, ClusterRoles and their bindings give users their rules.

The authorizer (``auth.py``) has a few built-in identities (the sandbox's admin and viewer
tokens, every user's basic rules); on top of them, each request's user gets the rules of
every ClusterRoleBinding and RoleBinding naming it — as a User, one of its Groups, or a
ServiceAccount (``system:serviceaccount:NS:NAME``) — exactly as kube-apiserver's RBAC
authorizer does: a ClusterRoleBinding grants its ClusterRole everywhere, a RoleBinding
grants its Role (or a ClusterRole) in the binding's namespace only. The same rules answer
SelfSubjectRulesReview and (Self)SubjectAccessReview, so ``kubectl auth can-i --list
--as=system:serviceaccount:...`` shows what the server then enforces.
"""

from __future__ import annotations

from typing import Any

from .auth import Rule, User

GROUP = "rbac.authorization.k8s.io"
ROLES, CLUSTER_ROLES = f"roles.{GROUP}", f"clusterroles.{GROUP}"
BINDINGS, CLUSTER_BINDINGS = f"rolebindings.{GROUP}", f"clusterrolebindings.{GROUP}"
SA_PREFIX = "system:serviceaccount:"


def names_user(subject: dict[str, Any], user: User, binding_namespace: str | None) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace or ""
        return user.name == f"{SA_PREFIX}{namespace}:{subject.get('name')}"
    return False


def _role_rules(store: Any, ref: dict[str, Any], namespace: str | None) -> list[Rule]:
    if ref.get("kind") == "ClusterRole":
        role = store.peek(CLUSTER_ROLES, "", ref.get("name", ""))
    else:
        role = store.peek(ROLES, namespace or "", ref.get("name", "")) if namespace else None
    return [dict(r) for r in (role or {}).get("rules") or []]


def rules(store: Any, user: User) -> list[Rule]:
    """Every rule the user's bindings grant (a RoleBinding's scoped to its namespace)."""
    out: list[Rule] = []
    for binding in store.iter(CLUSTER_BINDINGS):
        if any(names_user(s, user, None) for s in binding.get("subjects") or []):
            out += _role_rules(store, binding.get("roleRef") or {}, None)
    for binding in store.iter(BINDINGS):
        namespace = binding["metadata"].get("namespace", "")
        if any(names_user(s, user, namespace) for s in binding.get("subjects") or []):
            for rule in _role_rules(store, binding.get("roleRef") or {}, namespace):
                if not rule.get("nonResourceURLs"):
                    out.append({**rule, "namespace": namespace})
    return out
