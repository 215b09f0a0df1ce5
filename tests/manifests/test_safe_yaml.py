"""Bad YAML is refused with file, line and a reason, quickly, and never crashes."""

from __future__ import annotations

import time

import pytest

from alignops.errors import ManifestError
from alignops.manifests.documents import MAX_FILE_BYTES, parse_documents

ALIAS_BOMB = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def refusal(data: bytes) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        parse_documents("m.yaml", data)
    return info.value


def test_alias_bomb_is_refused_fast() -> None:
    started = time.perf_counter()
    error = refusal(ALIAS_BOMB)
    elapsed = time.perf_counter() - started
    (problem,) = error.problems
    assert "alias bomb" in problem.message
    assert problem.file == "m.yaml" and problem.line is not None
    assert elapsed < 5  # generous: the point is it does not expand 9**9 nodes


def test_small_aliases_are_fine() -> None:
    (doc,) = parse_documents("m.yaml", b"base: &b {memory: 256}\ncopy: *b\n")
    assert doc.value == {"base": {"memory": 256}, "copy": {"memory": 256}}


def test_recursive_alias_is_refused() -> None:
    assert "recursive" in str(refusal(b"a: &a [1, *a]\n"))


def test_duplicate_key_names_both_lines() -> None:
    (problem,) = refusal(b"a: 1\nb: 2\na: 3\n").problems
    assert problem.line == 3
    assert "duplicate key 'a'" in problem.message and "line 1" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        b"x: !!python/object/apply:os.system ['echo hacked']\n",
        b"x: !!python/name:os.system\n",
        b"x: !custom 1\n",
        b"x: !!binary aGVsbG8=\n",
        b"x: !!set {a, b}\n",
    ],
)
def test_unsafe_and_unknown_tags_are_refused(text: bytes) -> None:
    (problem,) = refusal(text).problems
    assert "unsupported YAML tag" in problem.message
    assert problem.line == 1 and problem.field == "x"


def test_core_tags_are_allowed() -> None:
    (doc,) = parse_documents("m.yaml", b"a: !!str 5\nb: !!int '7'\nc: !!float 1\n")
    assert doc.value == {"a": "5", "b": 7, "c": 1.0}


def test_oversized_file_is_refused_before_parsing() -> None:
    error = refusal(b"#" * (MAX_FILE_BYTES + 1))
    assert "limit" in str(error)


def test_deep_nesting_is_refused() -> None:
    assert "nesting" in str(refusal(b"[" * 200 + b"]" * 200))


def test_syntax_error_has_line_and_column() -> None:
    (problem,) = refusal(b"a: 1\nb: [1, 2\nc: 3\n").problems
    assert problem.line is not None and problem.line >= 2
    assert problem.message.startswith("YAML syntax error")


def test_syntax_error_says_where_the_construct_started() -> None:
    (problem,) = refusal(b"kind: X\nmetadata: {name: x\n").problems
    assert problem.line == 3
    assert "started on line 2" in problem.message


def test_merge_keys_are_refused() -> None:
    assert "merge keys" in str(refusal(b"a: &a {x: 1}\nb:\n  <<: *a\n"))


def test_invalid_utf8_names_the_line() -> None:
    (problem,) = refusal(b"a: 1\nb: \xff\n").problems
    assert problem.line == 2 and "UTF-8" in problem.message


def test_yaml_1_2_scalars() -> None:
    (doc,) = parse_documents(
        "m.yaml",
        b"a: yes\nb: on\nc: NO\nd: true\ne: ~\nf: 0x1F\ng: 1e3\nh: '12'\ni: 2026-01-01\nj: 0o17\n",
    )
    assert doc.value == {
        "a": "yes",
        "b": "on",
        "c": "NO",
        "d": True,
        "e": None,
        "f": 31,
        "g": 1000.0,
        "h": "12",
        "i": "2026-01-01",
        "j": 15,
    }


def test_non_finite_numbers_are_refused() -> None:
    assert "non-finite" in str(refusal(b"a: .nan\n"))


def test_complex_keys_are_refused() -> None:
    assert "plain scalars" in str(refusal(b"? [a, b]\n: 1\n"))


def test_locations_of_fields_and_items() -> None:
    (doc,) = parse_documents("m.yaml", b"spec:\n  items:\n    - a\n    - b: 1\n")
    assert doc.line_of(("spec", "items", 1, "b")) == 4
    assert doc.line_of(("spec", "items", 0)) == 3
    assert doc.line_of(("spec", "missing")) == 1


def test_multi_document_files_and_empty_documents() -> None:
    docs = parse_documents("m.yaml", b"---\na: 1\n---\n# nothing\n---\nb: 2\n")
    assert [d.value for d in docs] == [{"a": 1}, {"b": 2}]
    assert [d.line for d in docs] == [2, 6]
