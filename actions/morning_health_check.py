"""The ``morning-health-check`` wizard — the guide's "Morning Health Checks" as steps.

The guide runs ``health-check.sh production report`` and expects every service HEALTHY,
responses under 500 ms, utilisation under 80 % and no critical alert. Here each component
(service endpoints, pods, database, cache, backups) is its own read step, collected by the
dashboard's collector of that component alone and judged by the same rules as the
dashboard and ``mcp-ops check`` (``ctx.health``), so the operator sees each verdict with
its reasons as it comes in. A component step never fails the wizard — the point is to see
everything — the summary step does: it fails when the environment is CRITICAL or a
component could not be reached.
"""

from __future__ import annotations

from console.execution.model import Wizard

from .library.health import component_check_step, summary_step

WIZARD = Wizard(
    id="morning-health-check", title="Morning health check",
    section="Daily Operations › Morning Health Checks",
    when="Every morning, and after any change: is everything HEALTHY?",
    steps=(
        component_check_step("service", "Service endpoints", "/health, /health/database and "
                             "/health/dependencies answer 2xx in under 500 ms; error rate "
                             "< 1 %, P95 < 500 ms."),
        component_check_step("pods", "Pods and resources", "Every pod Ready, no restarts "
                             "rising; CPU < 70 %, memory < 80 % on average."),
        component_check_step("database", "Database", "Connections < 80 % of max, no query "
                             "slower than 1 s, minimal blocking, replication lag < 10 s."),
        component_check_step("cache", "Cache", "Redis memory < 80 %, hit rate > 95 %, "
                             "minimal evictions."),
        component_check_step("backups", "Backups", "The latest Velero backup Completed and "
                             "less than 26 h old."),
        summary_step("All services should show HEALTHY and no critical alerts.",
                     script="./scripts/health-check.sh"),
    ),
)
