"""The step library the wizard families share: each function returns a
:class:`~console.execution.model.Step` (or helps one run).

- :func:`component_check_step`, :func:`health_check_step`, :func:`summary_step` — health,
  one component or several, judged as the dashboard judges it (:mod:`.health`);
- :func:`wait_for_rollout_step`, :func:`follow_rollout` — ``kubectl rollout status`` with
  progress (:mod:`.rollout`);
- :func:`velero_backup_step` — a Velero backup to Completed, verified (:mod:`.velero`);
- :func:`manual_step` — "do this by hand, then continue", who confirmed what logged
  (:mod:`.manual`);
- :func:`notify_step` — the status page or Slack, the text shown first (:mod:`.notify`);
- :func:`diagnosis_step`, :func:`judge` — findings judged by the thresholds
  (:mod:`.diagnosis`);
- :func:`kube_change_step`, :func:`kube_plan` — a plan whose ``kubectl`` commands are
  made from the operations the writer runs (:mod:`.plan`).
"""

from .diagnosis import diagnosis_step, findings, judge
from .health import component_check_step, health_check_step, summary_step
from .manual import manual_step
from .notify import notify_step
from .plan import apply_all, kube_change_step, kube_plan
from .rollout import follow_rollout, rollout_settled, wait_for_rollout_step
from .velero import velero_backup_step

__all__ = ["apply_all", "component_check_step", "diagnosis_step", "findings",
           "follow_rollout", "health_check_step", "judge", "kube_change_step", "kube_plan",
           "manual_step", "notify_step", "rollout_settled", "summary_step",
           "velero_backup_step", "wait_for_rollout_step"]
