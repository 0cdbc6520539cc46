"""Checks HTTP responses against openapi/kmsgate.yaml.

check(method, path, status, headers, body) finds the operation whose templated
path matches `path`, the response documented for `status`, and checks the
Content-Type, the required response headers and (for JSON media types) the body
against the schema. Any mismatch raises AssertionError naming the operation, the
status, the JSON pointer and what was expected.

Conventions:
- A path that matches no documented path is not checked (e.g. /no/such/thing).
- A documented path used with a method it does not list must answer the 405 that
  every operation lists (components/responses/MethodNotAllowed).
- Response objects are checked as *closed*: a member that no applicable schema
  declares in `properties` fails, unless a schema allows it with
  `additionalProperties`. The document itself leaves response schemas open
  (clients must ignore unknown members); the check is strict so that the code
  cannot grow undocumented members. Schemas without `properties` stay open.

The JSON Schema subset supported is listed in SUPPORTED; any other keyword in a
schema that is used raises, so nothing is silently left unchecked.

Standard library plus `yaml` (Debian's python3-yaml).
"""
import datetime
import json
import os
import re
import threading

import yaml

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                         "openapi", "kmsgate.yaml")

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Keywords the validator applies.
SUPPORTED = {"$ref", "type", "enum", "const", "properties", "required",
             "additionalProperties", "items", "minItems", "maxItems", "minimum", "maximum",
             "minLength", "maxLength", "pattern", "format", "allOf", "oneOf", "anyOf"}
# Keywords that only annotate.
ANNOTATIONS = {"description", "title", "examples", "example", "default", "deprecated",
               "readOnly", "writeOnly", "contentMediaType", "$comment"}

_lock = threading.Lock()
_spec = None
_routes = None

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def load(path=SPEC_PATH):
    """The parsed document and its path matchers (loaded once)."""
    global _spec, _routes
    with _lock:
        if _spec is None:
            with open(path, "rb") as f:
                spec = yaml.safe_load(f)
            routes = []
            for template, item in spec["paths"].items():
                segments = template.strip("/").split("/")
                pattern = "^/" + "/".join(
                    "[^/]+" if s.startswith("{") and s.endswith("}") else re.escape(s)
                    for s in segments) + "$"
                literal = sum(1 for s in segments if not s.startswith("{"))
                routes.append((re.compile(pattern), literal, template, item))
            # Prefer the template with more literal segments when two match.
            routes.sort(key=lambda r: -r[1])
            _spec, _routes = spec, routes
    return _spec


def find_path(path):
    """(template, path item) of the documented path that `path` matches, or (None, None)."""
    load()
    raw = path.split("?", 1)[0].split("#", 1)[0]
    for regex, _literal, template, item in _routes:
        if regex.match(raw):
            return template, item
    return None, None


