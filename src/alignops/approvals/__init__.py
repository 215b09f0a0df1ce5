"""Signed approvals: SSH signatures, the governance file, and who may approve what."""
