"""The seeded world: the production platform of the operations guide, healthy and running.

``mcp-production`` holds ``mcp-server-production`` (6 replicas of
``pratiko/mcp-server:v1.1.0`` behind ``mcp-server-hpa`` and a PodDisruptionBudget),
``postgres-production-primary`` (and a replica), ``redis-production-master``, the
``postgres-credentials`` secret, configuration, volumes, network policies, the
``production-tls`` certificate and today's ``postgres-backup-YYYYMMDD`` Job; ``security``
runs Falco on every node; ``velero`` holds a week of ``daily-backup-YYYYMMDD`` plus
``latest-cross-region-backup``; ``monitoring`` runs Prometheus (the guide execs
``promtool`` there), Grafana and Alertmanager. Nodes are ``node-1``..``node-4``.

``extra_pods=N`` adds a Deployment ``mcp-load-extra`` with N small replicas for scale
tests, raising the nodes' pod capacity so they fit. Everything is created already Running
with creation times in the past, so the world is healthy from the first request.
"""

from __future__ import annotations

import copy
import gc

from . import seed_platform as platform
from . import seed_rbac
from . import seed_velero as velero
from . import seed_workloads as workloads
from .controllers.velero_content import snapshot

DAY = 86400.0


def _container(name: str, image: str, port: int | None, cpu: str, mem: str, cpu_limit: str,
               mem_limit: str, **extra) -> dict:
    c = {"name": name, "image": image,
         "resources": {"requests": {"cpu": cpu, "memory": mem},
                       "limits": {"cpu": cpu_limit, "memory": mem_limit}}}
    if port:
        c["ports"] = [{"name": extra.pop("port_name", "http"), "containerPort": port}]
    c.update(extra)
    return c


def _template(labels: dict, containers: list, **spec) -> dict:
    return {"metadata": {"labels": labels, **({"annotations": spec.pop("annotations")}
                                             if "annotations" in spec else {})},
            "spec": {"containers": containers, **spec}}


def _http_probe(path: str, port: int, delay: int, period: int) -> dict:
    return {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": delay,
            "periodSeconds": period}


def _secret_env(name: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": "postgres-credentials",
                                                         "key": key}}}


MCP_SERVER = _template(
    {"app": "mcp-server", "app.kubernetes.io/name": "mcp-server",
     "app.kubernetes.io/instance": "production"},
    [_container(
        "mcp-server", "pratiko/mcp-server:v1.1.0", 8080, "500m", "1Gi", "2000m", "4Gi",
        env=[{"name": "ENVIRONMENT", "value": "production"}, _secret_env("DB_HOST", "host"),
             _secret_env("DB_NAME", "database"), _secret_env("DB_USER", "username"),
             _secret_env("DB_PASSWORD", "password")],
        envFrom=[{"configMapRef": {"name": "mcp-server-config"}}],
        readinessProbe=_http_probe("/health", 8080, 10, 5),
        livenessProbe=_http_probe("/health", 8080, 30, 10),
        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])],
    serviceAccountName="mcp-server-production", volumes=[{"name": "tmp", "emptyDir": {}}],
    annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "8080",
                 "prometheus.io/path": "/metrics"},
)


def _postgres(role: str) -> dict:
    pg_env = [_secret_env("POSTGRES_USER", "username"), _secret_env("POSTGRES_PASSWORD", "password"),
              _secret_env("POSTGRES_DB", "database"),
              {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}]
    ready = {"exec": {"command": ["pg_isready", "-U", "pratiko_app"]},
             "initialDelaySeconds": 5, "periodSeconds": 10}
    return _template(
        {"app": "postgresql", "role": role},
        [_container("postgres", "postgres:15", 5432, "1", "4Gi", "4", "8Gi", port_name="postgres",
                    env=pg_env, readinessProbe=ready,
                    volumeMounts=[{"name": "data", "mountPath": "/var/lib/postgresql/data"}])],
        serviceAccountName="postgres",
        volumes=[{"name": "data", "persistentVolumeClaim": {
            "claimName": f"postgres-production-{role}-data"}}],
    )


REDIS = _template(
    {"app": "redis", "role": "master"},
    [_container("redis", "redis:7.2", 6379, "250m", "512Mi", "1", "2Gi", port_name="redis",
                args=["redis-server", "--maxmemory", "1536mb", "--maxmemory-policy", "allkeys-lru"],
                readinessProbe={"exec": {"command": ["redis-cli", "ping"]},
                                "initialDelaySeconds": 3, "periodSeconds": 5},
                volumeMounts=[{"name": "data", "mountPath": "/data"}])],
    volumes=[{"name": "data", "persistentVolumeClaim": {
        "claimName": "redis-production-master-data"}}],
)

