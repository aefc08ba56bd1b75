"""Sources: the read-only Kubernetes JSON client (against the emulator) with its errors,
KUBECONFIG lookup and log streams; the PostgreSQL connection's name, timeout and
read-only session."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from health_support import PG_DSN, emulator

from console.config.model import KubernetesSettings, PostgresSettings
from console.logstream import PRESETS, LogBuffer, pod_log
from console.sources import postgres
from console.sources.kube import KubeError, KubeSource, kubeconfig_path

pytestmark = pytest.mark.timeout(60)


async def test_get_list_and_not_found(tmp_path):
    async with emulator(tmp_path / "kc"):
        source = KubeSource(KubernetesSettings(kubeconfig=str(tmp_path / "kc")))
        try:
            pods = await source.get("/api/v1/namespaces/mcp-production/pods",
                                    labelSelector="app=mcp-server")
            assert pods["kind"] == "PodList" and len(pods["items"]) == 6
            assert pods["metadata"]["resourceVersion"]
            with pytest.raises(KubeError) as err:
                await source.get("/apis/apps/v1/namespaces/mcp-production/deployments/nope")
            assert err.value.status == 404 and "nope" in err.value.message
        finally:
            await source.close()


async def test_kubeconfig_from_environment_and_unreachable_server(tmp_path, monkeypatch):
    kc = tmp_path / "kc"
    async with emulator(kc, seeded=False):
        pass
    monkeypatch.setenv("KUBECONFIG", f"{kc}:/nonexistent")
    settings = KubernetesSettings()
    assert kubeconfig_path(settings) == str(kc)
    source = KubeSource(settings, timeout=1)
    try:
        with pytest.raises(KubeError) as err:
            await source.get("/api/v1/nodes")
        assert err.value.status == 0 and "connect" in str(err.value).lower()
    finally:
        await source.close()


async def test_pod_log_tail_and_follow_with_presets(tmp_path):
    async with emulator(tmp_path / "kc", speed=10):
        source = KubeSource(KubernetesSettings(kubeconfig=str(tmp_path / "kc")))
        try:
            pods = await source.get("/api/v1/namespaces/mcp-production/pods",
                                    labelSelector="app=mcp-server")
            name = pods["items"][0]["metadata"]["name"]
            tail = [line async for line in pod_log(source, name, tail=20, follow=False)]
            assert 0 < len(tail) <= 20
            buffer = LogBuffer(cap=50)

            async def follow():
                async for line in pod_log(source, name, tail=10):
                    buffer.add(line)
                    if buffer.received >= 80:
                        return

            await asyncio.wait_for(follow(), 30)
        finally:
            await source.close()
    assert buffer.received == 80 and len(buffer.lines) == 50 and buffer.dropped == 30
    errors = next(p for p in PRESETS if p.name == "errors")
    assert all("error" in line.lower() for line in buffer.view(errors))
    assert next(p for p in PRESETS if p.name == "levels").matches("2025 WARN [x] slow")
    assert not next(p for p in PRESETS if p.name == "levels").matches("warn lower case")


async def test_postgres_connection_is_named_bounded_and_read_only():
    conn = await postgres.connect(PostgresSettings(dsn=PG_DSN, statement_timeout_ms=300))
    try:
        assert await conn.fetchval("SHOW application_name") == "mcp-ops"
        assert await conn.fetchval("SHOW statement_timeout") == "300ms"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TABLE mcp_ops_must_not_exist (x int)")
    finally:
        await conn.close()
    assert postgres.describe_dsn("postgresql://u@db.example:5432/app?sslmode=require") == \
        "db.example:5432/app"
