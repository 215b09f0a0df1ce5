"""The cost ledger: FOCUS billing exports and the project's own metered usage in one
table; allocation to models, teams and responsible-AI activities; budgets, anomalies and
forecasts (docs/finops.md)."""
