"""Property: whatever bytes arrive, the loader returns resources or an alignops error.

Mutations start from real manifests (the templates) and flip, insert and delete bytes,
splice YAML syntax, tags, anchors and aliases in, or replace values with odd types.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignops.errors import ManifestError
from alignops.manifests import load_manifests

TEMPLATES = Path(__file__).parents[2] / "src/alignops/scaffold/templates/basic"
SEEDS = [p.read_bytes() for p in sorted(TEMPLATES.rglob("*.yaml"))]
FRAGMENTS = [
    b"&a ",
    b"*a",
    b"!!python/object:os.system ",
    b"!tag ",
    b"<<: ",
    b"- ",
    b": ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\n  ",
    b"\t",
    b"---\n",
    b"...\n",
    b"'",
    b'"',
    b"|\n",
    b">\n",
    b"? ",
    b"\xff",
    b"\x00",
    b"null",
    b"1e999",
    b".nan",
    b"9" * 5000,
    b"kind: Nope\n",
    b"spec: []\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "fragment"]))
        if action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 20))]
        elif action == "flip" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = draw(st.sampled_from(FRAGMENTS))
    return bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_manifests_never_crash(data: bytes) -> None:
    try:
        load_manifests("fuzz.yaml", data)
    except ManifestError as exc:
        assert exc.problems, "an error must say what is wrong"
        for problem in exc.problems:
            assert problem.file == "fuzz.yaml"
            assert problem.message


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
def test_arbitrary_specs_never_crash(spec: object) -> None:
    import json

    text = json.dumps(
        {
            "apiVersion": "alignops.dev/v1alpha1",
            "kind": "ModelDeploymentPolicy",
            "metadata": {"name": "p"},
            "spec": spec,
        }
    )
    try:
        load_manifests("fuzz.yaml", text.encode())
    except ManifestError as exc:
        assert exc.problems