SMALL = {  # namespace, name, replicas, template
    "prometheus-server": ("monitoring", 1, _template(
        {"app": "prometheus"},
        [_container("prometheus-server", "prom/prometheus:v2.53.0", 9090, "500m", "2Gi", "2",
                    "4Gi", readinessProbe=_http_probe("/-/ready", 9090, 5, 5))],
        serviceAccountName="prometheus-server")),
    "grafana": ("monitoring", 1, _template(
        {"app": "grafana"},
        [_container("grafana", "grafana/grafana:11.1.0", 3000, "100m", "256Mi", "500m", "512Mi",
                    readinessProbe=_http_probe("/api/health", 3000, 5, 10))])),
    "coredns": ("kube-system", 2, _template(
        {"app": "coredns", "k8s-app": "kube-dns"},
        [_container("coredns", "registry.k8s.io/coredns/coredns:v1.11.3", 53, "100m", "70Mi",
                    "500m", "170Mi", port_name="dns")])),
    "velero": ("velero", 1, _template(
        {"app": "velero", "component": "velero"},
        [_container("velero", "velero/velero:v1.14.1", 8085, "500m", "128Mi", "1", "512Mi",
                    port_name="metrics")], serviceAccountName="velero")),
    "cert-manager": ("cert-manager", 1, _template(
        {"app": "cert-manager"},
        [_container("cert-manager-controller", "quay.io/jetstack/cert-manager-controller:v1.15.3",
                    9402, "50m", "64Mi", "200m", "256Mi", port_name="metrics")],
        serviceAccountName="cert-manager")),
}

FALCO = _template(
    {"app": "falco", "app.kubernetes.io/name": "falco"},
    [_container("falco", "falcosecurity/falco:0.38.2", 8765, "100m", "512Mi", "1000m", "1024Mi",
                port_name="web", securityContext={"privileged": True})],
    serviceAccountName="falco",
)
KUBE_PROXY = _template(
    {"k8s-app": "kube-proxy", "app": "kube-proxy"},
    [_container("kube-proxy", "registry.k8s.io/kube-proxy:v1.31.4", None, "100m", "64Mi",
                "200m", "128Mi")], hostNetwork=True, priorityClassName="system-node-critical",
)
ALERTMANAGER = _template(
    {"app": "alertmanager"},
    [_container("alertmanager", "prom/alertmanager:v0.27.0", 9093, "50m", "64Mi", "200m",
                "256Mi")],
)
BACKUP_JOB = _template(
    {"app": "postgres-backup"},
    [{"name": "pg-dump", "image": "postgres:15",
      "command": ["/bin/sh", "-c", "pg_dump -Fc pratiko_mcp_production | aws s3 cp - "
                  "s3://pratiko-backups/production/postgres/$(date +%Y%m%d).dump"],
      "env": [_secret_env("PGHOST", "host"), _secret_env("PGUSER", "username"),
              _secret_env("PGPASSWORD", "password")]}],
    restartPolicy="OnFailure",
)
EXTRA = _template(
    {"app": "mcp-load-extra"},
    [{"name": "worker", "image": "pratiko/mcp-load:v1.0.0"}],
)


