"""Realistic log lines for the emulated pods, one style per pod role.

The runbook reviews logs with greps: ``error``, ``auth|unauthorized|forbidden``,
``slow|timeout``, ``authentication failed``, an IPv4 regex piped into ``uniq -c |
sort -nr`` for top talkers, ``Starting|Started|Failed`` around start-up, ``ERROR|WARN|
Exception`` while following, and ``warning|error`` in Falco's output. These renderers
write lines those greps find, in each program's own format: the MCP server logs like a
Python service (requests with client IPs from a skewed population, slow queries,
connection timeouts, auth failures, tracebacks), Falco, PostgreSQL and Redis like
themselves. Every function takes the RNG it must draw from, so a caller that seeds it
per time bucket gets the same lines on every read (see ``log_book.py``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from . import pod_roles

# client population: a few heavy talkers, a long tail (Zipf-like weights)
CLIENT_IPS = [f"10.0.{3 + i % 5}.{17 + 7 * i}" for i in range(12)] + [
    f"203.0.113.{10 + 9 * i}" for i in range(8)] + [f"198.51.100.{4 + 11 * i}" for i in range(10)]
CLIENT_WEIGHTS = [1 / (rank + 1) ** 1.15 for rank in range(len(CLIENT_IPS))]
SUSPICIOUS_IPS = ["203.0.113.66", "192.0.2.201", "198.51.100.250"]
USERS = ["svc-reporting", "alice@pratiko.ai", "ci-deployer", "legacy-integration", "admin"]
TOOLS = ["search_documents", "get_regulation", "summarize_case", "list_sources", "fetch_page"]
ENDPOINTS = [("POST", "/mcp/v1/tools/call", 6), ("POST", "/mcp/v1/resources/read", 3),
             ("GET", "/mcp/v1/tools/list", 2), ("GET", "/mcp/v1/prompts/list", 1),
             ("POST", "/mcp/v1/sessions", 1)]
SLOW_QUERIES = [
    "SELECT d.id, d.title FROM documents d JOIN chunks c ON c.document_id = d.id WHERE c.embedding <-> $1 < 0.3",
    "SELECT * FROM audit_log WHERE created_at > $1 ORDER BY created_at DESC",
    "UPDATE sessions SET last_seen = now() WHERE client_id = $1",
]


def app_time(t: float) -> str:
    """Python logging's asctime: ``2025-06-01 12:00:00,123``."""
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%d %H:%M:%S") + f",{d.microsecond // 1000:03d}"


def _client(rng: random.Random) -> str:
    return rng.choices(CLIENT_IPS, CLIENT_WEIGHTS)[0]


def _mcp(level: str, logger: str, t: float, message: str) -> str:
    return f"{app_time(t)} {level:<5} [{logger}] {message}"


def mcp_normal(rng: random.Random, t: float) -> list[str]:
    roll = rng.random()
    if roll < 0.82:
        method, path, _ = rng.choices(ENDPOINTS, [e[2] for e in ENDPOINTS])[0]
        status = 201 if path == "/mcp/v1/sessions" else 200
        extra = f" tool={rng.choice(TOOLS)}" if path.endswith("call") else ""
        return [_mcp("INFO", "mcp.http", t, f'{_client(rng)} - "{method} {path} HTTP/1.1" '
                                            f"{status} {rng.randint(4, 180)}ms{extra}")]
    if roll < 0.92:
        return [_mcp("INFO", "mcp.session", t, f"session {rng.getrandbits(48):012x} opened by "
                                               f"client {_client(rng)} (agent=claude-desktop/0.9.{rng.randint(0, 4)})")]
    if roll < 0.97:
        return [_mcp("INFO", "mcp.cache", t, f"cache hit ratio {rng.uniform(0.93, 0.99):.2f} "
                                             f"over last 60s ({rng.randint(800, 2400)} lookups)")]
    return [_mcp("INFO", "mcp.db", t, f"pool stats: size=20 in_use={rng.randint(3, 14)} "
                                      f"waiting=0")]


# the MCP server's kinds of problem entry, in the order mcp_problem draws them, and how
# often each comes in an everyday mix; a scenario weighs them its own way (log_book.LogMix)
MCP_PROBLEMS = ("slow_query", "db_timeout", "auth_failed", "unauthorized", "forbidden",
                "upstream_timeout", "redis_timeout", "server_error")
EVERYDAY_WEIGHTS = (4, 2, 4, 3, 2, 1, 2, 1)


def mcp_problem(rng: random.Random, t: float,
                weights: tuple[float, ...] | None = None) -> list[str]:
    """One problem entry; ``weights`` (one per :data:`MCP_PROBLEMS`) choose its kind."""
    kind = rng.choices(range(8), weights or EVERYDAY_WEIGHTS)[0]
    ip = _client(rng) if rng.random() < 0.5 else rng.choice(SUSPICIOUS_IPS)
    if kind == 0:
        return [_mcp("WARN", "mcp.db", t, f"slow query took {rng.randint(1001, 4800)}ms: "
                                          f"{rng.choice(SLOW_QUERIES)}")]
    if kind == 1:
        return [_mcp("ERROR", "mcp.db", t, "database connection timeout after 30000ms "
                                           "(pool 20/20 in use, postgres-production-primary:5432)")]
    if kind == 2:
        return [_mcp("WARN", "mcp.auth", t, f'authentication failed for user "{rng.choice(USERS)}" '
                                            f"from {ip}: invalid API key")]
    if kind == 3:
        return [_mcp("WARN", "mcp.http", t, f'{ip} - "POST /mcp/v1/tools/call HTTP/1.1" 401 '
                                            f"Unauthorized {rng.randint(1, 6)}ms - unauthorized: token expired")]
    if kind == 4:
        return [_mcp("WARN", "mcp.http", t, f'{ip} - "GET /mcp/v1/admin/config HTTP/1.1" 403 '
                                            f"Forbidden {rng.randint(1, 4)}ms - forbidden: missing scope admin")]
    if kind == 5:
        return [_mcp("ERROR", "mcp.upstream", t, "timeout calling https://api.pratiko.ai/v1/embeddings "
                                                 "after 10.0s (attempt 3/3)")]
    if kind == 6:
        return [_mcp("WARN", "mcp.cache", t, "Redis command timeout after 500ms "
                                             f"(GET session:{rng.getrandbits(32):08x}), serving uncached")]
    tool = rng.choice(TOOLS)
    return [
        _mcp("ERROR", "mcp.http", t, f'{_client(rng)} - "POST /mcp/v1/tools/call HTTP/1.1" 500 '
                                     f"Internal Server Error {rng.randint(30, 900)}ms tool={tool}"),
        _mcp("ERROR", "mcp.tools", t, f"Exception in tool handler {tool}"),
        "Traceback (most recent call last):",
        f'  File "/app/mcp/tools/{tool}.py", line {rng.randint(40, 220)}, in run',
        "    rows = await conn.fetch(query, *params)",
        '  File "/usr/local/lib/python3.11/site-packages/asyncpg/connection.py", line 690, in fetch',
        "asyncpg.exceptions.QueryCanceledError: canceling statement due to statement timeout",
    ]


def mcp_start(t: float) -> list[tuple[float, str]]:
    steps = [(0.0, "INFO", "mcp.server", "Starting MCP server v2.4.1 (pid 1, python 3.11.9)"),
             (0.21, "INFO", "mcp.config", "Loaded configuration for environment=production"),
             (0.84, "INFO", "mcp.db", "Connected to PostgreSQL postgres-production-primary:5432 "
                                      "(pool min=5 max=20)"),
             (1.32, "INFO", "mcp.cache", "Connected to Redis redis-production-master:6379"),
             (2.41, "INFO", "mcp.server", "Started MCP server on 0.0.0.0:8080 in 2.41s")]
    return [(t + dt, _mcp(level, logger, t + dt, msg)) for dt, level, logger, msg in steps]


def mcp_end(t: float, reason: str) -> list[tuple[float, str]]:
    if reason == "OOMKilled":
        return [(t - 20, _mcp("WARN", "mcp.server", t - 20, "memory usage 1.86GiB is 93% of limit 2GiB")),
                (t - 4, _mcp("WARN", "mcp.server", t - 4, "memory usage 1.98GiB is 99% of limit 2GiB"))]
    if reason == "Error":
        return [(t - 0.2, _mcp("ERROR", "mcp.server", t - 0.2, "Failed to serve: unhandled exception")),
                (t - 0.2, "Traceback (most recent call last):"),
                (t - 0.2, "RuntimeError: event loop is closed"),
                (t, _mcp("ERROR", "mcp.server", t, "MCP server exited with status 1"))]
    return [(t - 1, _mcp("INFO", "mcp.server", t - 1, "Received SIGTERM, shutting down gracefully")),
            (t, _mcp("INFO", "mcp.server", t, "Shutdown complete"))]


# ---- Falco ---------------------------------------------------------------------------
FALCO_RULES = [
    ("Notice", "Unexpected connection to K8s API Server from container", 5),
    ("Notice", "Redirect stdout/stdin to network connection", 2),
    ("Informational", "Contact EC2 Instance Metadata Service From Container", 3),
    ("Warning", "Sensitive file opened for reading by non-trusted program (file=/etc/shadow)", 2),
    ("Warning", "Terminal shell in container (shell=bash parent=runc)", 2),
    ("Error", "File below /etc opened for writing (file=/etc/ld.so.preload)", 1),
    ("Critical", "Drop and execute new binary in container", 0.3),
]


def falco_time(t: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{d.microsecond:06d}000+0000"


def falco_line(rng: random.Random, t: float, problem: bool) -> list[str]:
    # the everyday noise reaches Warning; Error and above come only from a scenario
    # (``falco-alert``), so the daily security check has something real to find
    rules = FALCO_RULES[3:5] if problem else FALCO_RULES[:3]
    priority, rule, _ = rng.choices(rules, [r[2] for r in rules])[0]
    return [f"{falco_time(t)}: {priority} {rule} (user=root user_loginuid=-1 "
            f"command={rng.choice(['curl', 'bash', 'python3', 'cat'])} "
            f"container_id={rng.getrandbits(48):012x} image=ghcr.io/pratiko/mcp-server "
            f"k8s.ns=mcp-production)"]


def falco_start(t: float) -> list[tuple[float, str]]:
    ctime = datetime.fromtimestamp(t, UTC).strftime("%a %b %d %H:%M:%S %Y")
    msgs = ["Falco version: 0.37.1 (x86_64)",
            "Falco initialized with configuration file: /etc/falco/falco.yaml",
            "Loading rules from file /etc/falco/falco_rules.yaml",
            "Starting health webserver with threadiness 2, listen address 0.0.0.0, port 8765",
            "Enabled event sources: syscall",
            "Opening 'syscall' source with modern BPF probe."]
    return [(t + i * 0.05, f"{ctime}: {m}") for i, m in enumerate(msgs)]


# ---- PostgreSQL and Redis ----------------------------------------------------------------
def pg_prefix(t: float, pid: int) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%d %H:%M:%S") + f".{d.microsecond // 1000:03d} UTC [{pid}]"


def postgres_line(rng: random.Random, t: float, problem: bool) -> list[str]:
    pid = rng.randint(200, 32000)
    if problem:
        return [f"{pg_prefix(t, pid)} " + rng.choice([
            f"LOG:  duration: {rng.uniform(1000, 6000):.3f} ms  statement: {rng.choice(SLOW_QUERIES)}",
            "ERROR:  canceling statement due to statement timeout",
            f'FATAL:  password authentication failed for user "{rng.choice(USERS)}"',
            "LOG:  could not receive data from client: Connection reset by peer"])]
    return [f"{pg_prefix(t, pid)} " + rng.choice([
        "LOG:  checkpoint starting: time",
        f"LOG:  checkpoint complete: wrote {rng.randint(200, 4000)} buffers ({rng.uniform(1, 9):.1f}%); "
        f"0 WAL file(s) added, 0 removed, 1 recycled",
        'LOG:  automatic vacuum of table "pratiko_mcp_production.public.sessions": index scans: 1',
        f"LOG:  connection received: host={_client(rng)} port={rng.randint(32768, 60999)}",
        'LOG:  connection authorized: user=mcp_app database=pratiko_mcp_production'])]


def postgres_start(t: float) -> list[tuple[float, str]]:
    msgs = ["LOG:  starting PostgreSQL 15.6 on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit",
            'LOG:  listening on IPv4 address "0.0.0.0", port 5432',
            "LOG:  database system was shut down at " + app_time(t - 30)[:19] + " UTC",
            "LOG:  database system is ready to accept connections"]
    return [(t + i * 0.1, f"{pg_prefix(t + i * 0.1, 1)} {m}") for i, m in enumerate(msgs)]


def redis_prefix(t: float, role: str = "M") -> str:
    d = datetime.fromtimestamp(t, UTC)
    return f"1:{role} " + d.strftime("%d %b %Y %H:%M:%S") + f".{d.microsecond // 1000:03d}"


def redis_line(rng: random.Random, t: float, problem: bool) -> list[str]:
    if problem:
        return [f"{redis_prefix(t)} # WARNING: client {_client(rng)} timeout, "
                f"{rng.randint(1, 9)} commands in slowlog over 10000 microseconds"]
    return [f"{redis_prefix(t)} * " + rng.choice([
        "100 changes in 300 seconds. Saving...",
        f"Background saving started by pid {rng.randint(100, 9000)}",
        "DB saved on disk", "Background saving terminated with success"])]


def redis_start(t: float) -> list[tuple[float, str]]:
    return [(t, f"{redis_prefix(t, 'C')} # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"),
            (t + 0.01, f"{redis_prefix(t + 0.01, 'C')} # Redis version=7.2.4, bits=64, pid=1, just started"),
            (t + 0.2, f"{redis_prefix(t + 0.2)} * Ready to accept connections tcp")]


# ---- the nightly PostgreSQL backup job ---------------------------------------------------
def backup_run(t: float, failed: bool) -> list[tuple[float, str]]:
    """One run of the dump job: what ``grep -i "success\\|error"`` looks for."""
    day = datetime.fromtimestamp(t, UTC).strftime("%Y%m%d")
    steps = [(0.0, f"Starting backup of pratiko_mcp_production to "
                   f"s3://pratiko-backups/production/postgres/{day}.dump"),
             (0.4, "pg_dump: last built-in OID is 16383"),
             (1.1, "pg_dump: reading schemas"), (2.9, "pg_dump: dumping contents of table public.documents"),
             (12.0, "pg_dump: dumping contents of table public.audit_log")]
    if failed:
        steps.append((16.0, "pg_dump: error: Dumping the contents of table \"audit_log\" failed: "
                             "PQgetResult() failed."))
        steps.append((16.2, "ERROR: backup failed, upload aborted"))
    else:
        steps.append((17.0, f"upload: - to s3://pratiko-backups/production/postgres/{day}.dump"))
        steps.append((17.3, "Backup completed successfully (1.27 GiB in 17s, 0 errors)"))
    return [(t + dt, f"{app_time(t + dt)} {msg}") for dt, msg in steps]


def generic_line(rng: random.Random, t: float, problem: bool) -> list[str]:
    level = "WARN" if problem else "INFO"
    return [_mcp(level, "app", t, "request queue backlog growing" if problem else
                 f"processed {rng.randint(1, 40)} items")]


def start_lines(role: str, t: float, reason: str | None = None) -> list[tuple[float, str]]:
    """What a container writes as it starts (``reason``: how this run ended, if it did)."""
    if role == pod_roles.BACKUP_JOB:
        return backup_run(t, failed=reason not in (None, "Completed"))
    return {pod_roles.MCP: mcp_start, pod_roles.FALCO: falco_start,
            pod_roles.POSTGRES: postgres_start, pod_roles.REDIS: redis_start}.get(
        role, lambda t: [(t, _mcp("INFO", "app", t, "Starting"))])(t)


def end_lines(role: str, t: float, reason: str) -> list[tuple[float, str]]:
    if role == pod_roles.BACKUP_JOB:
        return []
    if role == pod_roles.MCP:
        return mcp_end(t, reason)
    return [(t, _mcp("ERROR" if reason != "Completed" else "INFO", "app", t,
                     f"exiting ({reason})"))]


def line(role: str, rng: random.Random, t: float, problem: bool,
         weights: tuple[float, ...] | None = None) -> list[str]:
    """One log entry (a traceback is several lines) at time ``t``; ``weights`` choose the
    kind of an MCP server's problem entry (default: the everyday mix)."""
    if role == pod_roles.MCP:
        return mcp_problem(rng, t, weights) if problem else mcp_normal(rng, t)
    renderer = {pod_roles.FALCO: falco_line, pod_roles.POSTGRES: postgres_line,
                pod_roles.REDIS: redis_line}.get(role, generic_line)
    return renderer(rng, t, problem)
