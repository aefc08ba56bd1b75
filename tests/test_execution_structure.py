"""The executor's writers are the only way to change anything: a scan of the source tree.

Every module of ``console/``, ``screens/`` and ``actions/`` (the sandbox excepted: it *is*
the emulated platform) is parsed by :mod:`mutation_scan`; a mutating Kubernetes, Redis or
SQL call anywhere but inside the writers (``KubeWriter``...) is reported
with its file and line. The scanner is checked on snippets of each kind first — every
Redis write it knows included — so it cannot pass by seeing nothing.
"""

from __future__ import annotations

import pytest
from mutation_scan import (
    REDIS_AMBIGUOUS,
    REDIS_MUTATING,
    ROOT,
    WRITER_CLASSES,
    redis_command_of,
    scan_source,
    scanned_files,
    writer_classes_present,
)

SNIPPET = '''
async def f(apps, r, conn, api, ctx, core):
    await apps.patch_namespaced_deployment_scale("x", "ns", {})
    await apps.delete_namespaced_pod("x", "ns")
    await r.flushdb()
    await r.execute_command("CONFIG", "SET", "maxmemory", "1")
    await r.execute_command("CONFIG SET", "maxmemory", "1")
    await conn.execute("ALTER SYSTEM SET max_connections = 200")
    await conn.execute("SELECT pg_reload_conf()")
    await api.call_api("/api/v1/x", "DELETE")
    await api.call_api("/api/v1/x", method="POST")
    await api.call_api("/api/v1/x", method="post")
    creators = {"Pod": core.create_namespaced_pod}
    await getattr(core, "delete_namespaced_service")("x", "ns")
    await authz.create_self_subject_rules_review({})
    await conn.fetch("SELECT count(*) FROM pg_stat_activity")
    await r.execute_command("CONFIG", "GET", "maxmemory")
    await api.call_api("/api/v1/x", method="GET")
'''


def test_scanner_sees_each_kind_of_mutation():
    found = scan_source(SNIPPET, "console/snippet.py")
    assert len(found) == 12, "\n".join(found)
    assert not any("self_subject" in f or "pg_stat_activity" in f or "GET" in f.split(": ")[1]
                   and "call_api" not in f for f in found)
    assert sum("call_api" in f for f in found) == 3  # positional and keyword forms
    assert any("create_namespaced_pod" in f for f in found)  # referenced, not called
    assert any("named in a string" in f for f in found)  # getattr(api, "delete_...")


@pytest.mark.parametrize("name", sorted(REDIS_MUTATING | set(REDIS_AMBIGUOUS)))
def test_scanner_sees_every_redis_write(name):
    arity = max(REDIS_AMBIGUOUS.get(name, 1), 1)
    args = ", ".join(f'"a{i}"' for i in range(arity))
    command = "DEL" if name == "delete" else " ".join(redis_command_of(name))
    snippet = (f"async def f(r):\n    await r.{name}({args})\n"
               f"    await r.execute_command({command!r}, \"k\")\n")
    found = scan_source(snippet, "console/snippet.py")
    assert [f.split(": ", 1)[0] for f in found] == ["console/snippet.py:2",
                                                    "console/snippet.py:3"], found


def test_scanner_leaves_look_alikes_alone():
    snippet = '''
async def f(event, lines, path, r, api, text, loop):
    event.set()
    lines.append("x")
    text.append("x", "bold")
    path.rename(other)
    task = loop.create_task(g())
    await r.execute_command("INFO")
    await r.execute_command("SLOWLOG", "GET", 10)
    await api.call_api("/api/v1/x", "GET")
    self._api.close()
'''
    assert scan_source(snippet, "screens/snippet.py") == []
    # a plan shows the guide's command as text; only running it is a write
    plan = 'def plan(ctx):\n    return Plan("vacuum", ("psql -c \'VACUUM ANALYZE\'",))\n'
    assert scan_source(plan, "actions/snippet.py") == []
    run = 'async def run(conn):\n    await conn.execute("VACUUM ANALYZE")\n'
    assert len(scan_source(run, "actions/snippet.py")) == 1


def test_read_steps_cannot_reach_a_raw_client_or_build_a_writer():
    snippet = '''
async def run(ctx):
    reader = await ctx.kube()
    k8s.AppsV1Api(reader._api)
    ctx._clients.postgres_writable()
    KubeWriter(await api_client(ctx.env.kubernetes), ctx.env.kubernetes)
'''
    found = scan_source(snippet, "actions/snippet.py")
    assert len(found) == 5, "\n".join(found)
    # the engine itself builds them
    assert scan_source(snippet, "console/execution/snippet.py") == []


def test_only_the_writer_classes_own_bodies_are_exempt():
    snippet = '''
class KubeWriter:
    async def scale(self, apps):
        await apps.patch_namespaced_deployment_scale("x", "ns", {})

class KubeReader:
    async def sneak(self, apps):
        await apps.patch_namespaced_deployment_scale("x", "ns", {})

async def helper(apps):
    await apps.delete_namespaced_pod("x", "ns")
'''
    found = scan_source(snippet, "console/execution/kube/writer.py")
    assert [f.split(":")[1] for f in found] == ["8", "11"], found
    assert len(scan_source(snippet, "console/execution/other.py")) == 3


def test_the_writer_classes_exist_where_the_scanner_exempts_them():
    assert writer_classes_present() == WRITER_CLASSES


def test_no_module_outside_the_writers_calls_a_mutating_method():
    files = scanned_files()
    names = {path.relative_to(ROOT).as_posix() for path in files}
    assert len(files) >= 10  # the tree is really scanned
    assert {"actions/backups/pitr_recovery.py", "actions/scaling.py",
            "console/execution/kube/writer.py", "screens/log_viewer.py"} <= names
    assert not any(n.startswith("sandbox/") for n in names)
    found = [hit for path in files
             for hit in scan_source(path.read_text(), path.relative_to(ROOT).as_posix())]
    assert found == [], "mutating calls outside the executor's writers:\n" + "\n".join(found)
