"""``mcp-ops sandbox status``: the ground truth of a rehearsal, read from the platform.

What a wizard claims is checked here against the sandbox's own parts, never against a
session log: per region (each environment of the sandbox's config) the deployment's ready
replicas and image from its Kubernetes API, the database its ``postgres-credentials``
secret points at and whether that database answers as a primary that accepts writes or as
a replica; the Route53 target of the service record (moto); what the front door answers
(when the sandbox has one); and every notification the sandbox's webhook receivers got.

Each part is read on its own with a short timeout: a region that does not answer (a
rehearsed region failure) is reported as such and the rest is still read.
"""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from console.config import Config, load
from console.config.model import Environment
from console.sources import aws as aws_source
from console.sources.kube import KubeSource

TIMEOUT = 3.0


class NotASandbox(Exception):
    """The config is not one a running sandbox wrote."""


def sidecar(config_path: Path) -> dict[str, Any]:
    path = Path(str(config_path) + ".sandbox.json")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise NotASandbox(
            f"{config_path} is not the config of a running sandbox (no {path.name} beside "
            "it); start one with `mcp-ops sandbox` or `mcp-ops sandbox serve --config-out "
            "FILE` and pass --config FILE") from None


async def _guard(coro: Any) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(coro, TIMEOUT * 2)
    except Exception as exc:  # noqa: BLE001 - one part's failure is that part's answer
        return {"error": _reason(exc)}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _deployment(kube: KubeSource, env: Environment) -> dict[str, Any]:
    k = env.kubernetes
    body = await kube.get(f"/apis/apps/v1/namespaces/{k.namespace}/deployments/{k.deployment}")
    containers = body.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    status = body.get("status", {})
    return {"name": k.deployment, "desired": body.get("spec", {}).get("replicas", 0),
            "ready": status.get("readyReplicas", 0) or 0,
            "image": containers[0].get("image") if containers else None}


