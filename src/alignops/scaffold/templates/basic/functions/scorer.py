"""A serverless handler: turns a request body into a risk score."""


def score(event: dict, context: object) -> dict:
    amount = float(event.get("amount", 0))
    return {"score": min(1.0, amount / 10_000)}
