"""The runbook's "Log Review" and "Log Analysis": logs of every pod, streamed and counted."""
