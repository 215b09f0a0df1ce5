"""The FOCUS column catalog: which columns each version (1.0–1.3) has, their types,
whether they are mandatory and may be null, and the values they allow.

Transcribed from the FOCUS specification's column pages (feature level, "allows nulls",
data type, allowed values) for the cost-and-usage dataset; :mod:`alignops.finops.validate`
turns it into checks, in the manner of the FinOps Foundation's focus_validator. A file's
version is detected from the columns it has (:func:`detect_version`): each version added
columns that the one before did not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeGuard

__all__ = [
    "ALL_COLUMNS",
    "FOCUS_VERSIONS",
    "PROVIDER_ALIASES",
    "ColumnKind",
    "ColumnRule",
    "FeatureLevel",
    "FocusVersion",
    "catalog",
    "detect_version",
    "is_focus_version",
]

FocusVersion = Literal["1.0", "1.1", "1.2", "1.3"]
FOCUS_VERSIONS: tuple[FocusVersion, ...] = ("1.0", "1.1", "1.2", "1.3")

ColumnKind = Literal["decimal", "datetime", "currency", "json-object", "string"]
"""How a column's text is checked: a decimal number, an ISO 8601 date-time in UTC, an
ISO 4217 currency code, a JSON object (FOCUS's key-value format), or free text."""

FeatureLevel = Literal["mandatory", "recommended", "conditional", "deprecated"]


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """One FOCUS column as a given version defines it."""

    name: str
    kind: ColumnKind
    level: FeatureLevel
    nullable: bool
    allowed: frozenset[str] | None = None
    """The only values allowed (case-sensitive), or None when any value is."""

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    kind: ColumnKind
    level: FeatureLevel
    nullable: bool
    since: FocusVersion = "1.0"
    allowed: tuple[str, ...] | None = None
    changes: tuple[tuple[FocusVersion, FeatureLevel], ...] = ()


_M: FeatureLevel = "mandatory"
_R: FeatureLevel = "recommended"
_C: FeatureLevel = "conditional"

_SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
_USED = ("Used", "Unused")

_COLUMNS: tuple[_Column, ...] = (
    # -- FOCUS 1.0: 43 columns, 21 of them mandatory --------------------------------
    _Column("AvailabilityZone", "string", _R, True),
    _Column("BilledCost", "decimal", _M, False),
    _Column("BillingAccountId", "string", _M, False),
    _Column("BillingAccountName", "string", _M, True),
    _Column("BillingCurrency", "currency", _M, False),
    _Column("BillingPeriodEnd", "datetime", _M, False),
    _Column("BillingPeriodStart", "datetime", _M, False),
    _Column(
        "ChargeCategory",
        "string",
        _M,
        False,
        allowed=("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    ),
    _Column("ChargeClass", "string", _M, True, allowed=("Correction",)),
    _Column("ChargeDescription", "string", _M, True),
    _Column(
        "ChargeFrequency", "string", _R, False, allowed=("One-Time", "Recurring", "Usage-Based")
    ),
    _Column("ChargePeriodEnd", "datetime", _M, False),
    _Column("ChargePeriodStart", "datetime", _M, False),
    _Column("CommitmentDiscountCategory", "string", _C, True, allowed=("Spend", "Usage")),
    _Column("CommitmentDiscountId", "string", _C, True),
    _Column("CommitmentDiscountName", "string", _C, True),
    _Column("CommitmentDiscountStatus", "string", _C, True, allowed=_USED),
    _Column("CommitmentDiscountType", "string", _C, True),
    _Column("ConsumedQuantity", "decimal", _C, True),
    _Column("ConsumedUnit", "string", _C, True),
    _Column("ContractedCost", "decimal", _M, False),
    _Column("ContractedUnitPrice", "decimal", _C, True),
    _Column("EffectiveCost", "decimal", _M, False),
    _Column("InvoiceIssuerName", "string", _M, False),
    _Column("ListCost", "decimal", _M, False),
    _Column("ListUnitPrice", "decimal", _C, True),
    _Column(
        "PricingCategory",
        "string",
        _C,
        True,
        allowed=("Standard", "Dynamic", "Committed", "Other"),
    ),
    _Column("PricingQuantity", "decimal", _M, True),
    _Column("PricingUnit", "string", _M, True),
    _Column("ProviderName", "string", _M, False, changes=(("1.3", "deprecated"),)),
    _Column("PublisherName", "string", _M, False, changes=(("1.3", "deprecated"),)),
    _Column("RegionId", "string", _C, True),
    _Column("RegionName", "string", _C, True),
    _Column("ResourceId", "string", _C, True),
    _Column("ResourceName", "string", _C, True),
    _Column("ResourceType", "string", _C, True),
    _Column("ServiceCategory", "string", _M, False, allowed=_SERVICE_CATEGORIES),
    _Column("ServiceName", "string", _M, False),
    _Column("SkuId", "string", _C, True),
    _Column("SkuPriceId", "string", _C, True),
    _Column("SubAccountId", "string", _C, True),
    _Column("SubAccountName", "string", _C, True),
    _Column("Tags", "json-object", _C, True),
    # -- FOCUS 1.1: +7 ----------------------------------------------------------------
    _Column("CapacityReservationId", "string", _C, True, since="1.1"),
    _Column("CapacityReservationStatus", "string", _C, True, since="1.1", allowed=_USED),
    _Column("CommitmentDiscountQuantity", "decimal", _C, True, since="1.1"),
    _Column("CommitmentDiscountUnit", "string", _C, True, since="1.1"),
    _Column("ServiceSubcategory", "string", _R, False, since="1.1"),
    _Column("SkuMeter", "string", _C, True, since="1.1"),
    _Column("SkuPriceDetails", "json-object", _C, True, since="1.1"),
    # -- FOCUS 1.2: +7 (57 columns) ----------------------------------------------------
    _Column("BillingAccountType", "string", _C, True, since="1.2"),
    _Column("SubAccountType", "string", _C, True, since="1.2"),
    _Column("InvoiceId", "string", _R, True, since="1.2"),
    _Column("PricingCurrency", "string", _C, True, since="1.2"),
    _Column("PricingCurrencyContractedUnitPrice", "decimal", _C, True, since="1.2"),
    _Column("PricingCurrencyEffectiveCost", "decimal", _C, True, since="1.2"),
    _Column("PricingCurrencyListUnitPrice", "decimal", _C, True, since="1.2"),
    # -- FOCUS 1.3: provider names, contracts, split cost allocation ------------------
    _Column("ServiceProviderName", "string", _M, False, since="1.3"),
    _Column("HostProviderName", "string", _C, True, since="1.3"),
    _Column("ContractApplied", "json-object", _C, True, since="1.3"),
    _Column("AllocatedMethodId", "string", _C, True, since="1.3"),
    _Column("AllocatedMethodDetails", "json-object", _C, True, since="1.3"),
    _Column("AllocatedResourceId", "string", _C, True, since="1.3"),
    _Column("AllocatedResourceName", "string", _C, True, since="1.3"),
    _Column("AllocatedTags", "json-object", _C, True, since="1.3"),
)

ALL_COLUMNS: frozenset[str] = frozenset(c.name for c in _COLUMNS)
"""Every column name any FOCUS version defines."""

_MARKERS: dict[FocusVersion, frozenset[str]] = {
    v: frozenset(c.name for c in _COLUMNS if c.since == v) for v in FOCUS_VERSIONS[1:]
}

PROVIDER_ALIASES: Mapping[str, str] = {
    "ServiceProviderName": "ProviderName",
    "ProviderName": "ServiceProviderName",
    "HostProviderName": "PublisherName",
    "PublisherName": "HostProviderName",
}
"""The provider columns 1.3 renamed, both ways: a ledger column the file lacks is filled
from its counterpart (docs/finops-ingest.md, decision 0037)."""


def is_focus_version(text: str) -> TypeGuard[FocusVersion]:
    """Whether ``text`` names a FOCUS version alignops reads (1.0–1.3)."""
    return text in FOCUS_VERSIONS


def detect_version(columns: Iterable[str]) -> FocusVersion:
    """The newest version whose new columns the file has any of (1.3: ServiceProviderName,
    HostProviderName, …; 1.2: InvoiceId, PricingCurrency, …; 1.1: CapacityReservationId,
    ServiceSubcategory, …), else 1.0."""
    present = set(columns)
    for version in reversed(FOCUS_VERSIONS[1:]):
        if present & _MARKERS[version]:
            return version
    return "1.0"


def catalog(version: FocusVersion) -> dict[str, ColumnRule]:
    """The columns of ``version`` by name, each with its rules in that version."""
    if not is_focus_version(version):
        raise ValueError(f"unknown FOCUS version {version!r}")
    rank = FOCUS_VERSIONS.index(version)
    out: dict[str, ColumnRule] = {}
    for column in _COLUMNS:
        if FOCUS_VERSIONS.index(column.since) > rank:
            continue
        level = column.level
        for since, changed in column.changes:
            if FOCUS_VERSIONS.index(since) <= rank:
                level = changed
        allowed = frozenset(column.allowed) if column.allowed is not None else None
        out[column.name] = ColumnRule(column.name, column.kind, level, column.nullable, allowed)
    return out
