"""The ``security-incident`` wizard — the guide's "Security Incident Response", made to work.

*Contain.* The runbook applies an emergency NetworkPolicy admitting ``0.0.0.0/0`` except
the blocked ranges. NetworkPolicies only ever add allowances: a connection is admitted when
*any* policy selecting the pod admits it, so while ``allow-mcp-server-ingress`` (or any
other policy) admits everyone, the emergency policy blocks nothing. What blocks is to take
the range out of every policy that admits it: a rule admitting everyone becomes
``ipBlock 0.0.0.0/0`` (and ``::/0``) with the range under ``except``; an ``ipBlock``
containing the range gets it added to its ``except``; one inside the range is dropped.
Each changed policy keeps its original rules in an annotation
(:data:`ORIGINAL`), so the way back (``--set lift=yes``) restores exactly what was there,
from any later session. All of it only works if the pods see client addresses: a
LoadBalancer Service must have ``externalTrafficPolicy: Local`` (or the ingress controller
must pass the client address through), else every request comes from a node's address.

*Evidence.* 24 h of every application pod's log and a ``pg_dump`` of the database into a
new 0700 directory; each file's SHA-256 and size in the session log; optionally uploaded to
S3 with server-side encryption. The database password goes to ``pg_dump`` in a password
file (``PGPASSFILE``, 0600, removed after), never its arguments nor its environment.

*Notify.* The Slack webhook with an editable message; the webhook URL is a secret and is
never shown, logged or exported.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.config.model import Environment
from console.config.secrets import secret
from console.execution.context import StepContext
from console.execution.inputs import BoolInput, Input, InputError
from console.execution.kube.ops import PatchObject
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.execution.pgpass import pg_password_file

from ..library import kube_plan, notify
from ..library.units import human_size

ORIGINAL = "mcp-ops.pratiko.ai/original-ingress"  # the policy's ingress before the block
BLOCKED = "mcp-ops.pratiko.ai/blocked"  # the ranges this wizard took out
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
EVERYONE: tuple[Network, ...] = (ipaddress.ip_network("0.0.0.0/0"),
                                 ipaddress.ip_network("::/0"))
MIN_PREFIX = {4: 8, 6: 32}  # a wider block is refused: it would cut off half the internet


# ---- inputs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CidrListInput(Input):
    """Networks to block, comma or space separated; strict CIDRs (no host bits), a bare
    address is its /32 (/128), nothing wider than /8 (/32 for IPv6)."""

    kind: str = field(default="CIDR list", init=False)

    async def convert(self, text: str, ctx: StepContext) -> list[str]:
        return [str(n) for n in parse_networks(text)]

    def show(self, value: Any) -> str:
        return ", ".join(value) if isinstance(value, list) else super().show(value)


def parse_networks(text: str) -> list[Network]:
    items = [t for t in text.replace(",", " ").split() if t]
    if not items:
        raise InputError("no network given")
    out: list[Network] = []
    for item in items:
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            raise InputError(f"{item!r} is not a valid CIDR block ({exc})") from None
        if network.prefixlen < MIN_PREFIX[network.version]:
            raise InputError(f"{item} is wider than /{MIN_PREFIX[network.version]}: "
                             "that would block a good part of the internet")
        if network not in out:
            out.append(network)
    return out


def _networks(ctx: StepContext) -> list[Network]:
    return [ipaddress.ip_network(n) for n in ctx.values.get("block") or []]


# ---- the block, as a pure function of a policy -----------------------------------------
def _admits_from_outside(rule: Mapping[str, Any]) -> bool:
    return not rule.get("from")


def _within(inner: Network, outer: Network) -> bool:
    """``inner`` is ``outer`` or inside it (False across address families)."""
    return inner.version == outer.version and \
        int(inner.network_address) >= int(outer.network_address) and \
        int(inner.broadcast_address) <= int(outer.broadcast_address)


def block_ingress(ingress: Sequence[Mapping[str, Any]],
                  networks: Sequence[Network]) -> list[dict[str, Any]] | None:
    """The policy's ingress rules with ``networks`` taken out, or None when no rule admits
    any of them (the policy stays as it is)."""
    changed = False
    out: list[dict[str, Any]] = []
    for original in ingress:
        rule = copy.deepcopy(dict(original))
        if _admits_from_outside(rule):
            peers = []
            for everyone in EVERYONE:
                excepts = [str(n) for n in networks if n.version == everyone.version]
                block: dict[str, Any] = {"cidr": str(everyone)}
                if excepts:
                    block["except"] = excepts
                peers.append({"ipBlock": block})
            rule["from"] = peers
            out.append(rule)
            changed = True
            continue
        peers = []
        for peer in rule.get("from") or []:
            ip_block = peer.get("ipBlock")
            if not ip_block:
                peers.append(peer)
                continue
            cidr = ipaddress.ip_network(ip_block["cidr"], strict=False)
            kept = [ipaddress.ip_network(e, strict=False) for e in ip_block.get("except") or []]
            if any(_within(cidr, n) for n in networks):
                changed = True  # the whole block is in a blocked range: the peer goes
                continue
            adds = [n for n in networks if _within(n, cidr)
                    and not any(_within(n, e) for e in kept)]
            if adds:
                peer = copy.deepcopy(dict(peer))
                peer["ipBlock"]["except"] = [*(ip_block.get("except") or []),
                                             *(str(n) for n in adds)]
                changed = True
            peers.append(peer)
        if peers:
            rule["from"] = peers
            out.append(rule)
        # a rule whose every peer was blocked goes (an empty "from" would admit everyone)
    return out if changed else None


@dataclass(frozen=True)
class PolicyChange:
    name: str
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]


def block_op(ctx: StepContext, change: PolicyChange, networks: Sequence[Network]) -> PatchObject:
    return PatchObject(
        "NetworkPolicy", change.name, ctx.env.kubernetes.namespace,
        {"metadata": {"annotations": {ORIGINAL: json.dumps(change.before, sort_keys=True),
                                      BLOCKED: ",".join(str(n) for n in networks)}},
         "spec": {"ingress": change.after}}, patch_type="merge")


def restore_op(ctx: StepContext, name: str, original: list[dict[str, Any]]) -> PatchObject:
    return PatchObject("NetworkPolicy", name, ctx.env.kubernetes.namespace,
                       {"metadata": {"annotations": {ORIGINAL: None, BLOCKED: None}},
                        "spec": {"ingress": original}}, patch_type="merge")


# ---- 1. policies and the load balancer (read) ----------------------------------------
CHANGES = "incident.changes"


async def run_assess(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    networks = _networks(ctx)
    policies = await reader.raw_list("NetworkPolicy")
    changes: list[PolicyChange] = []
    for policy in sorted(policies, key=lambda p: p["metadata"]["name"]):
        spec = policy.get("spec") or {}
        if "Ingress" not in (spec.get("policyTypes") or ["Ingress"]):
            continue
        name = policy["metadata"]["name"]
        annotations = policy["metadata"].get("annotations") or {}
        current = list(spec.get("ingress") or [])
        if ORIGINAL in annotations:  # already blocked once: build on the original
            before = json.loads(annotations[ORIGINAL])
            already = parse_networks(annotations.get(BLOCKED, "")) \
                if annotations.get(BLOCKED) else []
            merged = [*already, *(n for n in networks if n not in already)]
            after = block_ingress(before, merged) or current
            networks_for = merged
        else:
            before, networks_for = current, networks
            after = block_ingress(current, networks) or []
        if after and after != current:
            changes.append(PolicyChange(name, before, after))
            yield f"{name}: admits {', '.join(map(str, networks_for))} today -> except added"
        else:
            yield f"{name}: admits none of the ranges (unchanged)"
    ctx.cache[CHANGES] = changes
    yield ("the runbook's emergency policy (0.0.0.0/0 except the ranges) would be one more "
           "allowance: with the policies above admitting everyone, it blocks nothing")
    services = await reader.raw_list("Service")
    balancers = [s for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    if not balancers:
        yield ("no LoadBalancer Service in the namespace: whatever fronts the pods (ingress "
               "controller, cloud load balancer) must pass the client address through "
               "(externalTrafficPolicy: Local, proxy protocol), else the pods see its address "
               "and no ipBlock can tell clients apart")
    for svc in balancers:
        policy = (svc.get("spec") or {}).get("externalTrafficPolicy", "Cluster")
        if policy == "Local":
            yield f"service/{svc['metadata']['name']}: externalTrafficPolicy Local: client " \
                  "addresses reach the pods"
        else:
            yield (f"WARNING service/{svc['metadata']['name']}: externalTrafficPolicy "
                   f"{policy}: kube-proxy replaces the client address with a node's, so the "
                   "block cannot work until it is Local")


def plan_assess(ctx: StepContext) -> Plan:
    ns = ctx.env.kubernetes.namespace
    return Plan("Read every NetworkPolicy of the namespace: which admit the ranges; and the "
                "Services in front of the pods (client addresses preserved?)",
                (Plan.command("kubectl", "get", "networkpolicies", "-n", ns, "-o", "yaml"),
                 Plan.command("kubectl", "get", "services", "-n", ns, "-o", "wide")))


# ---- 2. contain (change) --------------------------------------------------------------
def _ops(ctx: StepContext) -> list[PatchObject]:
    changes: list[PolicyChange] = ctx.cache.get(CHANGES) or []
    networks = _networks(ctx)
    return [block_op(ctx, c, networks) for c in changes]


def plan_contain(ctx: StepContext) -> Plan:
    ranges = ", ".join(ctx.values.get("block") or []) or "<block>"
    ops = _ops(ctx)
    summary = (f"Take {ranges} out of every NetworkPolicy that admits it ({len(ops)} "
               "policies), the original rules kept in an annotation for the way back"
               if ops else f"Take {ranges} out of the policies the previous step finds")
    return kube_plan(ctx, summary, ops)


async def run_contain(ctx: StepContext) -> AsyncIterator[StepOutput]:
    changes: list[PolicyChange] = ctx.cache.get(CHANGES) or []
    if not changes:
        yield "no policy admits the ranges: nothing to change"
        return
    for change in changes:
        ctx.note("network policy before the block", policy=change.name,
                 ingress=change.before)
    writer = await ctx.mutations.kube()
    for op in _ops(ctx):
        yield await writer.apply(op)


async def verify_contain(ctx: StepContext) -> str:
    reader = await ctx.kube()
    for change in ctx.cache.get(CHANGES) or []:
        obj = await reader.raw("NetworkPolicy", change.name)
        if obj is None or (obj.get("spec") or {}).get("ingress") != change.after:
            raise StepFailed(f"networkpolicy/{change.name} does not hold the block")
    return f"verified: {len(ctx.cache.get(CHANGES) or [])} policies hold the block"


# ---- 3. evidence (read; files written locally) ----------------------------------------
def default_dir(ctx: StepContext) -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "mcp-ops", "evidence",
                        f"{ctx.env_name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def plan_evidence(ctx: StepContext) -> Plan:
    k, pg = ctx.env.kubernetes, ctx.env.postgres
    where = ctx.values.get("evidence-dir") or "<evidence-dir>"
    dump = ["pg_dump", "--format=custom", "--no-password", "--file",
            f"{where}/database.dump", "--dbname", pg.dsn]
    shown_env = f"PGPASSWORD=${pg.password_env} " if pg.password_env else ""
    return Plan(f"Write 24 h of every application pod's log and a pg_dump into {where} "
                "(mode 0700); SHA-256 and size of each file into the session log",
                (f"install -d -m 0700 {where}",
                 Plan.command("kubectl", "logs", "-n", k.namespace, "POD", "-c", k.container,
                              "--since=24h") + f" > {where}/logs/POD.log   # for each pod",
                 shown_env + Plan.command(*dump),
                 f"sha256sum {where}/*"))


async def run_evidence(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k, pg = ctx.env.kubernetes, ctx.env.postgres
    root = Path(ctx.values.get("evidence-dir") or default_dir(ctx)).expanduser()
    if root.exists() and any(root.iterdir()):
        raise StepFailed(f"{root} exists and is not empty: evidence goes into a new directory")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    (root / "logs").mkdir(mode=0o700, exist_ok=True)
    ctx.cache["incident.evidence"] = root
    files: list[Path] = []
    reader = await ctx.kube()
    for pod in await reader.pods():
        path = root / "logs" / f"{pod.name}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            async for line in reader.stream_log(pod.name, k.container, since_seconds=86400):
                fh.write(line + "\n")
        files.append(path)
    dump = root / "database.dump"
    password = secret(pg.password_env)
    errors = []
    with ExitStack() as stack:
        env = dict(os.environ)
        if password:  # a password file, never argv nor the environment (/proc shows both)
            env.pop("PGPASSWORD", None)
            env["PGPASSFILE"] = str(stack.enter_context(pg_password_file(password)))
        process = ctx.read_process(["pg_dump", "--format=custom", "--no-password", "--file",
                                    str(dump), "--dbname", pg.dsn], env=env)
        async for out in process:
            errors.append(out.text)
    result = process.result
    if result is None or not result.ok:
        raise StepFailed(f"pg_dump failed: {' '.join(errors[-3:]) or result}")
    os.chmod(dump, 0o600)
    files.append(dump)
    manifest = []
    for path in files:
        digest, size = _sha256(path), path.stat().st_size
        relative = str(path.relative_to(root))
        manifest.append({"file": relative, "sha256": digest, "size": size})
        ctx.note("evidence file", file=relative, directory=str(root), sha256=digest,
                 size=size)
        yield f"{digest}  {relative}  ({human_size(size)})"
    ctx.cache["incident.manifest"] = manifest
    yield f"{len(files)} files in {root} (mode 0700)"


# ---- 4. upload (change, optional) -----------------------------------------------------
def plan_upload(ctx: StepContext) -> Plan:
    bucket = ctx.values.get("evidence-bucket") or "<evidence-bucket>"
    return Plan(f"Upload every evidence file to s3://{bucket}/incidents/... encrypted at rest "
                "(SSE AES256)",
                (Plan.command("aws", "s3", "cp", "--recursive", "--sse", "AES256",
                              "<evidence-dir>", f"s3://{bucket}/incidents/<dir>/"),))


async def run_upload(ctx: StepContext) -> AsyncIterator[StepOutput]:
    root: Path = ctx.cache["incident.evidence"]
    bucket = ctx.values["evidence-bucket"]
    writer = await ctx.mutations.aws()
    for item in ctx.cache.get("incident.manifest") or []:
        key = f"incidents/{root.name}/{item['file']}"
        with (root / item["file"]).open("rb") as fh:
            await writer.put_object(bucket, key, fh, server_side_encryption="AES256")
        ctx.note("evidence uploaded", file=item["file"], bucket=bucket, key=key,
                 sha256=item["sha256"])
        yield f"s3://{bucket}/{key} (SSE AES256)"


# ---- 5. the way back -----------------------------------------------------------------
async def _blocked(ctx: StepContext) -> list[tuple[str, list[dict[str, Any]]]]:
    reader = await ctx.kube()
    found = []
    for policy in await reader.raw_list("NetworkPolicy"):
        text = (policy["metadata"].get("annotations") or {}).get(ORIGINAL)
        if text is not None:
            found.append((policy["metadata"]["name"], json.loads(text)))
    return sorted(found)


def plan_lift(ctx: StepContext) -> Plan:
    ns = ctx.env.kubernetes.namespace
    return Plan(f"Give every NetworkPolicy this wizard changed its original ingress rules back "
                f"(from its {ORIGINAL} annotation)",
                (Plan.command("kubectl", "patch", "networkpolicy", "NAME", "-n", ns,
                              "--type", "merge", "-p",
                              '{"spec":{"ingress":<original>},"metadata":{"annotations":'
                              f'{{"{ORIGINAL}":null,"{BLOCKED}":null}}}}}}'),))


async def run_lift(ctx: StepContext) -> AsyncIterator[StepOutput]:
    blocked = await _blocked(ctx)
    if not blocked:
        yield "no NetworkPolicy carries a block of this wizard: nothing to restore"
        return
    writer = await ctx.mutations.kube()
    for name, original in blocked:
        ctx.note("network policy restored", policy=name, ingress=original)
        yield await writer.apply(restore_op(ctx, name, original))


async def verify_lift(ctx: StepContext) -> str:
    left = await _blocked(ctx)
    if left:
        raise StepFailed(f"still blocked: {', '.join(n for n, _ in left)}")
    return "verified: every policy has its original rules"


def _contain(values: Mapping[str, Any]) -> bool:
    return not values.get("lift")


def check(values: Mapping[str, Any], env: Environment) -> list[str]:
    if not values.get("lift") and not values.get("block"):
        return ["block: the ranges to block are required (or --set lift=yes for the way back)"]
    return []


def message(ctx: StepContext) -> str:
    ranges = ", ".join(ctx.values.get("block") or []) or "(none)"
    return (f"Security incident on {ctx.env_name}: traffic from {ranges} blocked at the "
            f"NetworkPolicies; evidence (24 h of pod logs, database dump) collected with "
            f"SHA-256 in the session log. Operator: {ctx.operator.user}. Please join #security.")


def _text(ctx: StepContext) -> str:
    return str(ctx.values.get("notify-text") or message(ctx))


def plan_notify(ctx: StepContext) -> Plan:
    body = json.dumps(notify.payload("slack", _text(ctx)), ensure_ascii=False)
    curl = Plan.command("curl", "-X", "POST", "-H", "Content-type: application/json",
                        "--data", body) + f' "${notify.variable(ctx, "slack")}"'
    return Plan(f"Post to the Slack webhook (${notify.variable(ctx, 'slack')}): {body}",
                (curl,))


async def run_notify(ctx: StepContext) -> AsyncIterator[StepOutput]:
    text = _text(ctx)
    status = await (await ctx.mutations.http()).post("slack", text)
    yield f"slack notified (HTTP {status}): {text}"


NOTIFY_TEXT = Input("notify-text", "Message to the security team", required=False,
                    max_length=2000,
                    help="empty: the message made from the run (shown in the plan)")
BLOCK = CidrListInput("block", "Networks to block (CIDR, comma separated)", required=False,
                      help="e.g. 198.18.7.23/32, 203.0.113.0/24; validated before anything runs")
LIFT = BoolInput("lift", "The way back: restore the original policies", default="no",
                 help="yes: only restore the policies this wizard changed")
EVIDENCE_DIR = Input("evidence-dir", "Evidence directory (new, created 0700)", default=default_dir,
                     help="a new or empty directory")
BUCKET = Input("evidence-bucket", "S3 bucket for the evidence (optional)", required=False,
               help="uploaded with server-side encryption (AES256); empty: kept locally")

WIZARD = Wizard(
    id="security-incident",
    title="Suspected security breach",
    section="Emergency Procedures › Security Incident Response",
    when="A breach is suspected: contain, collect evidence, notify the security team.",
    check=check,
    steps=(
        Step("policies", "Which policies admit the ranges",
             "NetworkPolicies only add allowances: a connection is admitted if any policy "
             "selecting the pod admits it. The runbook's emergency policy (0.0.0.0/0 except "
             "the ranges) is one more allowance beside allow-mcp-server-ingress, which admits "
             "everyone — so it blocks nothing. The block must be taken out of every policy "
             "that admits the range. And the pods must see client addresses: behind a "
             "LoadBalancer with externalTrafficPolicy Cluster they see a node's address and no "
             "ipBlock can work.",
             Risk.READ, plan_assess, run_assess, inputs=(BLOCK, LIFT), applies=_contain),
        Step("contain", "Contain: block the ranges",
             "Each policy admitting a range gets it under `except` (a rule admitting everyone "
             "becomes 0.0.0.0/0 and ::/0 with the exceptions); its original rules are kept in "
             f"the {ORIGINAL} annotation, and in the session log, for the way back.",
             Risk.DESTRUCTIVE, plan_contain, run_contain, verify=verify_contain,
             applies=_contain),
        Step("evidence", "Collect evidence",
             "24 h of every application pod's log and a pg_dump of the database into a new "
             "0700 directory; each file's SHA-256 and size go into the session log, so the "
             "evidence can be shown untouched later. The password reaches pg_dump in a "
             "password file, never its arguments nor its environment.",
             Risk.READ, plan_evidence, run_evidence, inputs=(EVIDENCE_DIR, BUCKET),
             applies=_contain, timeout=900),
        Step("upload", "Upload the evidence to S3",
             "A copy off the machine, encrypted at rest (server-side encryption).",
             Risk.CHANGE, plan_upload, run_upload,
             applies=lambda v: _contain(v) and bool(v.get("evidence-bucket")), timeout=900),
        Step("notify", "Tell the security team",
             "Slack, with the message shown first and editable (--set notify-text=...); the "
             "webhook URL is a secret and appears in no log, export or screen.",
             Risk.CHANGE, plan_notify, run_notify, inputs=(NOTIFY_TEXT,), applies=_contain,
             timeout=30),
        Step("way-back", "The way back: restore the policies",
             "When the incident is over: every policy this wizard changed gets its original "
             f"ingress rules back, from its {ORIGINAL} annotation.",
             Risk.CHANGE, plan_lift, run_lift, verify=verify_lift,
             applies=lambda v: bool(v.get("lift"))),
    ))
