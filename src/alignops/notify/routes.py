"""Which routes a notification goes to (decision 0028).

A notification goes to

1. every ``AlertRoute`` whose ``target`` is one the caller names (a policy's
   ``alertTarget``, a rule's targets) or whose name it names (a ``Budget``'s
   ``routes``), whatever its ``match``;
2. every ``AlertRoute`` with a non-empty ``match`` that selects it: its severity is in
   ``match.severities`` (empty: any) and it carries every label of ``match.labels``;
3. for a named target that no ``AlertRoute`` declares: a route of its own if the target
   needs no secret (``log``, ``mailto:``), named after the target; a ``slack://`` or
   ``webhook://`` target without a route cannot be sent (its URL or key would be missing)
   and is reported.

A route whose ``match`` is empty takes only what is addressed to its target: a route
declared to hold a Slack URL for a policy's ``alertTarget`` does not also become a
catch-all for every other alert and budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from alignops.manifests.kinds.alertroute import AlertRoute, RateLimit, RouteMatch, SecretRef
from alignops.notify.notification import Notification
from alignops.notify.targets import Target, TargetError, parse_target

__all__ = ["Route", "RouteTable", "Unrouted"]

_DEFAULT_RATE = RateLimit().max_per_hour


@dataclass(frozen=True)
class Route:
    """A destination: an ``AlertRoute``, or a bare target that needs no secret."""

    name: str
    target: Target
    secret_ref: SecretRef | None = None
    match: RouteMatch | None = None
    max_per_hour: int = _DEFAULT_RATE
    declared: bool = True
    """False for a route made from a bare ``log``/``mailto:`` target."""

    @classmethod
    def from_resource(cls, route: AlertRoute) -> Route:
        spec = route.spec
        match = spec.match if (spec.match.severities or spec.match.labels) else None
        return cls(
            name=route.metadata.name,
            target=parse_target(spec.target),
            secret_ref=spec.secret_ref,
            match=match,
            max_per_hour=spec.rate_limit.max_per_hour,
        )

    @classmethod
    def implicit(cls, target: Target) -> Route:
        return cls(name=target.text, target=target, declared=False)

    def selects(self, notification: Notification) -> bool:
        """Whether this route's ``match`` takes ``notification`` (never, without one)."""
        if self.match is None:
            return False
        if self.match.severities and notification.severity not in self.match.severities:
            return False
        return all(notification.labels.get(k) == v for k, v in self.match.labels.items())


@dataclass(frozen=True)
class Unrouted:
    """A named target the notification cannot go to, and why."""

    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.target}: {self.reason}"


@dataclass(frozen=True)
class Selection:
    routes: list[Route] = field(default_factory=list)
    unrouted: list[Unrouted] = field(default_factory=list)


class RouteTable:
    """The routes of a config repository, by name and by target."""

    def __init__(self, routes: Sequence[AlertRoute]) -> None:
        self.routes: list[Route] = []
        self.invalid: dict[str, Unrouted] = {}
        """Routes whose target cannot be used (``webhook://host:port`` with a port that is
        not a number), by name: reported when used, never raised."""
        for resource in routes:
            try:
                self.routes.append(Route.from_resource(resource))
            except TargetError as exc:
                self.invalid[resource.metadata.name] = Unrouted(
                    resource.spec.target, f"AlertRoute {resource.metadata.name}: {exc}"
                )
        self._by_name = {r.name: r for r in self.routes}

    def __len__(self) -> int:
        return len(self.routes)

    def get(self, name: str) -> Route | None:
        """The route called ``name``; a bare ``log``/``mailto:`` target is its own route."""
        route = self._by_name.get(name)
        if route is not None:
            return route
        try:
            target = parse_target(name)
        except TargetError:
            return None
        return Route.implicit(target) if target.channel in ("log", "mailto") else None

    def select(
        self, notification: Notification, targets: Sequence[str], names: Sequence[str] = ()
    ) -> Selection:
        """The routes ``notification`` goes to (see the module docstring); ``names`` are
        routes named by a ``Budget``'s ``routes``."""
        chosen: dict[str, Route] = {}
        unrouted: list[Unrouted] = []
        for name in dict.fromkeys(names):
            named = self._by_name.get(name)
            if named is not None:
                chosen.setdefault(name, named)
            elif name in self.invalid:
                unrouted.append(self.invalid[name])
            else:
                unrouted.append(Unrouted(name, f"no AlertRoute is named {name}"))
        for text in dict.fromkeys(t.strip() for t in targets if t and t.strip()):
            declared = [r for r in self.routes if r.target.text == text]
            if declared:
                chosen.update((r.name, r) for r in declared if r.name not in chosen)
                continue
            broken = [u for u in self.invalid.values() if u.target.strip() == text]
            if broken:
                unrouted.extend(broken)
                continue
            try:
                target = parse_target(text)
            except TargetError as exc:
                unrouted.append(Unrouted(text, str(exc)))
                continue
            if target.channel in ("log", "mailto"):
                chosen.setdefault(target.text, Route.implicit(target))
            else:
                unrouted.append(
                    Unrouted(
                        text,
                        f"no AlertRoute declares target {text}; add one with the "
                        f"secretRef that holds its {_secret_noun(target)}",
                    )
                )
        for route in self.routes:
            if route.name not in chosen and route.selects(notification):
                chosen[route.name] = route
        return Selection(list(chosen.values()), unrouted)


def _secret_noun(target: Target) -> str:
    return "incoming-webhook URL" if target.channel == "slack" else "HMAC key"
