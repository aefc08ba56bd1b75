"""The ``access-review`` wizard — the guide's monthly "Access Control Review", read only.

1. *Service accounts* — every one, in every namespace (``kubectl get serviceaccounts -A``).
2. *Permissions* — for each service account: the Roles and ClusterRoles bound to it (the
   RBAC objects, read whole), and for those of the application's namespace what the API
   server itself says they may do: a SelfSubjectRulesReview impersonating the account
   (``kubectl auth can-i --list --as=system:serviceaccount:NS:NAME``). Findings by the
   config's rules (``access_review``): a cluster-admin binding to a subject not in
   ``cluster_admin_allowed`` is CRITICAL; a role granting verb ``*`` to a service account a
   WARNING.
3. *Secrets* — by age, and whether anything references them (a pod's volumes, env or image
   pull secrets, a service account, an Ingress's TLS, a cert-manager Certificate, a token
   secret of an existing account); one referenced by nothing and older than
   ``secret_unused_days`` is a WARNING. The runbook's ``--sort-by=creationTimestamp``
   lists ages but cannot say "unused".
4. *Report* — the whole review as Markdown (a file, its SHA-256 in the session log).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.collectors.kube_parse import parse_time
from console.execution.context import StepContext
from console.execution.inputs import Input
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status, worst

from ..library import diagnosis_step, findings

RBAC = "rbac.authorization.k8s.io/v1"
SA = "system:serviceaccount:"


def _sa_key(namespace: str, name: str) -> str:
    return f"ServiceAccount:{namespace}:{name}"


def _subject_key(subject: dict[str, Any], binding_namespace: str | None) -> str:
    if subject.get("kind") == "ServiceAccount":
        return _sa_key(subject.get("namespace") or binding_namespace or "", subject["name"])
    return f"{subject.get('kind')}:{subject.get('name')}"


async def _all(ctx: StepContext, api_class: str, method: str) -> list[dict[str, Any]]:
    reader = await ctx.kube()
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": 500}
        if token:
            kwargs["_continue"] = token
        body = await reader.get(api_class, method, **kwargs)
        items += body.get("items", [])
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return items


# ---- 1. service accounts ---------------------------------------------------------------
async def run_accounts(ctx: StepContext) -> AsyncIterator[StepOutput]:
    accounts = await _all(ctx, "CoreV1Api", "list_service_account_for_all_namespaces")
    ctx.cache["review.accounts"] = accounts
    yield f"{'NAMESPACE':<16} {'NAME':<28} AGE"
    now = datetime.now(UTC)
    for sa in sorted(accounts, key=lambda a: (a["metadata"].get("namespace", ""),
                                              a["metadata"]["name"])):
        created = parse_time(sa["metadata"].get("creationTimestamp"))
        age = f"{(now - created).days}d" if created else "?"
        yield f"{sa['metadata'].get('namespace', ''):<16} {sa['metadata']['name']:<28} {age}"
    yield f"{len(accounts)} service accounts"


# ---- 2. permissions --------------------------------------------------------------------
async def grants(ctx: StepContext) -> dict[str, list[tuple[str, str, list[dict[str, Any]]]]]:
    """subject key -> [(binding description, role description, rules)]."""
    reader = await ctx.kube()
    roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r
             for r in await _all(ctx, "RbacAuthorizationV1Api", "list_role_for_all_namespaces")}
    cluster_roles = {r["metadata"]["name"]: r
                     for r in await reader.raw_list("ClusterRole", api_version=RBAC)}
    out: dict[str, list[tuple[str, str, list[dict[str, Any]]]]] = {}

    def role_of(ref: dict[str, Any], namespace: str | None) -> tuple[str, list[dict[str, Any]]]:
        if ref.get("kind") == "ClusterRole":
            role = cluster_roles.get(ref.get("name", ""))
            return f"ClusterRole/{ref.get('name')}", list((role or {}).get("rules") or [])
        role = roles.get((namespace or "", ref.get("name", "")))
        return f"Role/{namespace}/{ref.get('name')}", list((role or {}).get("rules") or [])

    for b in await reader.raw_list("ClusterRoleBinding", api_version=RBAC):
        name, rules = role_of(b.get("roleRef") or {}, None)
        for s in b.get("subjects") or []:
            out.setdefault(_subject_key(s, None), []).append(
                (f"ClusterRoleBinding/{b['metadata']['name']} (cluster-wide)", name, rules))
    for b in await _all(ctx, "RbacAuthorizationV1Api", "list_role_binding_for_all_namespaces"):
        ns = b["metadata"].get("namespace", "")
        name, rules = role_of(b.get("roleRef") or {}, ns)
        for s in b.get("subjects") or []:
            out.setdefault(_subject_key(s, ns), []).append(
                (f"RoleBinding/{ns}/{b['metadata']['name']} (in {ns})", name, rules))
    return out


def rule_text(rule: dict[str, Any]) -> str:
    verbs = ",".join(rule.get("verbs") or [])
    if rule.get("nonResourceURLs"):
        return f"{verbs} {','.join(rule['nonResourceURLs'])}"
    groups = ",".join(g or "core" for g in rule.get("apiGroups") or [""])
    resources = ",".join(rule.get("resources") or [])
    names = f" [{','.join(rule['resourceNames'])}]" if rule.get("resourceNames") else ""
    return f"{verbs} {resources} ({groups}){names}"


async def permission_findings(ctx: StepContext) -> list[Finding]:
    rules_cfg = ctx.env.access_review
    allowed = set(rules_cfg.cluster_admin_allowed)
    granted = await grants(ctx)
    ctx.cache["review.grants"] = granted
    out: list[Finding] = []
    for subject, items in sorted(granted.items()):
        for binding, role, rules in items:
            admin = role == "ClusterRole/cluster-admin" or any(
                "*" in (r.get("verbs") or []) and "*" in (r.get("resources") or [])
                and "*" in (r.get("apiGroups") or []) for r in rules)
            if admin and subject not in allowed:
                out.append(Finding("access", f"admin.{subject}.{binding}", Status.CRITICAL,
                                   f"{subject} is cluster-admin through {binding} -> {role}"))
            elif admin:
                out.append(Finding("access", f"admin.{subject}.{binding}", Status.HEALTHY,
                                   f"{subject} is cluster-admin through {binding} (allowed by "
                                   "access_review.cluster_admin_allowed)"))
            elif rules_cfg.flag_wildcard_verbs and subject.startswith("ServiceAccount:") and \
                    any("*" in (r.get("verbs") or []) for r in rules):
                wild = "; ".join(rule_text(r) for r in rules if "*" in (r.get("verbs") or []))
                out.append(Finding("access", f"wildcard.{subject}.{binding}", Status.WARNING,
                                   f"{subject} has wildcard verbs through {binding} -> {role}: "
                                   f"{wild}"))
    # what the API server says the application namespace's accounts may do
    reader = await ctx.kube()
    ns = ctx.env.kubernetes.namespace
    reviews: dict[str, list[str]] = {}
    for sa in ctx.cache.get("review.accounts") or []:
        if sa["metadata"].get("namespace") != ns:
            continue
        user = f"{SA}{ns}:{sa['metadata']['name']}"
        status = await reader.rules_review(ns, as_user=user)
        lines = [rule_text(r) for r in status.get("resourceRules") or []
                 if not set(r.get("resources") or []) <= {"selfsubjectaccessreviews",
                                                          "selfsubjectrulesreviews",
                                                          "selfsubjectreviews"}]
        reviews[_sa_key(ns, sa["metadata"]["name"])] = lines
        out.append(Finding("access", f"can.{user}", Status.HEALTHY,
                           f"{user} can (in {ns}): " + ("; ".join(lines) or "nothing")))
    ctx.cache["review.can"] = reviews
    return out


def permission_commands(ctx: StepContext) -> list[str]:
    ns = ctx.env.kubernetes.namespace
    return [Plan.command("kubectl", "get", "clusterrolebindings,rolebindings", "-A", "-o",
                         "wide"),
            Plan.command("kubectl", "get", "clusterroles,roles", "-A", "-o", "yaml"),
            Plan.command("kubectl", "auth", "can-i", "--list", "-n", ns,
                         f"--as=system:serviceaccount:{ns}:NAME") + "   # for each account"]


# ---- 3. secrets -----------------------------------------------------------------------
def _pod_refs(spec: dict[str, Any]) -> set[str]:
    refs: set[str] = set()
    for volume in spec.get("volumes") or []:
        if (secret := volume.get("secret")) and secret.get("secretName"):
            refs.add(secret["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (secret := source.get("secret")) and secret.get("name"):
                refs.add(secret["name"])
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env in container.get("env") or []:
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
            if ref:
                refs.add(ref)
        for source in container.get("envFrom") or []:
            if (ref := (source.get("secretRef") or {}).get("name")):
                refs.add(ref)
    refs |= {s.get("name") for s in spec.get("imagePullSecrets") or [] if s.get("name")}
    return refs


async def secret_findings(ctx: StepContext) -> list[Finding]:
    reader = await ctx.kube()
    days = ctx.env.access_review.secret_unused_days
    secrets = await _all(ctx, "CoreV1Api", "list_secret_for_all_namespaces")
    refs: set[tuple[str, str]] = set()
    for pod in await _all(ctx, "CoreV1Api", "list_pod_for_all_namespaces"):
        ns = pod["metadata"].get("namespace", "")
        refs |= {(ns, r) for r in _pod_refs(pod.get("spec") or {})}
    accounts = ctx.cache.get("review.accounts") or await _all(
        ctx, "CoreV1Api", "list_service_account_for_all_namespaces")
    existing = {(a["metadata"].get("namespace", ""), a["metadata"]["name"]) for a in accounts}
    for sa in accounts:
        ns = sa["metadata"].get("namespace", "")
        refs |= {(ns, s.get("name")) for s in [*(sa.get("secrets") or []),
                                                *(sa.get("imagePullSecrets") or [])]}
    for ing in await _all(ctx, "NetworkingV1Api", "list_ingress_for_all_namespaces"):
        ns = ing["metadata"].get("namespace", "")
        refs |= {(ns, t.get("secretName")) for t in (ing.get("spec") or {}).get("tls") or []}
    try:
        for cert in await reader.raw_list("Certificate", namespace=ctx.env.kubernetes.namespace):
            refs.add((str(cert["metadata"].get("namespace", "")),
                      str((cert.get("spec") or {}).get("secretName") or "")))
    except Exception:  # noqa: BLE001, S110 - no cert-manager: no Certificate refers to anything
        pass
    now = datetime.now(UTC)
    out: list[Finding] = []
    rows = []
    for secret in sorted(secrets, key=lambda s: s["metadata"].get("creationTimestamp", "")):
        meta = secret["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        created = parse_time(meta.get("creationTimestamp"))
        age = (now - created).days if created else 0
        owner = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
        used = (ns, name) in refs or (owner is not None and (ns, owner) in existing) or \
            secret.get("type") == "helm.sh/release.v1"
        rows.append({"namespace": ns, "name": name, "type": secret.get("type", ""),
                     "age_days": age, "referenced": used})
        if not used and age >= days:
            out.append(Finding("access", f"secret.{ns}.{name}", Status.WARNING,
                               f"secret {ns}/{name} ({secret.get('type', 'Opaque')}) is "
                               f"{age} days old and nothing references it (rule: "
                               f"{days} days)", age))
    ctx.cache["review.secrets"] = rows
    out.append(Finding("access", "secrets", Status.HEALTHY,
                       f"{len(rows)} secrets, {sum(1 for r in rows if r['referenced'])} "
                       "referenced"))
    return out


# ---- 4. report --------------------------------------------------------------------------
def default_report(ctx: StepContext) -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "mcp-ops", "reports",
                        f"access-review-{ctx.env_name}-{datetime.now(UTC):%Y-%m-%d}.md")


def markdown(ctx: StepContext) -> str:
    found = findings(ctx, "permissions") + findings(ctx, "secrets")
    bad = [f for f in found if f.status >= Status.WARNING]
    overall = worst(f.status for f in found) if found else Status.UNKNOWN
    lines = [f"# Access review — {ctx.env_name}, {datetime.now(UTC):%Y-%m-%d}", "",
             f"Reviewed by {ctx.operator.user}. Verdict: **{overall.label}** "
             f"({len(bad)} findings).", "", "## Findings", ""]
    lines += [f"- **{f.status.label}** {f.reason}" for f in bad] or ["- none"]
    lines += ["", "## Service accounts and what they may do", "",
              "| account | binding | role |", "|---|---|---|"]
    granted = ctx.cache.get("review.grants") or {}
    for sa in sorted(ctx.cache.get("review.accounts") or [],
                     key=lambda a: (a["metadata"].get("namespace", ""), a["metadata"]["name"])):
        key = _sa_key(sa["metadata"].get("namespace", ""), sa["metadata"]["name"])
        for binding, role, _ in granted.get(key) or [("—", "—", [])]:
            lines.append(f"| {key.split(':', 1)[1]} | {binding} | {role} |")
    lines += ["", "## As the API server answers (SelfSubjectRulesReview)", ""]
    for key, rules in sorted((ctx.cache.get("review.can") or {}).items()):
        lines.append(f"- `{key.split(':', 1)[1]}`: " + ("; ".join(rules) or "nothing"))
    lines += ["", "## Secrets", "", "| namespace | name | type | age (days) | referenced |",
              "|---|---|---|---|---|"]
    for row in ctx.cache.get("review.secrets") or []:
        lines.append(f"| {row['namespace']} | {row['name']} | {row['type']} | "
                     f"{row['age_days']} | {'yes' if row['referenced'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def plan_report(ctx: StepContext) -> Plan:
    return Plan(f"Write the review as Markdown to {ctx.values.get('report') or '<report>'} "
                "(its SHA-256 into the session log); CRITICAL findings fail the step")


async def run_report(ctx: StepContext) -> AsyncIterator[StepOutput]:
    path = Path(ctx.values.get("report") or default_report(ctx)).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = markdown(ctx)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    ctx.note("access review report", path=str(path), sha256=digest)
    yield f"report: {path} ({len(text.splitlines())} lines, sha256 {digest[:16]}…)"
    found = findings(ctx, "permissions") + findings(ctx, "secrets")
    critical = [f.reason for f in found if f.status >= Status.CRITICAL]
    if critical:
        raise StepFailed("; ".join(critical))


REPORT = Input("report", "Markdown report file", default=default_report,
               help="where the review is written")

WIZARD = Wizard(
    id="access-review",
    title="Monthly access review",
    section="Security Operations › Access Control Review",
    when="Monthly: service accounts, RBAC permissions, unused secrets.",
    steps=(
        Step("accounts", "Service accounts",
             "Every service account of every namespace, with its age.",
             Risk.READ, lambda ctx: Plan("List every service account",
                                         (Plan.command("kubectl", "get", "serviceaccounts",
                                                       "-A"),)),
             run_accounts),
        diagnosis_step(
            "permissions", "What each account may do",
            "The Roles and ClusterRoles bound to each account (the RBAC objects), and what "
            "the API server answers for the application namespace's accounts when asked as "
            "them (SelfSubjectRulesReview with impersonation, i.e. kubectl auth can-i --list "
            "--as). cluster-admin for a subject outside access_review.cluster_admin_allowed "
            "is CRITICAL; wildcard verbs granted to a service account a WARNING.",
            diagnose=permission_findings, commands=permission_commands,
            summary="Read the RBAC objects; ask the API server as each account"),
        diagnosis_step(
            "secrets", "Secrets: age and use",
            "Every secret with its age and whether anything references it (pods' volumes, "
            "env and image pull secrets, service accounts, Ingress TLS, Certificates, tokens "
            "of existing accounts). `kubectl get secrets --sort-by=.metadata."
            "creationTimestamp` shows ages only; unused and older than "
            "access_review.secret_unused_days is a WARNING.",
            diagnose=secret_findings,
            commands=lambda ctx: [Plan.command("kubectl", "get", "secrets", "-A",
                                               "--sort-by=.metadata.creationTimestamp")],
            summary="Read every secret and everything that can reference one"),
        Step("report", "Markdown report",
             "The review as a Markdown file for the monthly record: findings first, then "
             "accounts and their bindings, the API server's answers, and the secrets.",
             Risk.READ, plan_report, run_report, inputs=(REPORT,)),
    ))
