"""Robust seasonal anomaly scores for series of service metrics and daily costs."""
