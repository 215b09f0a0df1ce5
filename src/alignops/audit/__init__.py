"""Tamper-evident audit log of every decision."""

from alignops.audit.log import AuditLog, AuditRecord, ChainProblem, VerifyReport, current_actor

__all__ = ["AuditLog", "AuditRecord", "ChainProblem", "VerifyReport", "current_actor"]
