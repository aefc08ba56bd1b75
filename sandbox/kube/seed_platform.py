"""Builders for the seeded world's non-workload objects: nodes, namespaces, configuration,
services, volumes, autoscaling and disruption policy, network policies, the TLS
certificate and its issuer. (Velero's objects are in :mod:`seed_velero`.)

Names, labels and values come from the operations guide (``mcp-production``,
``postgres-credentials`` with username/password/host/database, ``mcp-server-hpa`` 6-20 at
70 % CPU, ``daily-backup-YYYYMMDD``, ``latest-cross-region-backup``, ``production-tls``),
so every command in the guide finds what it expects.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from .clock import Clock
from .controllers.certificates import issued_status
from .store import Obj, Store

DAY = 86400.0
NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "mcp-production",
              "security", "velero", "monitoring", "cert-manager")
ZONES = ("eu-south-1a", "eu-south-1b", "eu-south-1c", "eu-south-1a")
CA_PEM = ("-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n"
          "cm5ldGVzMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEwMTAwMDAwMFowFTETMBEGA1UE\n"
          "-----END CERTIFICATE-----\n")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _ago(clock: Clock, days: float) -> str:
    return clock.timestamp(clock.now() - days * DAY)


def namespaces(store: Store, clock: Clock) -> None:
    for i, name in enumerate(NAMESPACES):
        store.create("namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "creationTimestamp": _ago(clock, 400 - i),
                         "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
        })
        store.create("configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                         "creationTimestamp": _ago(clock, 400 - i)},
            "data": {"ca.crt": CA_PEM},
        })
        store.create("serviceaccounts", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": name,
                         "creationTimestamp": _ago(clock, 400 - i)},
        })


def nodes(store: Store, clock: Clock, *, count: int = 4, max_pods: int = 110) -> list[Obj]:
    out = []
    now = clock.timestamp()
    for i in range(1, count + 1):
        name = f"node-{i}"
        zone = ZONES[(i - 1) % len(ZONES)]
        ip = f"10.0.{(i - 1) % 3 + 1}.{10 + i}"
        machine = hashlib.md5(name.encode()).hexdigest()
        resources = {"cpu": "8", "memory": "32Gi", "pods": str(max_pods),
                     "ephemeral-storage": "100Gi"}
        conditions = [
            {"type": kind, "status": status, "lastHeartbeatTime": now,
             "lastTransitionTime": _ago(clock, 40), "reason": reason, "message": message}
            for kind, status, reason, message in (
                ("MemoryPressure", "False", "KubeletHasSufficientMemory",
                 "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID",
                 "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            )
        ]
        out.append(store.create("nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "creationTimestamp": _ago(clock, 40 + i), "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": "",
                "node.kubernetes.io/instance-type": "m5.2xlarge",
                "topology.kubernetes.io/region": "eu-south-1", "topology.kubernetes.io/zone": zone,
            }, "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                               "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"],
                     "providerID": f"aws:///{zone}/i-0{machine[:16]}"},
            "status": {
                "capacity": dict(resources), "allocatable": dict(resources),
                "conditions": conditions,
                "addresses": [{"type": "InternalIP", "address": ip},
                              {"type": "Hostname", "address": name},
                              {"type": "InternalDNS",
                               "address": f"ip-{ip.replace('.', '-')}.eu-south-1.compute.internal"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": machine, "systemUUID": str(uuid.UUID(machine)),
                    "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                    "kernelVersion": "6.1.109-118.189.amzn2023.x86_64",
                    "osImage": "Amazon Linux 2023.5.20240916",
                    "containerRuntimeVersion": "containerd://1.7.22",
                    "kubeletVersion": "v1.31.4", "kubeProxyVersion": "v1.31.4",
                    "operatingSystem": "linux", "architecture": "amd64",
                },
            },
        }))
    return out


def configuration(store: Store, clock: Clock) -> None:
    ns = "mcp-production"
    secrets = [
        ("postgres-credentials", "Opaque", 120, {
            "username": "pratiko_app", "password": "sandbox-postgres-password",
            "host": "postgres-production-primary.mcp-production.svc.cluster.local",
            "port": "5432", "database": "pratiko_mcp_production"}),
        ("redis-credentials", "Opaque", 118, {"password": "sandbox-redis-password"}),
        ("mcp-server-secrets", "Opaque", 64, {"jwt-signing-key": "sandbox-jwt-key",
                                              "api-key-salt": "sandbox-salt"}),
        ("production-tls", "kubernetes.io/tls", 30, {"tls.crt": CA_PEM, "tls.key": "redacted"}),
        ("grafana-admin", "Opaque", 200, {"admin-user": "admin", "admin-password": "sandbox"}),
    ]
    for name, kind, age, data in secrets:
        namespace = "monitoring" if name == "grafana-admin" else ns
        store.create("secrets", {
            "apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _ago(clock, age)},
            "data": {k: _b64(v) for k, v in data.items()},
        })
    store.create("configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "mcp-server-config", "namespace": ns,
                     "creationTimestamp": _ago(clock, 64)},
        "data": {"ENVIRONMENT": "production", "LOG_LEVEL": "info", "MCP_SERVER_PORT": "8080",
                 "DATABASE_POOL_SIZE": "20", "DATABASE_POOL_TIMEOUT": "30",
                 "REDIS_HOST": "redis-production-master", "REDIS_PORT": "6379",
                 "CACHE_TTL_SECONDS": "300", "REQUEST_TIMEOUT_SECONDS": "30"},
    })
    for namespace, name in (("mcp-production", "mcp-server-production"),
                            ("mcp-production", "postgres"), ("velero", "velero"),
                            ("security", "falco"), ("monitoring", "prometheus-server"),
                            ("cert-manager", "cert-manager")):
        store.create("serviceaccounts", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _ago(clock, 120),
                         "labels": {"app.kubernetes.io/name": name}},
        })


def services(store: Store, clock: Clock) -> None:
    table = [
        ("default", "kubernetes", "10.100.0.1", None, [("https", 443, 443)]),
        ("kube-system", "kube-dns", "10.100.0.10", {"k8s-app": "kube-dns"},
         [("dns", 53, 53), ("dns-tcp", 53, 53)]),
        ("mcp-production", "mcp-server-production", "10.100.12.40", {"app": "mcp-server"},
         [("http", 80, 8080)]),
        ("mcp-production", "postgres-production-primary", "10.100.14.21",
         {"app": "postgresql", "role": "primary"}, [("postgres", 5432, 5432)]),
        ("mcp-production", "postgres-production-replica", "10.100.14.22",
         {"app": "postgresql", "role": "replica"}, [("postgres", 5432, 5432)]),
        ("mcp-production", "redis-production-master", "10.100.15.30",
         {"app": "redis", "role": "master"}, [("redis", 6379, 6379)]),
        ("monitoring", "prometheus-server", "10.100.20.5", {"app": "prometheus"},
         [("http", 80, 9090)]),
        ("monitoring", "grafana", "10.100.20.6", {"app": "grafana"}, [("http", 80, 3000)]),
        ("monitoring", "alertmanager", "None", {"app": "alertmanager"}, [("http", 9093, 9093)]),
    ]
    for namespace, name, ip, selector, ports in table:
        spec: Obj = {
            "type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "ports": [{"name": n, "port": p, "targetPort": t,
                       "protocol": "UDP" if n == "dns" else "TCP"} for n, p, t in ports],
        }
        if selector:
            spec["selector"] = selector
        store.create("services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _ago(clock, 120),
                         "labels": {"app": (selector or {}).get("app", name)}},
            "spec": spec, "status": {"loadBalancer": {}},
        })


def volumes(store: Store, clock: Clock) -> None:
    for namespace, name, size, app in (
            ("mcp-production", "postgres-production-primary-data", "100Gi", "postgresql"),
            ("mcp-production", "postgres-production-replica-data", "100Gi", "postgresql"),
            ("mcp-production", "redis-production-master-data", "10Gi", "redis"),
            ("mcp-production", "postgres-recovery-pvc", "100Gi", "postgresql"),
            ("monitoring", "prometheus-server", "50Gi", "prometheus")):
        store.create("persistentvolumeclaims", {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": _ago(clock, 120),
                         "labels": {"app": app},
                         "annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                         "volume.kubernetes.io/storage-provisioner":
                                             "ebs.csi.aws.com"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                     "volumeMode": "Filesystem", "resources": {"requests": {"storage": size}},
                     "volumeName": f"pvc-{uuid.uuid5(uuid.NAMESPACE_URL, name)}"},
            "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                       "capacity": {"storage": size}},
        })


def policies(store: Store, clock: Clock) -> None:
    ns = "mcp-production"
    store.create("horizontalpodautoscalers.autoscaling", {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "mcp-server-hpa", "namespace": ns, "creationTimestamp": _ago(clock, 90)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": "mcp-server-production"},
            "minReplicas": 6, "maxReplicas": 20,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 70}}}],
        },
        "status": {"currentReplicas": 6, "desiredReplicas": 6},
    })
    store.create("poddisruptionbudgets.policy", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "mcp-server-pdb", "namespace": ns, "creationTimestamp": _ago(clock, 90)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "mcp-server"}},
                 "unhealthyPodEvictionPolicy": "IfHealthyBudget"},
    })
    netpols = [
        ("allow-mcp-server-ingress", {"matchLabels": {"app": "mcp-server"}},
         [{"ports": [{"protocol": "TCP", "port": 8080}]}]),
        ("postgres-allow-mcp-server", {"matchLabels": {"app": "postgresql"}},
         [{"from": [{"podSelector": {"matchLabels": {"app": "mcp-server"}}}],
           "ports": [{"protocol": "TCP", "port": 5432}]}]),
    ]
    for name, selector, ingress in netpols:
        store.create("networkpolicies.networking.k8s.io", {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": _ago(clock, 60)},
            "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": ingress},
        })


def certificate(store: Store, clock: Clock) -> None:
    cert = {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "production-tls", "namespace": "mcp-production",
                     "creationTimestamp": _ago(clock, 300), "generation": 1},
        "spec": {"secretName": "production-tls", "commonName": "mcp.pratiko.ai",
                 "dnsNames": ["mcp.pratiko.ai", "api.mcp.pratiko.ai"],
                 "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer",
                               "group": "cert-manager.io"},
                 "duration": "2160h0m0s", "renewBefore": "720h0m0s",
                 "privateKey": {"algorithm": "RSA", "size": 2048, "rotationPolicy": "Always"}},
    }
    cert["status"] = issued_status(cert, clock.now() - 30 * DAY, clock, revision=4)
    for cond in cert["status"]["conditions"]:
        cond["lastTransitionTime"] = _ago(clock, 30)
    store.create("certificates.cert-manager.io", cert)


def issuer(store: Store, clock: Clock) -> None:
    store.create("clusterissuers.cert-manager.io", {
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt-prod", "creationTimestamp": _ago(clock, 300)},
        "spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory",
                          "email": "ops@pratiko.ai",
                          "privateKeySecretRef": {"name": "letsencrypt-prod-account-key"},
                          "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ACMEAccountRegistered",
                                   "message": "The ACME account was registered with the ACME server",
                                   "lastTransitionTime": _ago(clock, 300), "observedGeneration": 1}],
                   "acme": {"uri": "https://acme-v02.api.letsencrypt.org/acme/acct/123456789"}},
    })
