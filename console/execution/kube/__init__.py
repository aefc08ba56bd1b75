"""Kubernetes for wizard steps: one client stack (:mod:`.api`), a reader every step gets,
one writer for granted change steps, exec with stdin, drain, and operations as values.

``await ctx.kube()`` -> :class:`KubeReader`; ``await ctx.mutations.kube()`` ->
:class:`KubeWriter`; :mod:`.ops` holds the changes whose command a plan shows and the
writer runs (``writer.apply(op)``).
"""

from console.sources.kube import KubeError

from .api import KubeApi, Resource, api_client
from .drain import DrainEvent, DrainOptions
from .exec import ExecError, ExecLine, ExecSent, ExecTarget, PodExec, run_in_pod
from .reader import KubeReader, Revision, response_json
from .writer import KubeWriter

__all__ = ["DrainEvent", "DrainOptions", "ExecError", "ExecLine", "ExecSent", "ExecTarget",
           "KubeApi", "KubeError", "KubeReader", "KubeWriter", "PodExec", "Resource",
           "Revision", "api_client", "response_json", "run_in_pod"]
