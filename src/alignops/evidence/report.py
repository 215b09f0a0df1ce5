"""The explainability report: one Jinja2 template, rendered to HTML or, with WeasyPrint,
to PDF. Charts are inline SVG drawn here, so the PDF needs no browser or plotting stack."""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import Any

from alignops._version import __version__
from alignops.evidence.checks.base import EvidenceInputs

__all__ = ["bar_chart", "render_explainability"]

_BLUE, _RED, _GREY = "#2563eb", "#dc2626", "#94a3b8"


def bar_chart(items: list[tuple[str, float]], *, width: int = 640, signed: bool = False) -> str:
    """Horizontal bars as an SVG string; negative values go left of the axis when signed."""
    if not items:
        return ""
    row, label_w, pad = 22, 150, 60
    height = row * len(items) + 10
    span = max(abs(v) for _, v in items) or 1.0
    plot = width - label_w - pad
    zero = label_w + (plot / 2 if signed else 0)
    scale = (plot / 2 if signed else plot) / span
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" font-size="11">',
        f'<line x1="{zero}" y1="0" x2="{zero}" y2="{height}" stroke="{_GREY}"/>',
    ]
    for i, (label, value) in enumerate(items):
        y = i * row + 5
        length = abs(value) * scale
        x = zero if value >= 0 else zero - length
        colour = _BLUE if value >= 0 else _RED
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label[:24])}</text>'
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{max(length, 0.5):.1f}" height="{row - 8}" '
            f'fill="{colour}"/>'
        )
        tx = x + length + 4 if value >= 0 else zero + 4
        anchor = "start"
        parts.append(f'<text x="{tx:.1f}" y="{y + 14}" text-anchor="{anchor}">{value:.4g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_explainability(inputs: EvidenceInputs, metrics: dict[str, Any], *, fmt: str) -> bytes:
    import jinja2

    template_text = (
        resources.files("alignops.evidence") / "templates" / "explainability.html.j2"
    ).read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    importance = [(g["feature"], g["meanAbsShap"]) for g in metrics["globalImportance"][:15]]
    local_charts = [
        {
            **row,
            "chart": bar_chart(
                [(f"{c['feature']} = {c['value']}", c["shap"]) for c in row["contributions"]],
                signed=True,
            ),
        }
        for row in metrics["local"]
    ]
    html = env.from_string(template_text).render(
        model=inputs.model,
        evaluation=inputs.evaluation,
        m=metrics,
        importance_chart=bar_chart(importance),
        local=local_charts,
        version=__version__,
        wrapped=inputs.model.estimator is not _scorer(inputs.model.estimator),
    )
    if fmt == "HTML":
        return html.encode()
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def _scorer(estimator: Any) -> Any:
    from alignops.evidence.checks.explainability import _unwrap

    return _unwrap(estimator)
