"""Subresources and virtual objects: ``/scale`` (autoscaling/v1 Scale), pod ``/eviction``
honouring PodDisruptionBudgets, and the create-only review objects of
authorization.k8s.io and authentication.k8s.io answered from the caller's rules."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from . import patch
from .auth import User
from .context import ApiContext
from .controllers import podspec
from .controllers.disruption import budget_numbers, matching_budgets
from .deletion import delete_object
from .routing import RequestInfo
from .selectors import selector_object_to_string
from .store import ApiError, invalid
from .wire import read_body, require_object, respond

Obj = dict[str, Any]


# ---- scale ------------------------------------------------------------------------------------


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                           "creationTimestamp") if k in meta},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": selector_object_to_string((obj.get("spec") or {}).get("selector"))},
    }


async def scale(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    key, ns, name = info.rt.key, info.namespace, info.name
    old = ctx.store.get(key, ns, name)
    current = _scale_of(old)
    if info.verb == "get":
        return respond(current)
    body = await read_body(request)
    if info.verb == "update":
        new_scale = require_object(body)
    else:
        ctype = (request.content_type or "").lower()
        if ctype == patch.STRATEGIC:
            new_scale = patch.strategic_merge(current, require_object(body))
        elif ctype == patch.MERGE:
            new_scale = patch.merge_patch(current, require_object(body))
        elif ctype == patch.JSON_PATCH:
            new_scale = patch.json_patch(current, body)
        else:
            raise patch.unsupported_media_type(ctype, custom=False)
    replicas = (new_scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or replicas < 0:
        raise invalid("Scale.autoscaling", name,
                      [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")])
    new = copy.deepcopy(old)
    new.setdefault("spec", {})["replicas"] = replicas
    sent_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
    new["metadata"]["resourceVersion"] = sent_rv or old["metadata"]["resourceVersion"]
    if "All" in request.query.getall("dryRun", []):
        return respond(_scale_of(new))
    return respond(_scale_of(ctx.store.update(key, new)))


# ---- eviction -----------------------------------------------------------------------------------


def _too_many(pdb_name: str, desired: int, healthy: int) -> ApiError:
    return ApiError(
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
        {"causes": [{"reason": "DisruptionBudget",
                     "message": f"The disruption budget {pdb_name} needs {desired} healthy pods "
                                f"and has {healthy} currently"}]},
    )


def check_disruption_budget(ctx: ApiContext, pod: Obj) -> None:
    """Raise 429 when evicting ``pod`` would take its PDB below what it demands.

    The numbers are the disruption controller's (:func:`budget_numbers`): with
    ``maxUnavailable`` or a percentage, the pods expected are the owners' scale, not the pods
    that exist now. Judged from the pods left, a second concurrent eviction would find one
    pod fewer expected (its sibling is being deleted, the replacement not yet made) and go
    through as well."""
    pdbs = matching_budgets(ctx.store, pod)
    if not pdbs:
        return
    if len(pdbs) > 1:
        raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, "
                                             "which the eviction subresource does not support.")
    pdb = pdbs[0]
    spec = pdb.get("spec") or {}
    if "minAvailable" not in spec and "maxUnavailable" not in spec:
        return
    numbers = budget_numbers(ctx.store, pdb)
    healthy, desired = numbers["currentHealthy"], numbers["desiredHealthy"]
    if not podspec.is_ready(pod):
        if healthy >= desired:
            return  # an unhealthy pod may go while the budget holds
    elif healthy - 1 >= desired:
        return
    raise _too_many(pdb["metadata"]["name"], desired, healthy)


async def evict(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    body = require_object(await read_body(request))
    name = (body.get("metadata") or {}).get("name", info.name)
    if name != info.name:
        raise ApiError(400, "BadRequest", "name in URL does not match name in Eviction object")
    pod = ctx.store.get("pods", info.namespace, info.name)
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp"):
        try:
            check_disruption_budget(ctx, pod)
        except ApiError:
            ctx.evictions.append((info.namespace, info.name, False))
            raise
    ctx.evictions.append((info.namespace, info.name, True))
    dry_run = "All" in ((body.get("deleteOptions") or {}).get("dryRun") or []) or \
        "All" in request.query.getall("dryRun", [])
    if not dry_run:
        delete_object(ctx.store, "pods", info.namespace, info.name, None)
    return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "code": 201}, 201)


# ---- service account tokens ------------------------------------------------------------------


async def token_request(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    """``kubectl create token NAME``: a bearer token that authenticates as the service
    account (its groups as kube-apiserver gives them), valid ``expirationSeconds``; what
    the account may then do is what its RBAC bindings grant."""
    import secrets
    import time
    from datetime import UTC, datetime

    from .auth import EVERYONE

    if ctx.store.peek("serviceaccounts", info.namespace, info.name) is None:
        raise ApiError(404, "NotFound", f'serviceaccounts "{info.name}" not found',
                       {"name": info.name, "kind": "serviceaccounts"})
    body = require_object(await read_body(request))
    spec = dict(body.get("spec") or {})
    seconds = int(spec.get("expirationSeconds") or 3600)
    if seconds < 600:
        raise invalid("TokenRequest", info.name, [("spec.expirationSeconds",
                                                    "may not specify a duration less than "
                                                    "10 minutes")])
    token = "sa-" + secrets.token_urlsafe(32)
    ns = info.namespace
    ctx.authorizer.tokens[token] = User(f"system:serviceaccount:{ns}:{info.name}",
                                        ("system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                         EVERYONE))
    expires = time.time() + seconds
    ctx.authorizer.expiry[token] = expires
    spec["expirationSeconds"] = seconds
    stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return respond({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {"name": info.name, "namespace": ns,
                                 "creationTimestamp": None},
                    "spec": spec, "status": {"token": token, "expirationTimestamp": stamp}},
                   201)


# ---- reviews ------------------------------------------------------------------------------------


async def review(ctx: ApiContext, request: web.Request, info: RequestInfo, user: User) -> web.Response:
    body = require_object(await read_body(request))
    spec = body.get("spec") or {}
    kind = info.rt.kind
    authz = ctx.authorizer
    if kind == "SelfSubjectRulesReview":
        status = authz.rules_review(user, spec.get("namespace", ""))
    elif kind == "SelfSubjectAccessReview":
        status = authz.access_review(user, spec)
    elif kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        attrs = spec.get("resourceAttributes") or {}
        if kind == "LocalSubjectAccessReview" and attrs.get("namespace", info.namespace) != info.namespace:
            raise ApiError(400, "BadRequest", "spec.resourceAttributes.namespace must match namespace")
        subject = User(spec.get("user", ""), tuple(spec.get("groups") or ()))
        status = authz.access_review(subject, spec)
    elif kind == "SelfSubjectReview":
        status = {"userInfo": {"username": user.name, "groups": list(user.groups)}}
    else:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    return respond({"kind": kind, "apiVersion": info.rt.api_version, "metadata": meta,
                    "spec": spec, "status": status}, 201)
