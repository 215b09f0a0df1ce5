"""Notifications: alert routes (Slack, signed webhook, e-mail, log), an outbox, retries."""
