"""A scale change: one commit on the environment's branch that sets ``minScale`` and/or
``maxScale`` of a ``ModelDeployment`` — and changes nothing else in its file.

The manifest is edited as text, not re-serialised: the YAML is composed (PyYAML keeps
where every node starts and ends), the scalar of each value is replaced in place, and a
key that is not written yet is added after the last entry of its mapping (block or flow
style, with the file's indentation and line endings). Comments, quoting, key order and
every other byte stay. The result must load as the same resources with only those values
changed — so a value the kind rejects (``minScale`` over ``maxScale``) is refused with
the file, line and field, and nothing is committed.

The commit names the tip it was computed against (``ConfigRepository.commit_files(...,
parent=...)``): if the branch moved meanwhile, nothing is committed and the remediation
reports it (decision 0032).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alignops.errors import AlignOpsError, ManifestError
from alignops.manifests.config import Environment
from alignops.manifests.kinds import ModelDeployment
from alignops.manifests.kinds.policy import ScaleChange
from alignops.manifests.loader import Resource, load_manifests
from alignops.monitor.remediate_facts import AlertFacts, RemediationOutcome, trailers
from alignops.source import ConfigRepository

__all__ = ["scale_deployment", "set_scaling"]

_ORDER = ("minScale", "maxScale")


def scale_deployment(
    facts: AlertFacts,
    change: ScaleChange,
    *,
    repository: ConfigRepository,
    environment: Environment,
    automatic: bool,
    progress: Callable[[str], None],
) -> RemediationOutcome:
    """Commit the scale change on the environment's branch (module docstring); ``skipped``
    when the tip already has those values or does not declare the deployment there."""
    branch = environment.branch
    tip_id = str(repository.resolve(f"refs/heads/{branch}").id)
    tip = repository.snapshot(tip_id)
    resource = tip.resources.get(f"ModelDeployment/{facts.name}")
    deployment = resource.model if resource is not None else None
    if (
        resource is None
        or not isinstance(deployment, ModelDeployment)
        or deployment.spec.environment != environment.name
    ):
        return _skipped(
            automatic,
            branch,
            f"ModelDeployment/{facts.name} is not deployed to {environment.name} at the tip "
            f"of {branch} ({tip.short}); nothing to scale",
        )
    scaling = deployment.spec.scaling
    current = {"minScale": scaling.min_scale, "maxScale": scaling.max_scale}
    wanted = {
        key: value
        for key, value in (("minScale", change.min_scale), ("maxScale", change.max_scale))
        if value is not None and value != current[key]
    }
    if not wanted:
        return _skipped(
            automatic,
            branch,
            f"ModelDeployment/{facts.name} already has minScale {current['minScale']} and "
            f"maxScale {current['maxScale']} at the tip of {branch} ({tip.short}); nothing "
            "to change",
        )
    path = resource.file
    edited = set_scaling(path, tip.read(path), facts.name, wanted)
    changes = ", ".join(f"{key} {current[key]} → {value}" for key, value in wanted.items())
    message = (
        f"Scale ModelDeployment/{facts.name} in {environment.name}: {changes}\n\n"
        f"{facts.headline}\n"
        f"{path}: "
        + ", ".join(f"spec.scaling.{k} {current[k]} → {v}" for k, v in wanted.items())
        + "\n\n"
        + trailers(facts, "scale")
    )
    progress(f"{facts.name}: committing {changes} on {branch}")
    commit = repository.commit_files(branch, {path: edited}, message, parent=tip_id)
    return RemediationOutcome(
        "scale",
        automatic,
        "done",
        branch,
        commit,
        f"committed {commit[:12]} on {branch}: ModelDeployment/{facts.name} {changes} "
        f"({path}); the next sync delivers it",
        (path,),
    )


def _skipped(automatic: bool, branch: str, message: str) -> RemediationOutcome:
    return RemediationOutcome("scale", automatic, "skipped", branch, None, message)


# -- editing the manifest in place -------------------------------------------------------


def set_scaling(file: str, data: bytes, deployment: str, values: Mapping[str, int]) -> bytes:
    """``data`` with ``spec.scaling.<key>`` of ``ModelDeployment/<deployment>`` set to each
    of ``values`` (``minScale``, ``maxScale``), every other byte kept.

    Raises :class:`ManifestError` (file, line, field) when the result would not be a valid
    ``ModelDeployment``, or when the value cannot be changed on its own (written through
    a YAML anchor or alias, say) — then the file needs a person.
    """
    unknown = sorted(set(values) - set(_ORDER))
    if unknown:
        raise ValueError(f"only minScale and maxScale are set here, not {unknown}")
    text = data.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    spec_key, spec = _spec_of(file, text, deployment)
    edits = list(_edits(file, text, newline, spec_key, spec, values))
    for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + replacement + text[end:]
    result = text.encode("utf-8")
    _check(file, data, result, deployment, values)
    return result


def _spec_of(file: str, text: str, deployment: str) -> tuple[ScalarNode, MappingNode]:
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:  # it loaded as a manifest, so this is not expected
        raise ManifestError.single(file, f"cannot edit the YAML: {exc}") from None
    for document in documents:
        if not isinstance(document, MappingNode):
            continue
        kind = _entry(document, "kind")
        metadata = _entry(document, "metadata")
        name = (
            _entry(metadata[1], "name")
            if metadata and isinstance(metadata[1], MappingNode)
            else None
        )
        spec = _entry(document, "spec")
        if (
            kind is not None
            and _scalar(kind[1]) == "ModelDeployment"
            and name is not None
            and _scalar(name[1]) == deployment
            and spec is not None
            and isinstance(spec[1], MappingNode)
        ):
            key = spec[0]
            assert isinstance(key, ScalarNode)
            return key, spec[1]
    raise ManifestError.single(file, f"no ModelDeployment {deployment!r} to edit")


def _edits(
    file: str,
    text: str,
    newline: str,
    spec_key: ScalarNode,
    spec: MappingNode,
    values: Mapping[str, int],
) -> Iterator[tuple[int, int, str]]:
    """(start, end, replacement) of each change, on the original text."""
    ordered = [(k, values[k]) for k in _ORDER if k in values]
    scaling = _entry(spec, "scaling")
    if scaling is None:
        if spec.flow_style:
            inner = ", ".join(f"{k}: {v}" for k, v in ordered)
            yield _flow_insert(file, text, spec, f"scaling: {{{inner}}}")
            return
        indent = _indent_of(spec)
        step = max(indent - spec_key.start_mark.column, 2)
        lines = [f"{' ' * indent}scaling:"]
        lines += [f"{' ' * (indent + step)}{k}: {v}" for k, v in ordered]
        yield _block_insert(text, newline, spec, lines)
        return
    key_node, node = scaling
    if not isinstance(node, MappingNode) or node.start_mark.index < key_node.end_mark.index:
        raise _refused(file, key_node, "spec.scaling", "not a mapping written in place")
    missing = []
    for key, value in ordered:
        found = _entry(node, key)
        if found is None:
            missing.append((key, value))
            continue
        k, v = found
        between = text[k.end_mark.index : v.start_mark.index]
        if (
            not isinstance(v, ScalarNode)
            or v.start_mark.index < k.end_mark.index
            or between.strip() != ":"
            or text[v.start_mark.index] in "&*!"
        ):
            raise _refused(
                file,
                k,
                f"spec.scaling.{key}",
                "written through a YAML anchor or alias, so changing it would change other "
                "values too",
            )
        yield v.start_mark.index, v.end_mark.index, str(value)
    if not missing:
        return
    if node.flow_style:
        yield _flow_insert(file, text, node, ", ".join(f"{k}: {v}" for k, v in missing))
        return
    indent = _indent_of(node)
    yield _block_insert(text, newline, node, [f"{' ' * indent}{k}: {v}" for k, v in missing])


def _block_insert(
    text: str, newline: str, mapping: MappingNode, lines: list[str]
) -> tuple[int, int, str]:
    """New lines after the line where the mapping's last entry ends."""
    end = max(_ends(mapping.value[-1][0], mapping.value[-1][1], set()))
    found = text.find("\n", max(end - 1, 0))
    at = len(text) if found < 0 else found + 1
    block = newline.join(lines) + newline
    if at == len(text) and not text.endswith("\n"):
        block = newline + block.removesuffix(newline)
    return at, at, block


