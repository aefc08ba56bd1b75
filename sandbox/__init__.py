"""The local platform for trying and rehearsing: the Kubernetes API emulator
(``python -m sandbox.kube``), the MCP-server simulator, PostgreSQL/Redis/moto orchestration
and the scenarios. It may import ``console`` (config, sources...); nothing in ``console`` but
the command layer (``console.cli``, ``console.commands``) imports it."""
