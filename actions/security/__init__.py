"""The runbook's "Security Operations" and security emergency wizards."""
