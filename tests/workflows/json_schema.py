"""A JSON Schema check of the parts pydantic's schemas use, for tests: jsonschema is no
dependency of adw, and the shipped schema must be checked as a schema, not through the
pydantic model it was made from."""

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def problems(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$") -> list[str]:
    """Where `value` breaks `schema` (`root` holds the `$defs`); empty when it fits."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return problems(value, root["$defs"][name], root, at)
    if "anyOf" in schema:
        options = [problems(value, option, root, at) for option in schema["anyOf"]]
        return [] if any(not found for found in options) else [f"{at}: fits no anyOf option"]
    found: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        python = _TYPES[kind]
        if not isinstance(value, python) or (kind in ("integer", "number") and value is True):
            return [f"{at}: not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{at}: not one of {schema['enum']}")
    if isinstance(value, (int, float)) and "minimum" in schema and value < schema["minimum"]:
        found.append(f"{at}: under {schema['minimum']}")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            found.append(f"{at}: longer than {schema['maxLength']}")
        if len(value) < schema.get("minLength", 0):
            found.append(f"{at}: shorter than {schema['minLength']}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            found.append(f"{at}: more than {schema['maxItems']} items")
        if len(value) < schema.get("minItems", 0):
            found.append(f"{at}: fewer than {schema['minItems']} items")
        for index, item in enumerate(value):
            found += problems(item, schema.get("items", {}), root, f"{at}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [f"{at}: lacks {name}" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            found += [f"{at}: unexpected {name}" for name in value if name not in properties]
        for name, item in value.items():
            if name in properties:
                found += problems(item, properties[name], root, f"{at}.{name}")
    return found


def assert_valid(value: Any, schema: dict[str, Any]) -> None:
    found = problems(value, schema, schema)
    assert not found, found