def _flow_insert(file: str, text: str, mapping: MappingNode, entries: str) -> tuple[int, int, str]:
    """``entries`` before the closing brace of a flow mapping."""
    close = mapping.end_mark.index - 1
    if close < 0 or text[close] != "}":
        raise ManifestError.single(
            file,
            "cannot find the end of a flow mapping to add to",
            line=mapping.start_mark.line + 1,
        )
    separator = ", " if mapping.value else ""
    return close, close, separator + entries


def _indent_of(mapping: MappingNode) -> int:
    if not mapping.value:
        return mapping.start_mark.column + 2
    first: Node = mapping.value[0][0]
    return int(first.start_mark.column)


def _ends(key: Node, value: Node, seen: set[int]) -> Iterator[int]:
    """End offsets of a mapping entry and everything in it (aliases counted once)."""
    yield key.end_mark.index
    stack = [value]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node.end_mark.index
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack += [k, v]
        elif isinstance(node, SequenceNode):
            stack += list(node.value)


def _entry(mapping: Node, key: str) -> tuple[Node, Node] | None:
    if not isinstance(mapping, MappingNode):
        return None
    return next(((k, v) for k, v in mapping.value if _scalar(k) == key), None)


def _scalar(node: Node) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def _refused(file: str, node: Node, field: str, why: str) -> ManifestError:
    return ManifestError.single(
        file,
        f"{why}; change it by hand (nothing was committed)",
        line=node.start_mark.line + 1,
        field=field,
    )


def _check(
    file: str, before: bytes, after: bytes, deployment: str, values: Mapping[str, int]
) -> None:
    """The edited file loads (else: the kind's own error, with file, line and field) as
    the same resources, with only those values changed."""
    old = load_manifests(file, before)
    new = load_manifests(file, after)  # ManifestError: the kind rejects the values
    expected: list[dict[str, Any]] = []
    for resource in old:
        manifest = copy.deepcopy(resource.manifest)
        if _is(resource, deployment):
            spec = manifest.setdefault("spec", {})
            spec.setdefault("scaling", {}).update(values)
        expected.append(manifest)
    if [r.manifest for r in new] != expected:
        raise AlignOpsError(
            f"{file}: editing spec.scaling of ModelDeployment/{deployment} would change more "
            "than those values; nothing was committed (please report this)"
        )


def _is(resource: Resource, deployment: str) -> bool:
    return resource.kind == "ModelDeployment" and resource.name == deployment
