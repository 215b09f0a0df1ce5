"""Monitoring of deployed models: telemetry windows, alert rules, alerts, remediation."""
