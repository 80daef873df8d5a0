"""Checks registry responses against openapi/openapi.yaml.

    spec = Spec.load()
    template, operation = spec.match("GET", "/subjects/s/versions/1")
    problems = spec.check_response("GET", "/subjects/s/versions/1", status, content_type, body_bytes)

match() finds the path template a request path belongs to (literal segments
before parameters, so /schemas/types is not /schemas/ids/{id}); check_response()
returns a list of problems (empty when the response conforms): the status must
be declared for the operation (or its `default` response), the Content-Type
must be one of the declared media types, and the body must validate against
the declared schema (JSON Schema 2020-12, `#/components/...` references
resolved within the document). A request matching no operation must get one
of the responses under `x-unmatched` (404 for an unknown path, 405 for a known
path and another method).

Run as a program it checks the document itself: every $ref resolves, every
schema is a valid 2020-12 schema, every operation declares its responses.
"""

import json
import os
import re
import sys
import urllib.parse

import jsonschema
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PATH = os.path.join(REPO_ROOT, "openapi", "openapi.yaml")

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
UNKNOWN_PATH = "(unknown path)"


def _media_type(content_type):
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower()


class Spec:
    _cache = {}

    def __init__(self, doc, path=SPEC_PATH):
        self.doc = doc
        self.path = path
        self.templates = []  # (template, regex, literal-segment count)
        for template in doc.get("paths", {}):
            parts = [p for p in template.split("/") if p]
            pattern = "".join("/" + ("([^/]+)" if re.fullmatch(r"\{[^}]+\}", p) else re.escape(p)) for p in parts)
            literal = sum(1 for p in parts if not p.startswith("{"))
            self.templates.append((template, re.compile("^" + (pattern or "/") + "/?$"), literal))
        # More literal segments first: /schemas/types before /schemas/ids/{id}.
        self.templates.sort(key=lambda t: (-t[2], t[0]))
        self._validators = {}

    @classmethod
    def load(cls, path=SPEC_PATH):
        if path not in cls._cache:
            with open(path) as f:
                cls._cache[path] = cls(yaml.safe_load(f), path)
        return cls._cache[path]

    # -- document navigation ---------------------------------------------------

    def resolve(self, node):
        """Follows $ref chains inside the document."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self.lookup(node["$ref"])
            seen += 1
            if seen > 20:
                raise ValueError("$ref loop")
        return node

    def lookup(self, pointer):
        if not pointer.startswith("#/"):
            raise ValueError("only local references are supported: %s" % pointer)
        node = self.doc
        for part in pointer[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise KeyError("unresolved reference %s" % pointer)
            node = node[part]
        return node

    def operations(self):
        """Every (METHOD, template) the document declares."""
        ops = []
        for template, item in self.doc.get("paths", {}).items():
            for method in METHODS:
                if method in item:
                    ops.append((method.upper(), template))
        return sorted(ops, key=lambda o: (o[1], o[0]))

    def match(self, method, path):
        """(template, operation or None); template is None for an unknown path."""
        path = urllib.parse.urlsplit(path).path or "/"
        for template, regex, _ in self.templates:
            if regex.match(path):
                item = self.doc["paths"][template]
                return template, item.get(method.lower())
        return None, None

    def validator(self, schema):
        key = json.dumps(schema, sort_keys=True)
        v = self._validators.get(key)
        if v is None:
            # The whole document is the root so that "#/components/..." resolves.
            resolver = jsonschema.RefResolver(base_uri="", referrer=self.doc)
            v = jsonschema.Draft202012Validator(schema, resolver=resolver)
            self._validators[key] = v
        return v

    # -- responses -------------------------------------------------------------

    def expected_response(self, method, path, status):
        """(template, response object or None, problem or None)."""
        template, operation = self.match(method, path)
        status = str(status)
        if template is None:
            declared = self.doc.get("x-unmatched", {}).get("unknown-path", {})
            where = "%s %s (no such path in the spec)" % (method, path)
            key = UNKNOWN_PATH
        elif operation is None:
            declared = self.doc.get("x-unmatched", {}).get("unknown-method", {})
            where = "%s %s (the spec has no %s operation there)" % (method, template, method)
            key = template
        else:
            declared = operation.get("responses", {})
            where = "%s %s" % (method, template)
            key = template
        response = declared.get(status)
        if response is None:
            response = declared.get(status[0] + "XX")
        if response is None:
            response = declared.get("default")
        if response is None:
            return key, None, "%s: status %s is not declared (declared: %s)" % (
                where, status, ", ".join(sorted(declared)))
        return key, self.resolve(response), None

    def check_response(self, method, path, status, content_type, body):
        """List of problems with one response (empty if it conforms)."""
        template, response, problem = self.expected_response(method, path, status)
        if problem:
            return [problem]
        where = "%s %s -> %s" % (method, template, status)
        content = response.get("content")
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = body or b""
        if not content:
            if body.strip():
                return ["%s: declared without a body, got %r" % (where, body[:200])]
            return []
        media = _media_type(content_type)
        if media not in content:
            return ["%s: Content-Type %r is not one of %s" % (where, content_type, ", ".join(content))]
        schema = content[media].get("schema", {})
        if response.get("x-raw-body"):
            try:
                instance = body.decode("utf-8")
            except UnicodeDecodeError as e:
                return ["%s: body is not UTF-8: %s" % (where, e)]
        else:
            try:
                instance = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                return ["%s: body is not JSON (%s): %r" % (where, e, body[:200])]
        errors = sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        problems = []
        for e in errors[:5]:
            at = "/".join(str(p) for p in e.absolute_path) or "(root)"
            problems.append("%s: body at %s: %s; body: %s" % (where, at, e.message, _short(body)))
        return problems


def _short(body, limit=400):
    text = body.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


# -- the document itself ----------------------------------------------------------

def check_document(spec):
    """Problems with the document: unresolved $refs, invalid schemas, bad operations."""
    problems = []
    doc = spec.doc
    if doc.get("openapi") != "3.1.0":
        problems.append("openapi is %r, not 3.1.0" % doc.get("openapi"))
    for key in ("info", "paths", "components"):
        if key not in doc:
            problems.append("no %s" % key)

    def walk(node, where):
        if isinstance(node, dict):
            r = node.get("$ref")
            if isinstance(r, str):
                try:
                    spec.lookup(r)
                except (KeyError, ValueError) as e:
                    problems.append("%s: %s" % (where, e))
            for k, v in node.items():
                walk(v, where + "/" + str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))

    walk(doc, "#")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append("components/schemas/%s: %s" % (name, e.message))
    op_ids = set()
    for method, template in spec.operations():
        operation = doc["paths"][template][method.lower()]
        oid = operation.get("operationId")
        if not oid or oid in op_ids:
            problems.append("%s %s: missing or duplicate operationId %r" % (method, template, oid))
        op_ids.add(oid)
        responses = operation.get("responses") or {}
        if not any(s.startswith("2") for s in responses):
            problems.append("%s %s: no 2xx response" % (method, template))
        declared = [p.get("name") for p in (doc["paths"][template].get("parameters", []) +
                                             operation.get("parameters", [])) for p in [spec.resolve(p)]
                    if p.get("in") == "path"]
        wanted = re.findall(r"\{([^}]+)\}", template)
        if sorted(declared) != sorted(wanted):
            problems.append("%s %s: path parameters %s, template has %s" % (method, template, declared, wanted))
        for status, response in responses.items():
            response = spec.resolve(response)
            if "description" not in response:
                problems.append("%s %s %s: no description" % (method, template, status))
            for media, mt in (response.get("content") or {}).items():
                try:
                    jsonschema.Draft202012Validator.check_schema(mt.get("schema", {}))
                except jsonschema.SchemaError as e:
                    problems.append("%s %s %s %s: %s" % (method, template, status, media, e.message))
    return problems


def main():
    spec = Spec.load(sys.argv[1] if len(sys.argv) > 1 else SPEC_PATH)
    problems = check_document(spec)
    for p in problems:
        print(p)
    print("%d operations, %d problems" % (len(spec.operations()), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
