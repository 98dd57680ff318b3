"""Google's own description of Calendar v3 as the oracle of the emulator's wire format.

Public API: :func:`discovery`, :func:`schema_for`, :func:`problems`.

The discovery document shipped inside google-api-python-client names, for every method, its HTTP
method, path template and response schema; :func:`schema_for` finds the schema of a served response
from its method and path alone. :func:`problems` then checks a body against that schema recursively:
no property the schema lacks, each value of the declared ``type`` and ``format`` (``date``,
``date-time`` with an offset, ``int64`` as a decimal string, ``int32``), no ``null`` (Google omits what
it does not set), closed value lists (Calendar v3 lists them in the description as
``Possible values are: - "x" ...``) and each ``kind`` equal to its declared default.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient

__all__ = ["discovery", "problems", "schema_for"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_INT64 = re.compile(r"^-?\d{1,19}$")
_VALUE_LIST = re.compile(r'^- "([^"]+)"', re.M)


@cache
def discovery() -> dict[str, Any]:
    """The Calendar v3 discovery document (static, as ``build(..., static_discovery=True)`` reads it)."""
    path = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"
    return dict(json.loads(path.read_text()))


@cache
def _routes() -> tuple[tuple[str, re.Pattern[str], str], ...]:
    routes: list[tuple[str, re.Pattern[str], str]] = []

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                ref = method.get("response", {}).get("$ref")
                if ref:
                    template = method.get("flatPath", method["path"])
                    segments = ["[^/]+" if s.startswith("{") else re.escape(s) for s in template.split("/")]
                    routes.append((method["httpMethod"], re.compile("^" + "/".join(segments) + "$"), ref))
            walk(resource.get("resources", {}))

    walk(discovery()["resources"])
    # literal routes first: POST .../events/watch is not an insert into a calendar called "watch"
    routes.sort(key=lambda r: r[1].pattern.count("[^/]+"))
    return tuple(routes)


def schema_for(method: str, path: str) -> str | None:
    """The response schema's name for ``method path`` (a path under ``/calendar/v3/``), or None."""
    relative = path.split("/calendar/v3/", 1)[-1]
    for http_method, pattern, ref in _routes():
        if http_method == method and pattern.match(relative):
            return ref
    return None


def _closed_values(schema: dict[str, Any]) -> list[str]:
    description = schema.get("description", "")
    if "ossible values" not in description or "may be added" in description:
        return []
    return _VALUE_LIST.findall(description)


def _scalar(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "any":
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: {value!r} is not a boolean"]
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and (fmt != "int32" or -(2**31) <= value < 2**31)
        return [] if ok else [f"{where}: {value!r} is not an {fmt or 'integer'}"]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    if kind != "string":
        return [f"{where}: the schema type {kind!r} is not known to this check"]
    if not isinstance(value, str):
        return [f"{where}: {value!r} is not a string"]
    shapes = {"date": _DATE, "date-time": _DATE_TIME, "int64": _INT64}
    if fmt in shapes and not shapes[fmt].match(value):
        return [f"{where}: {value!r} is not of format {fmt}"]
    allowed = _closed_values(schema)
    if allowed and value not in allowed:
        return [f"{where}: {value!r} is none of {allowed}"]
    return []


def problems(value: Any, schema: dict[str, Any] | str, where: str = "") -> list[str]:
    """Every way ``value`` departs from ``schema`` (a schema or a schema name), as readable lines."""
    schemas = discovery()["schemas"]
    if isinstance(schema, str):
        where = where or schema
        schema = schemas[schema]
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    if value is None:
        return [f"{where}: null (Google omits unset fields)"]
    kind = schema.get("type")
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        return [p for i, item in enumerate(value) for p in problems(item, schema.get("items", {}), f"{where}[{i}]")]
    if kind == "object" or "properties" in schema:
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        props = schema.get("properties")
        if props is None:  # a map: any key, each value of additionalProperties
            extra = schema.get("additionalProperties", {"type": "any"})
            return [p for k, v in value.items() for p in problems(v, extra, f"{where}.{k}")]
        found = [f"{where}.{k}: no such property" for k in value if k not in props]
        for key, item in value.items():
            if key in props:
                found += problems(item, props[key], f"{where}.{key}")
        default_kind = props.get("kind", {}).get("default")
        if default_kind and "kind" in value and value["kind"] != default_kind:
            found.append(f"{where}.kind: {value['kind']!r}, not {default_kind!r}")
        return found
    return _scalar(value, schema, where)
