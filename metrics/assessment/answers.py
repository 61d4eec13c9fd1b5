"""Answers files: load (YAML, duplicate keys refused), validate against the model's schema with
one-line errors naming the key, and write the canonical file the interactive mode produces.

    model: aiops        answers: {q1: 0-5, ..., q12: 0-5}
    model: selfhosted   stages:  {infrastructure: 1-5, data, security, developer, operations, governance}
    model: platform     areas:   {data: 1-5, training, registry, serving, observability, governance,
                                  developer_experience}
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metrics.assessment.definitions import load_definitions
from metrics.assessment.errors import AnswersError
from metrics.assessment.questionnaire import load_questionnaire
from signals.validation import read_text_file, yaml_problem


# Optional keys beside the answers, for the assessment report (metrics/roadmap/report.py):
# organisation (or organization), assessed_by, date (YYYY-MM-DD), notes, target_level (a level of the model).
METADATA_KEYS = ("organisation", "organization", "assessed_by", "date", "notes", "target_level")


@dataclass(frozen=True, slots=True)
class Schema:
    model: str
    section: str        # the key holding the answers
    ids: tuple[str, ...]
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Answers:
    model: str
    values: dict[str, int]   # in the schema's order
    metadata: dict[str, Any] = field(default_factory=dict)   # organisation, assessed_by, date, notes, target_level


def schemas() -> dict[str, Schema]:
    questionnaire, definitions = load_questionnaire(), load_definitions()
    return {
        "aiops": Schema("aiops", "answers", tuple(questionnaire.ids), questionnaire.scale.min, questionnaire.scale.max),
        "selfhosted": Schema("selfhosted", "stages", tuple(definitions.selfhosted.ids), 1, 5),
        "platform": Schema("platform", "areas", tuple(definitions.platform.areas), 1, 5),
    }


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise AnswersError(f"{key}: duplicated key (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_text(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except AnswersError as exc:
        raise AnswersError(f"{origin}: {exc}") from None
    except yaml.YAMLError as exc:
        raise AnswersError(yaml_problem(exc, origin)) from None


def load_file(path: str | Path) -> Answers:
    path = Path(path)
    return validate(parse_text(read_text_file(path, AnswersError), str(path)))


def _value(section: str, key: str, raw: Any, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        shown = "nothing" if raw is None else repr(raw)
        raise AnswersError(f"{section}.{key}: expected a whole number {low}-{high}, got {shown}")
    if not low <= raw <= high:
        raise AnswersError(f"{section}.{key}: {raw} is out of range {low}-{high}")
    return raw


def validate(doc: Any) -> Answers:
    """The answers document as loaded from YAML -> Answers, or AnswersError naming the key."""
    known = schemas()
    names = ", ".join(known)
    if not isinstance(doc, dict):
        raise AnswersError(f"answers file: expected a mapping with 'model' and the answers, got {type(doc).__name__}")
    if "model" not in doc:
        raise AnswersError(f"model: missing (one of {names})")
    model = doc["model"]
    if model not in known:
        raise AnswersError(f"model: unknown model {model!r} (answers files exist for {names})")
    schema = known[model]
    for key in doc:
        if key not in ("model", schema.section, *METADATA_KEYS):
            raise AnswersError(f"{key}: unknown key in a {model} answers file (expected model, {schema.section})")
    if schema.section not in doc:
        raise AnswersError(f"{schema.section}: missing ({model} needs {schema.section}: "
                           f"{{{schema.ids[0]}: {schema.low}-{schema.high}, ...}})")
    section = doc[schema.section]
    if not isinstance(section, dict):
        raise AnswersError(f"{schema.section}: expected a mapping of {', '.join(schema.ids)}")
    # Every bad answer at once (unknown, missing, out of range): a user fixes the file in one pass.
    problems = [f"{schema.section}.{key}: unknown key (expected {schema.ids[0]}..{schema.ids[-1]})"
                if model == "aiops" else f"{schema.section}.{key}: unknown key (expected {', '.join(schema.ids)})"
                for key in section if key not in schema.ids]
    values = {}
    for key in schema.ids:
        if key not in section:
            problems.append(f"{schema.section}.{key}: missing (answer {schema.low}-{schema.high})")
            continue
        try:
            values[key] = _value(schema.section, key, section[key], schema.low, schema.high)
        except AnswersError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise AnswersError(problems[0])
    if problems:
        raise AnswersError(f"{len(problems)} bad answers: " + "; ".join(problems))
    return Answers(model, values, _metadata(doc, schema))


def _metadata(doc: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """The report's details from the answers file, checked: texts, an ISO date, a level in range."""
    if "organisation" in doc and "organization" in doc:
        raise AnswersError("organization: give organisation or organization, not both")
    out: dict[str, Any] = {}
    for key in ("organisation", "organization", "assessed_by", "notes"):
        if doc.get(key) is None:
            continue
        if not isinstance(doc[key], (str, int, float)) or isinstance(doc[key], bool) or not str(doc[key]).strip():
            raise AnswersError(f"{key}: expected a text, got {doc[key]!r}")
        out["organisation" if key == "organization" else key] = str(doc[key]).strip()
    if doc.get("date") is not None:
        raw = doc["date"]
        try:
            out["date"] = (raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))).isoformat()[:10]
        except ValueError:
            raise AnswersError(f"date: expected YYYY-MM-DD, got {raw!r}") from None
    if doc.get("target_level") is not None:
        raw, low = doc["target_level"], (schema.low if schema.model == "aiops" else 1)
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= 5:
            raise AnswersError(f"target_level: expected a level {low}-5 of the {schema.model} model, got {raw!r}")
        out["target_level"] = raw
    return out


def dump(answers: Answers) -> str:
    """The canonical answers file: exactly what the contract examples look like."""
    section = schemas()[answers.model].section
    pairs = ", ".join(f"{key}: {value}" for key, value in answers.values.items())
    return f"model: {answers.model}\n{section}: {{{pairs}}}\n"
