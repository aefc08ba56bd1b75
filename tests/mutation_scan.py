"""A scan of the source tree for anything that could change the platform outside a writer.

The rule (DESIGN.md, Safety): every action that changes anything goes through the
executor, and only the writer classes it hands to a granted step (``KubeWriter`` — the one
Kubernetes writer — and the other systems' writers in ``console/execution/writers/``) may
call a mutating client method. Every module under ``console/``, ``screens/`` and ``actions/`` is parsed (only the
sandbox, which *is* the emulated platform, is left out) and these are reported:

- a mutating Kubernetes method, called, referenced (``{"Pod": core.create_namespaced_pod}``)
  or named in a string (``getattr(api, "delete_namespaced_pod")``);
- a mutating Redis method (by name; ``set``/``delete``/... only with a value's arity, so
  ``asyncio.Event.set()`` is not one) or a writing command sent by ``execute_command``;
- ``call_api`` with a writing HTTP method, positional or ``method=``;
- a writing SQL statement: outside ``actions/`` any such string; in ``actions/`` (whose
  plans show the guide's commands as text) one passed to ``execute``/``fetch``...;
- outside ``console/execution/``: building the engine's writers or raw clients
  (``KubeWriter(...)``, ``api_client(...)``...), or reaching into another object's private
  handle (``reader._api``, ``ctx._clients``...).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_TREES = ("sandbox/",)
ENGINE = "console/execution/"
WRITER_CLASSES = {
    "console/execution/kube/writer.py": {"KubeWriter"},
    "console/execution/context.py": {"Mutations"},
    "console/execution/writers/sql.py": {"SqlWriter"},
    "console/execution/writers/redis.py": {"RedisWriter"},
    "console/execution/writers/aws.py": {"AwsWriter"},
    "console/execution/writers/http.py": {"WebhookWriter"},
}

KUBE_MUTATING = re.compile(
    r"^(create|patch|delete|replace|delete_collection|connect_post|connect_put|connect_patch|"
    r"connect_delete)_(namespaced_|cluster_custom_object|custom_object|node|namespace|"
    r"persistent_volume|cluster_role|storage_class|priority_class|mutating|validating|"
    r"custom_resource)\w*$")
KUBE_ALLOWED_CREATES = {"create_self_subject_rules_review", "create_self_subject_access_review"}

# redis-py methods that write; the ambiguous names count only with a Redis arity
REDIS_MUTATING = {
    "setex", "setnx", "psetex", "getset", "getdel", "getex", "mset", "msetnx", "setrange",
    "setbit", "bitfield", "bitop", "incr", "incrby", "incrbyfloat", "decr", "decrby",
    "unlink", "expire", "pexpire", "expireat", "pexpireat", "persist", "renamenx", "migrate",
    "hset", "hsetnx", "hmset", "hdel", "hincrby", "hincrbyfloat",
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "blpop", "brpop", "brpoplpush",
    "rpoplpush", "lmove", "blmove", "lmpop", "blmpop", "lrem", "lset", "ltrim", "linsert",
    "sadd", "srem", "spop", "smove", "sdiffstore", "sinterstore", "sunionstore",
    "zadd", "zrem", "zincrby", "zpopmin", "zpopmax", "bzpopmin", "bzpopmax", "zmpop", "bzmpop",
    "zremrangebyscore", "zremrangebyrank", "zremrangebylex", "zunionstore", "zinterstore",
    "zdiffstore", "zrangestore",
    "xadd", "xdel", "xtrim", "xack", "xclaim", "xautoclaim", "xreadgroup", "xgroup_create",
    "xgroup_destroy", "xgroup_delconsumer", "xgroup_createconsumer", "xgroup_setid",
    "pfadd", "pfmerge", "geoadd",
    "spublish", "evalsha", "fcall", "function_load", "function_delete", "function_flush",
    "function_restore", "script_load", "script_flush", "script_kill",
    "flushdb", "flushall", "config_set", "config_rewrite", "config_resetstat", "shutdown",
    "bgrewriteaof", "bgsave", "slaveof", "replicaof", "failover", "swapdb", "acl_setuser",
    "acl_deluser", "acl_save", "acl_load", "client_kill", "client_kill_filter",
    "client_pause", "slowlog_reset", "memory_purge", "module_load", "module_unload",
}
# name -> fewest positional arguments of the Redis call (Event.set(), Path.rename(p) are
# not). Redis APPEND is left to execute_command: Text.append(text, style) has its arity.
REDIS_AMBIGUOUS = {"set": 2, "delete": 1, "rename": 2, "move": 2, "copy": 2, "restore": 3,
                   "publish": 2, "eval": 2}
TWO_WORD = ("config", "acl", "script", "function", "client", "slowlog", "memory", "module",
            "xgroup")


def redis_command_of(name: str) -> tuple[str, ...]:
    """The Redis command a redis-py method sends: ``config_set`` -> (CONFIG, SET)."""
    head, _, rest = name.partition("_")
    if head in TWO_WORD and rest:
        return (head.upper(), rest.split("_")[0].upper())
    return (name.upper(),)


REDIS_WRITE_COMMANDS = {redis_command_of(n) for n in REDIS_MUTATING | set(REDIS_AMBIGUOUS)} | {
    ("DEL",), ("APPEND",), ("SAVE",)}
SQL_WRITE = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|DROP\s|TRUNCATE|ALTER\s|"
    r"CREATE\s+(TABLE|INDEX|ROLE|USER|DATABASE|EXTENSION)|GRANT\s|REVOKE\s|VACUUM\b|REINDEX\b)|"
    r"pg_reload_conf\(|pg_terminate_backend\(|pg_cancel_backend\(|pg_stat_reset\(",
    re.IGNORECASE)
SQL_RUNNERS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany"}
HTTP_WRITE = {"POST", "PUT", "PATCH", "DELETE"}
ENGINE_ONLY = {"KubeWriter", "Mutations", "Clients", "api_client", "postgres_writable",
               "_grant"}
PRIVATE_HANDLES = {"_api", "_clients", "_client", "_conn", "_configuration", "_reader",
                   "_granted", "_writer"}


def _ids_inside(nodes: list[ast.AST]) -> set[int]:
    return {id(n) for node in nodes for n in ast.walk(node)}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _redis_command(args: list[ast.expr]) -> tuple[str, ...] | None:
    words = [w for w in (_constant(a) for a in args[:2])]
    if not words or words[0] is None:
        return None
    parts = words[0].upper().split() + ([words[1].upper()] if len(words) > 1 and words[1]
                                        else [])
    for command in ((parts[0],), tuple(parts[:2])):
        if command in REDIS_WRITE_COMMANDS:
            return command
    return None


def _call_findings(node: ast.Call, in_actions: bool) -> list[str]:
    func = node.func
    attr = func.attr if isinstance(func, ast.Attribute) else None
    found = []
    if attr in REDIS_MUTATING or (attr in REDIS_AMBIGUOUS
                                  and len(node.args) >= REDIS_AMBIGUOUS[attr]):
        found.append(f"Redis {attr}()")
    elif attr == "execute_command" and (command := _redis_command(node.args)):
        found.append(f"Redis {' '.join(command)}")
    elif attr == "call_api":
        methods = [_constant(a) for a in node.args] + [
            _constant(k.value) for k in node.keywords if k.arg == "method"]
        if any(m and m.upper() in HTTP_WRITE for m in methods):
            found.append("Kubernetes call_api with a write method")
    elif in_actions and attr in SQL_RUNNERS:
        for arg in node.args:
            text = _constant(arg)
            if text and SQL_WRITE.search(text):
                found.append(f"SQL {text.strip()[:40]!r}")
    return found


def scan_source(source: str, name: str) -> list[str]:
    """Every mutating call or writing statement in ``source``, as 'name:line: what'."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    writers = WRITER_CLASSES.get(name, set())
    allowed = _ids_inside([n for n in ast.walk(tree)
                           if isinstance(n, ast.ClassDef) and n.name in writers])
    in_actions = name.startswith("actions/")
    in_engine = name.startswith(ENGINE)
    found = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        what: list[str] = []
        if isinstance(node, ast.Attribute):
            if KUBE_MUTATING.match(node.attr) and node.attr not in KUBE_ALLOWED_CREATES:
                what.append(f"Kubernetes {node.attr}")
            if not in_engine and node.attr in PRIVATE_HANDLES and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                what.append(f"private handle .{node.attr} of another object")
        elif isinstance(node, ast.Call):
            what += _call_findings(node, in_actions)
            callee = node.func.id if isinstance(node.func, ast.Name) else getattr(
                node.func, "attr", None)
            if not in_engine and callee in ENGINE_ONLY:
                what.append(f"{callee}() outside the executor")
        elif (text := _constant(node)) is not None and id(node) not in docs:
            if KUBE_MUTATING.match(text) and text not in KUBE_ALLOWED_CREATES:
                what.append(f"Kubernetes {text} named in a string")
            elif not in_actions and SQL_WRITE.search(text):
                what.append(f"SQL {text.strip()[:40]!r}")
        found += [(node.lineno, f"{name}:{node.lineno}: {w}") for w in what]
    return [text for _, text in sorted(found)]


def scanned_files() -> list[Path]:
    files = []
    for top in ("console", "screens", "actions"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if not path.relative_to(ROOT).as_posix().startswith(SKIPPED_TREES):
                files.append(path)
    return files


def writer_classes_present() -> dict[str, set[str]]:
    """The writer classes that really exist where WRITER_CLASSES says (a renamed or moved
    writer must not silently widen or narrow the exemption)."""
    present = {}
    for rel, names in WRITER_CLASSES.items():
        tree = ast.parse((ROOT / rel).read_text())
        present[rel] = {n.name for n in ast.walk(tree)
                        if isinstance(n, ast.ClassDef) and n.name in names}
    return present