def seed_world(cluster, extra_pods: int = 0) -> None:
    store, clock = cluster.store, cluster.clock
    base_pods = 40
    max_pods = max(110, (base_pods + extra_pods) // 4 + 40)
    platform.namespaces(store, clock)
    nodes = platform.nodes(store, clock, max_pods=max_pods)
    placer = workloads.Placer(nodes, cluster.extras)
    platform.configuration(store, clock)
    platform.services(store, clock)
    platform.volumes(store, clock)
    workloads.deployment(store, clock, placer, namespace="mcp-production",
                         name="mcp-server-production", replicas=6, template=MCP_SERVER,
                         age_days=210, rollout_age_days=3,
                         nodes=["node-1", "node-2", "node-3", "node-4"])
    recreate = {"type": "Recreate"}
    workloads.deployment(store, clock, placer, namespace="mcp-production",
                         name="postgres-production-primary", replicas=1,
                         template=_postgres("primary"), age_days=300, rollout_age_days=41,
                         strategy=recreate, nodes=["node-3"])
    workloads.deployment(store, clock, placer, namespace="mcp-production",
                         name="postgres-production-replica", replicas=1,
                         template=_postgres("replica"), age_days=300, rollout_age_days=41,
                         strategy=recreate, nodes=["node-4"])
    workloads.deployment(store, clock, placer, namespace="mcp-production",
                         name="redis-production-master", replicas=1, template=REDIS,
                         age_days=300, rollout_age_days=41, strategy=recreate, nodes=["node-2"])
    for name, (namespace, replicas, template) in SMALL.items():
        workloads.deployment(store, clock, placer, namespace=namespace, name=name,
                             replicas=replicas, template=template, age_days=250,
                             rollout_age_days=20,
                             nodes=["node-4", "node-3"] if namespace != "kube-system" else None)
    workloads.daemonset(store, clock, placer, namespace="security", name="falco", template=FALCO,
                        age_days=150)
    workloads.daemonset(store, clock, placer, namespace="kube-system", name="kube-proxy",
                        template=KUBE_PROXY, age_days=400)
    workloads.statefulset(store, clock, placer, namespace="monitoring", name="alertmanager",
                          replicas=1, template=ALERTMANAGER, service="alertmanager", age_days=250)
    platform.policies(store, clock)
    seed_rbac.rbac(store, clock, platform._ago)
    platform.certificate(store, clock)
    _backup_job(store, clock, placer)
    names = velero.backups(store, clock)
    daily = sorted(n for n in names if n.startswith("daily-backup-"))
    velero.velero_config(store, clock, store.peek("backups.velero.io", "velero", daily[-1])[
        "metadata"]["creationTimestamp"])
    platform.issuer(store, clock)
    contents = cluster.extras.setdefault("velero_contents", {})
    for name in names:
        spec = store.peek("backups.velero.io", "velero", name)["spec"]
        contents[name] = snapshot(store, spec)
    if extra_pods > 0:
        _extra(store, clock, placer, extra_pods)
    _recent_events(cluster)
    if extra_pods > 0:
        # Ten thousand pods are millions of small objects: a full cyclic-GC pass over them
        # stalls the event loop for ~0.4 s. They hold no reference cycles (reference
        # counting frees them), so take them out of the collector's sight.
        gc.freeze()


def _backup_job(store, clock, placer) -> None:
    """Today's ``postgres-backup-YYYYMMDD`` (the guide greps its log for success)."""
    today = clock.datetime().replace(hour=1, minute=0, second=0, microsecond=0)
    started = min(today.timestamp(), clock.now() - 1200)
    name = f"postgres-backup-{today:%Y%m%d}"
    workloads.finished_job(store, clock, placer, namespace="mcp-production", name=name,
                           template=BACKUP_JOB, started_at=started, seconds=318)


def _extra(store, clock, placer, count: int) -> None:
    workloads.deployment(store, clock, placer, namespace="mcp-production", name="mcp-load-extra",
                         replicas=count, template=copy.deepcopy(EXTRA), age_days=2,
                         rollout_age_days=2)


def _recent_events(cluster) -> None:
    """A couple of events from the last hour, so ``get events`` is not empty at start."""
    store, clock = cluster.store, cluster.clock
    pods = sorted((p for p in store.iter("pods", "mcp-production")
                   if (p["metadata"].get("labels") or {}).get("app") == "mcp-server"),
                  key=lambda p: p["metadata"]["name"])
    if not pods:
        return
    pod = pods[0]
    first, last = clock.now() - 1500, clock.now() - 1380
    ip = pod["status"]["podIP"]
    store.create("events", {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{pod['metadata']['name']}.17f3a2c1d0e4b5a6",
                     "namespace": "mcp-production"},
        "involvedObject": {"kind": "Pod", "namespace": "mcp-production",
                           "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"],
                           "apiVersion": "v1", "fieldPath": "spec.containers{mcp-server}"},
        "reason": "Unhealthy", "type": "Warning", "count": 2,
        "message": f'Readiness probe failed: Get "http://{ip}:8080/health": context deadline '
                   "exceeded (Client.Timeout exceeded while awaiting headers)",
        "firstTimestamp": clock.timestamp(first), "lastTimestamp": clock.timestamp(last),
        "source": {"component": "kubelet", "host": pod["spec"]["nodeName"]},
        "reportingComponent": "kubelet", "reportingInstance": pod["spec"]["nodeName"],
    })
