"""Authentication and authorization: bearer tokens mapped to users, users to RBAC-like rules.

A token names a user and its groups; rules come from the user and from each group (so an
impersonated identity gets the rules of whom it impersonates). A rule is a PolicyRule dict
(``verbs``, ``apiGroups``, ``resources``, ``resourceNames`` or ``nonResourceURLs``) with an
optional ``namespace`` to play the part of a RoleBinding. The same rules answer
SelfSubjectRulesReview and (Self)SubjectAccessReview, so what ``kubectl auth can-i`` says is
exactly what the server enforces.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any

from .store import ApiError

Rule = dict[str, Any]

ADMIN_TOKEN = "sandbox-admin-token"
READONLY_TOKEN = "sandbox-readonly-token"
EVERYONE = "system:authenticated"

ALL_RULES: list[Rule] = [
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
]
READ_RULES: list[Rule] = [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}]
BASIC_RULES: list[Rule] = [  # what every authenticated user may do, as in a real cluster
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version",
                                           "/healthz", "/livez", "/readyz", "/openapi/*"]},
]
SERVICE_ACCOUNT_RULES: list[Rule] = [  # the MCP server's own, narrow service account
    {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "configmaps"],
     "namespace": "mcp-production"},
    {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
     "resourceNames": ["postgres-credentials"], "namespace": "mcp-production"},
]


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()


@dataclass
class Authorizer:
    """Tokens, and the rules granted to users and groups."""

    tokens: dict[str, User] = field(default_factory=dict)
    user_rules: dict[str, list[Rule]] = field(default_factory=dict)
    group_rules: dict[str, list[Rule]] = field(default_factory=dict)
    # the cluster's store: its Roles, ClusterRoles and bindings grant rules too (rbac.py)
    rbac_store: Any = None
    expiry: dict[str, float] = field(default_factory=dict)  # token -> unix time (TokenRequest)

    @classmethod
    def default(cls, admin_token: str = ADMIN_TOKEN, readonly_token: str = READONLY_TOKEN) -> Authorizer:
        return cls(
            tokens={admin_token: User("sandbox-admin", ("system:masters", EVERYONE)),
                    readonly_token: User("sandbox-viewer", ("sandbox:viewers", EVERYONE))},
            user_rules={"system:serviceaccount:mcp-production:mcp-server-production": SERVICE_ACCOUNT_RULES},
            group_rules={"system:masters": ALL_RULES, "sandbox:viewers": READ_RULES,
                         EVERYONE: BASIC_RULES},
        )

    # ---- who ---------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        expires = self.expiry.get(token.strip())
        if expires is not None and time.time() >= expires:
            user = None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    def impersonate(self, caller: User, user: str | None, groups: list[str]) -> User:
        """The identity named by Impersonate-User / Impersonate-Group, if the caller may."""
        if not user:
            if groups:
                raise ApiError(500, "InternalError",
                               "requested impersonation of groups without impersonating a user")
            return caller
        if user.startswith("system:serviceaccount:"):
            ns, _, sa = user[len("system:serviceaccount:"):].partition(":")
            self.require(caller, "impersonate", "", "serviceaccounts", "", sa, ns)
            implied = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
        else:
            self.require(caller, "impersonate", "", "users", "", user, "")
            implied = []
        for group in groups:
            self.require(caller, "impersonate", "", "groups", "", group, "")
        return User(user, tuple(dict.fromkeys([*groups, *implied, EVERYONE])))

    # ---- what ----------------------------------------------------------------------
    def rules_for(self, user: User) -> list[Rule]:
        rules = list(self.user_rules.get(user.name, []))
        for group in user.groups:
            rules.extend(self.group_rules.get(group, []))
        if self.rbac_store is not None:
            from . import rbac

            rules.extend(rbac.rules(self.rbac_store, user))
        return rules

    def allowed(self, user: User, verb: str, group: str, resource: str, subresource: str,
                name: str, namespace: str) -> bool:
        return any(
            _rule_allows(r, verb, group, resource, subresource, name, namespace)
            for r in self.rules_for(user)
        )

    def allowed_path(self, user: User, verb: str, path: str) -> bool:
        for rule in self.rules_for(user):
            urls = rule.get("nonResourceURLs") or []
            if _any(rule.get("verbs"), verb) and any(fnmatch.fnmatchcase(path, u) for u in urls):
                return True
        return False

    def require(self, user: User, verb: str, group: str, resource: str, subresource: str,
                name: str, namespace: str) -> None:
        if not self.allowed(user, verb, group, resource, subresource, name, namespace):
            raise forbidden(user, verb, group, resource, subresource, name, namespace)

    # ---- reviews -------------------------------------------------------------------------
    def rules_review(self, user: User, namespace: str) -> dict:
        resource_rules, non_resource_rules = [], []
        for rule in self.rules_for(user):
            if rule.get("namespace") not in (None, namespace):
                continue
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]})
            else:
                out = {k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(k)}
                resource_rules.append(out)
        return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                "incomplete": False}

    def access_review(self, user: User, spec: dict) -> dict:
        attrs = spec.get("resourceAttributes")
        if attrs:
            ok = self.allowed(user, attrs.get("verb", ""), attrs.get("group", ""),
                              attrs.get("resource", ""), attrs.get("subresource", ""),
                              attrs.get("name", ""), attrs.get("namespace", ""))
        else:
            na = spec.get("nonResourceAttributes") or {}
            ok = self.allowed_path(user, na.get("verb", ""), na.get("path", ""))
        status: dict = {"allowed": ok}
        if ok:
            status["reason"] = f'allowed by the emulator\'s rules for user "{user.name}"'
        return status


def _any(values: list[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in values or wanted in values)


def _resource_ok(resources: list[str] | None, resource: str, subresource: str) -> bool:
    full = f"{resource}/{subresource}" if subresource else resource
    for r in resources or []:
        if r in ("*", full):
            return True
        if subresource and r in (f"{resource}/*", f"*/{subresource}"):
            return True
    return False


def _rule_allows(rule: Rule, verb: str, group: str, resource: str, subresource: str,
                 name: str, namespace: str) -> bool:
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    if rule.get("namespace") is not None and rule["namespace"] != namespace:
        return False
    if not _any(rule.get("verbs"), verb) or not _any(rule.get("apiGroups"), group):
        return False
    if not _resource_ok(rule.get("resources"), resource, subresource):
        return False
    names = rule.get("resourceNames")
    return not names or name in names


def forbidden(user: User, verb: str, group: str, resource: str, subresource: str,
              name: str, namespace: str) -> ApiError:
    full = f"{resource}/{subresource}" if subresource else resource
    qualified = f"{resource}.{group}" if group else resource
    subject = f'{qualified} "{name}"' if name else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{user.name}" cannot {verb} resource "{full}" '
               f'in API group "{group}" {scope}')
    details = {"group": group, "kind": resource}
    if name:
        details["name"] = name
    return ApiError(403, "Forbidden", message, details)
