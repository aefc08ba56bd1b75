"""Every kubectl client version the dispatcher carries (1.27-1.33) against the emulator.

The dispatcher at /usr/bin/kubectl picks its client binary from the server's /version, so
the emulator is started reporting each minor in turn and the core operations are run
through the dispatcher: discovery, a table, a strategic patch, apply (create then
configure, with server-side field validation found in the OpenAPI v3 index), can-i.
"""

from __future__ import annotations

import json

import api_objects as w
import pytest
from kube_support import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.slow, pytest.mark.timeout(120)]

NS = "mcp-production"
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: emergency-block, namespace: mcp-production}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/0, except: [%s/32]}
"""


@pytest.mark.parametrize("emulator", [{"seeded": False, "controllers": False, "minor": m}
                                      for m in range(27, 34)],
                         indirect=True, ids=[f"1.{m}" for m in range(27, 34)])
async def test_core_operations_with_each_client_version(emulator):
    minor = emulator.cluster.extras["api_server"].minor
    w.small_world(emulator.store)
    version = json.loads((await kubectl(emulator, "version", "-o", "json")).stdout)
    assert version["clientVersion"]["minor"].rstrip("+") == str(minor)
    assert version["serverVersion"]["gitVersion"] == f"v1.{minor}.0"
    rows = (await kubectl(emulator, "get", "pods", "-n", NS)).stdout.splitlines()
    assert rows[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and len(rows) == 7
    await kubectl(emulator, "patch", "hpa", "mcp-server-hpa", "-n", NS,
                  "-p", '{"spec":{"maxReplicas":20}}')
    assert emulator.store.get("horizontalpodautoscalers.autoscaling", NS,
                              "mcp-server-hpa")["spec"]["maxReplicas"] == 20
    created = await kubectl(emulator, "apply", "-f", "-", input=POLICY % "203.0.113.7")
    configured = await kubectl(emulator, "apply", "-f", "-", input=POLICY % "198.51.100.9")
    assert "created" in created.stdout and "configured" in configured.stdout
    can = await kubectl(emulator, "auth", "can-i", "--list", "-n", NS,
                        kubeconfig=emulator.readonly_kubeconfig)
    assert "[get list watch]" in can.stdout
    cannot = await kubectl(emulator, "auth", "can-i", "patch", "deployments", "-n", NS,
                           kubeconfig=emulator.readonly_kubeconfig, check=False)
    assert (cannot.returncode, cannot.stdout.strip()) == (1, "no")
