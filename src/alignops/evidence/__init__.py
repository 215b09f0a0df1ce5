"""Responsible-AI evidence: fairness, explainability, drift and performance of a model on
its data, content-addressed and reproducible."""
