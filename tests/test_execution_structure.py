"""The executor is the only way to change anything: a scan of the source tree.

Every module outside ``actions/`` and ``console/execution/`` (and the sandbox, which *is*
the emulated platform) is parsed, and any call of a mutating Kubernetes, Redis or SQL
method — or a string that is a writing SQL statement — is reported with its file and line.
The scanner is checked on a snippet of each kind first, so it cannot pass by seeing nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = ("actions/", "console/execution/", "console/sandbox/")

KUBE_MUTATING = re.compile(
    r"^(create|patch|delete|replace|delete_collection|connect_post|connect_put)_"
    r"(namespaced_|cluster_custom_object|custom_object|node|namespace|persistent_volume\b|"
    r"cluster_role|storage_class|priority_class|mutating|validating|custom_resource)")
KUBE_ALLOWED_CREATES = {"create_self_subject_rules_review", "create_self_subject_access_review"}
REDIS_MUTATING = {"flushdb", "flushall", "config_set", "hset", "hdel", "setex", "setnx", "lpush",
                  "rpush", "sadd", "srem", "zadd", "zrem", "incr", "incrby", "decr", "expire",
                  "unlink", "mset", "rename", "shutdown", "bgrewriteaof", "slaveof",
                  "replicaof", "acl_setuser", "acl_deluser", "script_flush", "memory_purge"}
REDIS_WRITE_COMMANDS = {c.upper() for c in REDIS_MUTATING} | {"SET", "DEL", "CONFIG", "FLUSHDB"}
SQL_WRITE = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|DROP\s|TRUNCATE|ALTER\s|"
    r"CREATE\s+(TABLE|INDEX|ROLE|USER|DATABASE|EXTENSION)|GRANT\s|REVOKE\s|VACUUM|REINDEX)|"
    r"pg_reload_conf\(|pg_terminate_backend\(|pg_cancel_backend\(|pg_stat_reset\(",
    re.IGNORECASE)
HTTP_WRITE = {"POST", "PUT", "PATCH", "DELETE"}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def scan_source(source: str, name: str) -> list[str]:
    """Every mutating call or writing statement in ``source``, as 'name:line: what'."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if KUBE_MUTATING.match(attr) and attr not in KUBE_ALLOWED_CREATES:
                found.append(f"{name}:{node.lineno}: Kubernetes {attr}()")
            elif attr in REDIS_MUTATING:
                found.append(f"{name}:{node.lineno}: Redis {attr}()")
            elif attr == "execute_command" and node.args and isinstance(node.args[0], ast.Constant) \
                    and str(node.args[0].value).upper() in REDIS_WRITE_COMMANDS:
                found.append(f"{name}:{node.lineno}: Redis {node.args[0].value}")
            elif attr == "call_api" and any(isinstance(a, ast.Constant) and a.value in HTTP_WRITE
                                            for a in node.args):
                found.append(f"{name}:{node.lineno}: Kubernetes call_api with a write method")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docs and SQL_WRITE.search(node.value):
            found.append(f"{name}:{node.lineno}: SQL {node.value.strip()[:40]!r}")
    return found


def scanned_files() -> list[Path]:
    files = []
    for top in ("console", "screens", "actions"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(ALLOWED):
                files.append(path)
    return files


def test_scanner_sees_each_kind_of_mutation():
    snippet = '''
async def f(apps, r, conn, api):
    await apps.patch_namespaced_deployment_scale("x", "ns", {})
    await apps.delete_namespaced_pod("x", "ns")
    await r.flushdb()
    await r.execute_command("CONFIG", "SET", "maxmemory", "1")
    await conn.execute("ALTER SYSTEM SET max_connections = 200")
    await conn.execute("SELECT pg_reload_conf()")
    await api.call_api("/api/v1/x", "DELETE")
    await authz.create_self_subject_rules_review({})
    await conn.fetch("SELECT count(*) FROM pg_stat_activity")
'''
    found = scan_source(snippet, "snippet")
    assert len(found) == 7, found
    assert not any("self_subject" in f or "pg_stat_activity" in f for f in found)


def test_no_module_outside_the_executor_calls_a_mutating_method():
    files = scanned_files()
    assert len(files) >= 10  # the tree is really scanned
    found = [hit for path in files
             for hit in scan_source(path.read_text(), path.relative_to(ROOT).as_posix())]
    assert found == [], "mutating calls outside actions/ and console/execution/:\n" + "\n".join(found)
