"""Sources: the Kubernetes source's GETs without kubernetes-asyncio (usual kubeconfigs:
token, token file, CA, proxy from the environment), and its fall-back to kubernetes-asyncio's
ApiClient for an exec plugin (against the emulator)."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from pathlib import Path

import pytest
import yaml
from health_support import emulator

from console.config.model import KubernetesSettings
from console.sources.kube import KubeSource
from console.sources.kube_direct import read_endpoint

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parent.parent
PODS = "/api/v1/namespaces/mcp-production/pods"


def _rewrite(path: Path, change) -> Path:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_get_and_watch_without_importing_kubernetes_asyncio(tmp_path):
    kc = tmp_path / "kc"
    script = (
        "import asyncio, json, sys\n"
        "from console.config.model import KubernetesSettings\n"
        "from console.sources.kube import KubeSource\n"
        "async def main():\n"
        f"    s = KubeSource(KubernetesSettings(kubeconfig={str(kc)!r}), timeout=10)\n"
        f"    body = await s.get({PODS!r}, labelSelector='app=mcp-server')\n"
        "    version = body['metadata']['resourceVersion']\n"
        f"    async for event in s.watch({PODS!r}, version, seconds=1,\n"
        "                                 labelSelector='app=mcp-server'):\n"
        "        pass\n"
        "    await s.close()\n"
        "    print(json.dumps([len(body['items']), 'kubernetes_asyncio' in sys.modules]))\n"
        "asyncio.run(main())\n")
    async with emulator(kc):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), 50)
    assert proc.returncode == 0
    assert json.loads(out) == [6, False]


async def test_token_file_relative_to_the_kubeconfig(tmp_path):
    kc = tmp_path / "kc"
    async with emulator(kc):
        token = yaml.safe_load(kc.read_text())["users"][0]["user"].pop("token")
        (tmp_path / "token").write_text(token + "\n")

        def token_file(doc):
            doc["users"][0]["user"] = {"tokenFile": "token"}

        _rewrite(kc, token_file)
        endpoint = read_endpoint(str(kc))
        assert endpoint is not None and endpoint.headers == {"Authorization": f"Bearer {token}"}
        source = KubeSource(KubernetesSettings(kubeconfig=str(kc)), timeout=10)
        try:
            assert len((await source.get(PODS, labelSelector="app=mcp-server"))["items"]) == 6
        finally:
            await source.close()


async def test_exec_plugin_goes_through_kubernetes_asyncio(tmp_path):
    kc = tmp_path / "kc"
    async with emulator(kc):
        token = yaml.safe_load(kc.read_text())["users"][0]["user"]["token"]
        credential = json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",
                                 "kind": "ExecCredential", "status": {"token": token}})

        def exec_plugin(doc):
            doc["users"][0]["user"] = {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": sys.executable, "args": ["-c", f"print({credential!r})"]}}

        _rewrite(kc, exec_plugin)
        assert read_endpoint(str(kc)) is None
        source = KubeSource(KubernetesSettings(kubeconfig=str(kc)), timeout=10)
        try:
            assert len((await source.get(PODS, labelSelector="app=mcp-server"))["items"]) == 6
        finally:
            await source.close()


def test_endpoint_of_a_kubeconfig(tmp_path, monkeypatch):
    kc = tmp_path / "kc"
    kc.write_text(yaml.safe_dump({
        "clusters": [{"name": "a", "cluster": {"server": "https://k8s.example:6443/",
                                               "insecure-skip-tls-verify": True}},
                     {"name": "b", "cluster": {"server": "http://10.0.0.1:8080",
                                               "proxy-url": "http://proxy.example:3128"}}],
        "users": [{"name": "u", "user": {"username": "ann", "password": "secret"}},
                  {"name": "p", "user": {"auth-provider": {"name": "oidc"}}}],
        "contexts": [{"name": "a", "context": {"cluster": "a", "user": "u"}},
                     {"name": "b", "context": {"cluster": "b"}},
                     {"name": "p", "context": {"cluster": "a", "user": "p"}}],
        "current-context": "a"}))
    monkeypatch.setenv("HTTPS_PROXY", "http://envproxy.example:8080")
    monkeypatch.setenv("NO_PROXY", "")
    a = read_endpoint(str(kc))
    assert a is not None and a.host == "https://k8s.example:6443"
    assert a.headers == {"Authorization": "Basic YW5uOnNlY3JldA=="}
    assert a.ssl_context is not None and a.ssl_context.verify_mode == ssl.CERT_NONE
    assert str(a.proxy) == "http://envproxy.example:8080"
    monkeypatch.setenv("NO_PROXY", "k8s.example")
    assert read_endpoint(str(kc)).proxy is None  # type: ignore[union-attr]
    b = read_endpoint(str(kc), "b")
    assert b is not None and b.headers == {} and b.ssl_context is None
    assert b.proxy == "http://proxy.example:3128"
    assert read_endpoint(str(kc), "p") is None  # an auth-provider: kubernetes-asyncio's
    assert read_endpoint(str(kc), "nope") is None
    assert read_endpoint(str(tmp_path / "missing")) is None