async def _database(kube: KubeSource, env: Environment, hosts: dict[str, str]) -> dict[str, Any]:
    k = env.kubernetes
    body = await kube.get(f"/api/v1/namespaces/{k.namespace}/secrets/{k.database_secret}")
    data = {key: base64.b64decode(value).decode(errors="replace")
            for key, value in (body.get("data") or {}).items()}
    host, port = data.get("host", ""), data.get("port", "5432")
    out: dict[str, Any] = {"secret": k.database_secret, "host": host, "port": port,
                           "database": data.get("database")}
    dsn = hosts.get(host) or hosts.get(f"{host}:{port}")
    if dsn is None:
        out.update(role="unknown", accepts_writes=False,
                   error=f"{host} is no database of this sandbox")
        return out
    out["address"] = dsn.split("@")[-1].split("/")[0]
    try:
        conn = await asyncpg.connect(dsn, timeout=TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        out.update(role="unreachable", accepts_writes=False, error=_reason(exc))
        return out
    try:
        in_recovery = await conn.fetchval("SELECT pg_is_in_recovery()")
        read_only = await conn.fetchval("SHOW default_transaction_read_only")
    finally:
        await conn.close()
    out.update(role="replica" if in_recovery else "primary",
               accepts_writes=not in_recovery and read_only == "off")
    return out


async def _region(name: str, env: Environment, hosts: dict[str, str]) -> dict[str, Any]:
    kube = KubeSource(env.kubernetes, timeout=TIMEOUT)
    try:
        deployment, database = await asyncio.gather(
            _guard(_deployment(kube, env)), _guard(_database(kube, env, hosts)))
    finally:
        await kube.close()
    return {"context": env.kubernetes.context, "deployment": deployment, "database": database}


async def _dns(env: Environment) -> dict[str, Any]:
    a = env.aws
    if not (a.route53_zone_id and a.route53_record):
        return {"error": "no Route53 zone or record configured"}
    session = aws_source.session(a)
    async with session.client("route53", **aws_source.client_kwargs(a, timeout=TIMEOUT)) as r53:
        page = await r53.list_resource_record_sets(
            HostedZoneId=a.route53_zone_id, StartRecordName=a.route53_record, MaxItems="5")
    wanted = a.route53_record.rstrip(".") + "."
    for record in page.get("ResourceRecordSets", []):
        if record["Name"] == wanted:
            values = [v["Value"] for v in record.get("ResourceRecords", [])]
            alias = record.get("AliasTarget", {}).get("DNSName")
            target = alias or (values[0] if values else None)
            return {"record": a.route53_record, "type": record["Type"], "target": target,
                    "dr_target": a.route53_dr_target,
                    "on_dr_target": bool(target and a.route53_dr_target and
                                         target.rstrip(".") == a.route53_dr_target.rstrip("."))}
    return {"record": a.route53_record, "error": "record not found in the zone"}


async def _get_json(url: str) -> tuple[int, Any]:
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        response = await client.get(url)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text[:200]


async def _front_door(url: str | None) -> dict[str, Any] | None:
    if not url:
        return None
    status, body = await _get_json(f"{url.rstrip('/')}/health")
    region = body.get("region") if isinstance(body, dict) else None
    return {"url": url, "http_status": status, "healthy": status == 200, "region": region}


async def _notifications(url: str | None) -> list[dict[str, Any]] | dict[str, Any]:
    if not url:
        return {"error": "this sandbox has no webhook receiver"}
    status, body = await _get_json(f"{url.rstrip('/')}/deliveries")
    if status != 200 or not isinstance(body, list):
        return {"error": f"HTTP {status} from the webhook receiver"}
    return [{"at": datetime.fromtimestamp(d["at"], UTC).isoformat(timespec="seconds"),
             "channel": d["channel"], "accepted": d["accepted"],
             "text": (d["body"].get("message") or d["body"].get("text"))
             if isinstance(d["body"], dict) else d["body"],
             "status": d["body"].get("status") if isinstance(d["body"], dict) else None}
            for d in body]


async def _scenario(info: dict[str, Any]) -> str | None:
    url, token = info.get("control_url"), info.get("control_token")
    if not url:
        return info.get("scenario")
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.get(f"{url}/v1/status",
                                    headers={"Authorization": f"Bearer {token}"})
    return response.json().get("scenario") if response.status_code == 200 else None


async def gather(config_path: Path, config: Config) -> dict[str, Any]:
    """Everything ``sandbox status`` reports, as JSON-ready data."""
    info = sidecar(config_path)
    hosts: dict[str, str] = info.get("databases") or {}
    names = list(config.environments)
    _, primary = config.environment(None)
    regions, dns, door, notes, scenario = await asyncio.gather(
        asyncio.gather(*(_region(n, config.environments[n], hosts) for n in names)),
        _guard(_dns(primary)), _guard(_front_door(info.get("front_door"))),
        _guard(_notifications(info.get("webhooks"))), _guard(_scenario(info)))
    return {
        "sandbox": {"id": info.get("id"), "config": str(config_path),
                    "scenario": scenario if isinstance(scenario, str) else None},
        "regions": dict(zip(names, regions, strict=True)),
        "dns": dns,
        "front_door": door if door else None,
        "notifications": notes,
    }


# ---- the report -------------------------------------------------------------------------
def _region_lines(name: str, region: dict[str, Any]) -> list[str]:
    lines = [f"{name}  (context {region['context']})"]
    d = region["deployment"]
    if "error" in d:
        lines.append(f"  deployment  unreachable: {d['error']}")
    else:
        lines.append(f"  deployment  {d['ready']}/{d['desired']} ready  {d['image']}")
    db = region["database"]
    if "host" not in db:
        lines.append(f"  database    secret unreadable: {db.get('error')}")
    else:
        where = db.get("address") or db["host"]
        role = db["role"]
        if role in ("primary", "replica"):
            role += ", accepts writes" if db["accepts_writes"] else ", read-only"
        lines.append(f"  database    {role}  {where}/{db['database']}")
        if db.get("error"):
            lines.append(f"              {db['error']}")
    return lines


def report(status: dict[str, Any]) -> str:
    s = status["sandbox"]
    lines = [f"sandbox {s['id']}  scenario {s['scenario'] or '?'}", ""]
    for name, region in status["regions"].items():
        lines += [*_region_lines(name, region), ""]
    dns = status["dns"]
    if "target" in dns:
        lines.append(f"dns         {dns['record']} -> {dns['target']}")
        lines.append(f"            {'on' if dns['on_dr_target'] else 'not on'} the DR target "
                     f"({dns['dr_target']})")
    else:
        lines.append(f"dns         {dns.get('error')}")
    door = status["front_door"]
    if door is None:
        lines.append("front door  none in this sandbox")
    elif "error" in door:
        lines.append(f"front door  no answer: {door['error']}")
    else:
        lines.append(f"front door  HTTP {door['http_status']} from "
                     f"{door['region'] or 'unknown region'}")
    notes = status["notifications"]
    if isinstance(notes, dict):
        lines.append(f"webhooks    {notes.get('error')}")
    else:
        lines.append(f"webhooks    {len(notes)} deliver{'y' if len(notes) == 1 else 'ies'}")
        for n in notes:
            text = str(n["text"]).replace("\n", " ")
            state = f" [{n['status']}]" if n["status"] else ""
            refused = "" if n["accepted"] else " (refused)"
            lines += textwrap.wrap(f"{n['at'][11:19]} {n['channel']}{state}{refused}: {text}",
                                   78, initial_indent="  ", subsequent_indent=" " * 11)
    return "\n".join(lines)


def main(config: str | None, fmt: str) -> int:
    path, loaded = load(config)
    data = asyncio.run(gather(path, loaded))
    print(json.dumps(data, indent=2) if fmt == "json" else report(data))
    return 0
