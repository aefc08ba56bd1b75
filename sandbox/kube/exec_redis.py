"""``redis-cli`` inside a Redis pod when no real Redis is wired in.

The runbook reads ``redis-cli info stats`` (keyspace hits/misses for the hit rate,
evicted keys) and ``redis-cli slowlog get 10``. These canned answers keep the shape of a
real Redis 7 (sections, ``field:value`` lines with CRLF, raw non-tty slowlog output) and
their counters grow with the emulator's clock, so two reads a minute apart differ the way
an operator expects. A sandbox with a real Redis registers a ``subprocess_handler``
for ``redis-cli`` instead.
"""

from __future__ import annotations

import hashlib

from .exec_handlers import ExecContext

_OPTIONS_WITH_ARGUMENT = {"-h", "-p", "-a", "-n", "-u", "--user", "--pass", "-s"}


def _counters(ctx: ExecContext) -> dict[str, int]:
    seed = hashlib.sha256(ctx.pod_name.encode()).digest()
    uptime = 86400 * 3 + int(ctx.cluster.clock.now()) % 86400
    commands = uptime * (900 + seed[0])
    misses = int(commands * 0.022)
    return {"uptime": uptime, "commands": commands, "hits": int(commands * 0.61),
            "misses": misses, "connections": uptime // 7, "expired": uptime * 3 + seed[1],
            "evicted": 0, "used_memory": (700 + seed[2]) * 2**20}


def _info(ctx: ExecContext, section: str) -> str:
    c = _counters(ctx)
    sections = {
        "server": [("redis_version", "7.2.4"), ("redis_mode", "standalone"), ("os", "Linux 5.15.0 x86_64"),
                   ("tcp_port", 6379), ("uptime_in_seconds", c["uptime"]),
                   ("uptime_in_days", c["uptime"] // 86400)],
        "clients": [("connected_clients", 48), ("blocked_clients", 0), ("maxclients", 10000)],
        "memory": [("used_memory", c["used_memory"]),
                   ("used_memory_human", f"{c['used_memory'] / 2**20:.2f}M"),
                   ("maxmemory", 2 * 2**30), ("maxmemory_human", "2.00G"),
                   ("maxmemory_policy", "allkeys-lru"), ("mem_fragmentation_ratio", "1.12")],
        "stats": [("total_connections_received", c["connections"]),
                  ("total_commands_processed", c["commands"]),
                  ("instantaneous_ops_per_sec", 930), ("rejected_connections", 0),
                  ("expired_keys", c["expired"]), ("evicted_keys", c["evicted"]),
                  ("keyspace_hits", c["hits"]), ("keyspace_misses", c["misses"]),
                  ("pubsub_channels", 2), ("latest_fork_usec", 812)],
        "replication": [("role", "master"), ("connected_slaves", 1)],
        "keyspace": [("db0", "keys=184213,expires=90211,avg_ttl=3412877")],
    }
    names = list(sections) if section in ("", "all", "everything", "default") else [section]
    out: list[str] = []
    for name in names:
        if name not in sections:
            continue
        out.append(f"# {name.capitalize()}")
        out += [f"{k}:{v}" for k, v in sections[name]]
        out.append("")
    return "\r\n".join(out) + ("\r\n" if out else "")


def _slowlog(ctx: ExecContext, count: int) -> str:
    now = int(ctx.cluster.clock.now())
    samples = [("KEYS", "session:*", 48211), ("HGETALL", "tool:catalog", 15872),
               ("ZRANGEBYSCORE", "ratelimit:10.0.4.17", 12040), ("SMEMBERS", "mcp:clients", 10911)]
    lines: list[str] = []
    for i, (cmd, key, micros) in enumerate(samples[:count]):
        lines += [str(731 - i), str(now - 600 * (i + 1)), str(micros), cmd, key,
                  f"10.0.{3 + i}.{21 + i}:5{1234 + i}", ""]
    return "\n".join(lines) + ("\n" if lines else "")


async def run_redis_cli(ctx: ExecContext) -> int:
    args, words = ctx.command[1:], []
    it = iter(args)
    for arg in it:
        if arg in _OPTIONS_WITH_ARGUMENT:
            next(it, None)
        elif not arg.startswith("-") or words:
            words.append(arg)
    if not words:
        await ctx.stderr.write("redis-cli: interactive mode needs a terminal; pass a command\n")
        return 1
    command = words[0].lower()
    if command == "ping":
        reply = "PONG\n"
    elif command == "info":
        reply = _info(ctx, words[1].lower() if len(words) > 1 else "")
    elif command == "slowlog" and len(words) > 1 and words[1].lower() == "get":
        reply = _slowlog(ctx, int(words[2]) if len(words) > 2 and words[2].isdigit() else 10)
    elif command == "slowlog" and len(words) > 1 and words[1].lower() == "len":
        reply = "4\n"
    elif command == "dbsize":
        reply = "184213\n"
    elif command in ("flushdb", "flushall", "bgsave"):
        reply = "OK\n" if command != "bgsave" else "Background saving started\n"
    elif command == "config" and len(words) > 2 and words[1].lower() == "get":
        values = {"maxmemory": str(2 * 2**30), "maxmemory-policy": "allkeys-lru"}
        reply = "".join(f"{k}\n{v}\n" for k, v in values.items() if words[2] in (k, "*"))
    else:
        reply = f"ERR unknown command '{words[0]}', with args beginning with: " + "".join(
            f"'{w}' " for w in words[1:]) + "\n"
    await ctx.stdout.write(reply)
    return 0