def resolve(ref):
    if not ref.startswith("#/"):
        raise AssertionError("only local $ref are supported: %r" % ref)
    node = load()
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def _deref(node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(node["$ref"])
        seen += 1
        if seen > 20:
            raise AssertionError("$ref loop")
    return node


# ---------------------------------------------------------------- the validator

def _is_type(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise AssertionError("unknown type %r in the schema" % t)


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _equal(a, b):
    """JSON equality (True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def is_rfc3339(text):
    m = _RFC3339.match(text)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    off = m.group(8)
    if off not in ("Z", "z") and (int(off[1:3]) > 23 or int(off[4:6]) > 59):
        return False
    return True


def _pointer(ptr, key):
    return "%s/%s" % (ptr, str(key).replace("~", "~0").replace("/", "~1"))


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


class _Errors(Exception):
    def __init__(self, errors):
        Exception.__init__(self, errors)
        self.errors = errors


def _validate(schema, value, ptr, closed, errors):
    """Validates `value`; appends "pointer: message" strings to `errors`.

    Returns the set of object member names this schema (with its applicators)
    evaluated, or None when it evaluates every member (additionalProperties).
    With `closed`, members that no schema at this location evaluated are errors.
    """
    if schema is True or schema == {}:
        return None
    if schema is False:
        errors.append("%s: no value is allowed here" % (ptr or "/"))
        return set()
    if not isinstance(schema, dict):
        raise AssertionError("not a schema at %s: %r" % (ptr, schema))
    unknown = set(k for k in schema if not k.startswith("x-")) - SUPPORTED - ANNOTATIONS
    if unknown:
        raise AssertionError("openapi_check does not support the keyword(s) %s (at %s)"
                             % (sorted(unknown), ptr or "/"))
    here = ptr or "/"
    evaluated = set()
    everything = False

    def merge(result):
        nonlocal everything
        if result is None:
            everything = True
        else:
            evaluated.update(result)

    if "$ref" in schema:
        merge(_validate(resolve(schema["$ref"]), value, ptr, False, errors))

    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            errors.append("%s: expected type %s, got %s %s"
                          % (here, "|".join(types), _type_name(value), _short(value)))
            return evaluated
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        errors.append("%s: expected one of %s, got %s" % (here, _short(schema["enum"]),
                                                          _short(value)))
    if "const" in schema and not _equal(value, schema["const"]):
        errors.append("%s: expected %s, got %s" % (here, _short(schema["const"]),
                                                   _short(value)))

    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and "minimum" in schema and value < schema["minimum"]:
        errors.append("%s: expected >= %s, got %s" % (here, schema["minimum"], value))
    if number and "maximum" in schema and value > schema["maximum"]:
        errors.append("%s: expected <= %s, got %s" % (here, schema["maximum"], value))

    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: expected at least %d characters, got %s"
                          % (here, schema["minLength"], _short(value)))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: expected at most %d characters, got %d"
                          % (here, schema["maxLength"], len(value)))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: expected to match %s, got %s"
                          % (here, schema["pattern"], _short(value)))
        if schema.get("format") == "date-time" and not is_rfc3339(value):
            errors.append("%s: expected an RFC 3339 date-time, got %s" % (here, _short(value)))
        if schema.get("format") == "uuid" and not re.match(
                r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                value):
            errors.append("%s: expected a UUID, got %s" % (here, _short(value)))

    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append("%s: expected at least %d items, got %d"
                          % (here, schema["minItems"], len(value)))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append("%s: expected at most %d items, got %d"
                          % (here, schema["maxItems"], len(value)))
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(schema["items"], item, _pointer(ptr, i), True, errors)

    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append("%s: missing required member %r" % (here, name))
        props = schema.get("properties", {})
        for name, sub in props.items():
            evaluated.add(name)
            if name in value:
                _validate(sub, value[name], _pointer(ptr, name), True, errors)
        if "additionalProperties" in schema:
            extra = schema["additionalProperties"]
            for name in value:
                if name in props:
                    continue
                if extra is False:
                    errors.append("%s: member %r is not allowed" % (here, name))
                else:
                    _validate(extra, value[name], _pointer(ptr, name), True, errors)
            everything = True

    for sub in schema.get("allOf", []):
        merge(_validate(sub, value, ptr, False, errors))
    for keyword in ("anyOf", "oneOf"):
        if keyword not in schema:
            continue
        passed, failures = [], []
        for i, sub in enumerate(schema[keyword]):
            sub_errors = []
            result = _validate(sub, value, ptr, False, sub_errors)
            if sub_errors:
                failures.append("[%d] %s" % (i, "; ".join(sub_errors[:3])))
            else:
                passed.append(result)
        if not passed:
            errors.append("%s: matches none of %s: %s" % (here, keyword, " | ".join(failures)))
        elif keyword == "oneOf" and len(passed) > 1:
            errors.append("%s: matches %d branches of oneOf, expected exactly one"
                          % (here, len(passed)))
        for result in passed:
            merge(result)

    if closed and isinstance(value, dict) and not everything and evaluated:
        for name in value:
            if name not in evaluated:
                errors.append("%s: member %r is not documented" % (here, name))
    return None if everything else evaluated


def validate(schema, value, where="value"):
    """Raises AssertionError when `value` does not match `schema`."""
    errors = []
    _validate(schema, value, "", True, errors)
    if errors:
        raise AssertionError("%s does not match the schema:\n  %s" % (where, "\n  ".join(errors)))


def walk_schemas():
    """Yields (location, schema) of every schema object of the document (for tests)."""
    spec = load()
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        yield from _walk_schema(schema, "#/components/schemas/" + name)
    for pname, item in spec["paths"].items():
        yield from _walk_operation_schemas(item, "#/paths/" + pname)
    for kind in ("parameters", "headers", "responses", "requestBodies"):
        for name, obj in spec.get("components", {}).get(kind, {}).items():
            yield from _walk_operation_schemas(obj, "#/components/%s/%s" % (kind, name))


def _walk_schema(schema, loc):
    if not isinstance(schema, dict):
        return
    yield loc, schema
    for key in ("properties",):
        for name, sub in schema.get(key, {}).items():
            yield from _walk_schema(sub, "%s/%s/%s" % (loc, key, name))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _walk_schema(schema[key], "%s/%s" % (loc, key))
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _walk_schema(sub, "%s/%s/%d" % (loc, key, i))


def _walk_operation_schemas(node, loc):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                yield from _walk_schema(value, loc + "/schema")
            elif key not in ("example", "examples"):
                yield from _walk_operation_schemas(value, "%s/%s" % (loc, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk_operation_schemas(value, "%s/%d" % (loc, i))


def check_keywords():
    """Raises when a schema of the document uses a keyword this validator lacks."""
    for loc, schema in walk_schemas():
        unknown = set(k for k in schema if not k.startswith("x-")) - SUPPORTED - ANNOTATIONS
        if unknown:
            raise AssertionError("%s uses unsupported keyword(s) %s" % (loc, sorted(unknown)))


# ---------------------------------------------------------------- responses

def _header(headers, name):
    if hasattr(headers, "items"):
        items = headers.items()
    else:
        items = headers
    for key, value in items:
        if key.lower() == name.lower():
            return value
    return None


def _check_header(where, name, spec_header, value):
    header = _deref(spec_header)
    if value is None:
        if header.get("required"):
            raise AssertionError("%s: the required header %s is missing" % (where, name))
        return
    schema = _deref(header.get("schema", {}))
    typed = value
    if schema.get("type") == "integer":
        try:
            typed = int(value)
        except ValueError:
            raise AssertionError("%s: header %s should be an integer, got %r"
                                 % (where, name, value)) from None
    validate(header.get("schema", {}), typed, "%s: header %s" % (where, name))


def check(method, path, status, headers, body):
    """Checks one response; see the module documentation."""
    template, item = find_path(path)
    if template is None:
        return
    op = item.get(method.lower())
    if op is None:
        if status != 405:
            raise AssertionError("%s %s is not documented (path %s documents %s), yet it was"
                                 " answered %d, not 405"
                                 % (method, path, template,
                                    ", ".join(m.upper() for m in item if m in METHODS), status))
        response = load()["components"]["responses"]["MethodNotAllowed"]
        where = "%s %s (undocumented method) -> 405" % (method.upper(), template)
    else:
        where = "%s %s (%s) -> %d" % (method.upper(), template, op.get("operationId"), status)
        responses = op.get("responses", {})
        response = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) \
            or responses.get("default")
        if response is None:
            raise AssertionError("%s: status %d is not documented for this operation (documented:"
                                 " %s); body: %r" % (where, status, ", ".join(sorted(responses)),
                                                     body[:300]))
    response = _deref(response)

    for name, spec_header in response.get("headers", {}).items():
        _check_header(where, name, spec_header, _header(headers, name))

    content = response.get("content")
    ctype = _header(headers, "Content-Type")
    if not content:
        if body:
            raise AssertionError("%s: documented without a body, got %r (Content-Type %r)"
                                 % (where, body[:200], ctype))
        return
    if ctype is None:
        raise AssertionError("%s: no Content-Type; documented: %s" % (where, ", ".join(content)))
    media = ctype.split(";", 1)[0].strip().lower()
    entry = None
    for key, value in content.items():
        if key.lower() == media:
            entry = value
    if entry is None:
        raise AssertionError("%s: Content-Type %r is not documented (documented: %s)"
                             % (where, ctype, ", ".join(content)))
    schema = entry.get("schema")
    if schema is None:
        return
    if media == "application/json" or media.endswith("+json"):
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError("%s: the body is not JSON (%s): %r" % (where, e, body[:200])) \
                from None
        validate(schema, doc, "%s: the body (%s)" % (where, _short(doc)))
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError("%s: the %s body is not UTF-8 (%s)" % (where, media, e)) \
                from None
        validate(schema, text, "%s: the %s body" % (where, media))
