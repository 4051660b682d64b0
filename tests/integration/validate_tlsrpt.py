#!/usr/bin/env python3
"""validate_tlsrpt.py SCHEMA FILE...: validate RFC 8460 reports (JSON, or
gzip when the file starts with 1f 8b) against SCHEMA
(tests/fixtures/tlsrpt/rfc8460.schema.json).

A small JSON Schema validator for the keywords that schema uses (the
python3-jsonschema package is not required): type, required, properties,
additionalProperties (boolean), items, minItems, enum, pattern, minimum,
minLength. Also I-JSON (RFC 7493): UTF-8, no duplicate member names.
Prints one line per problem; exit 0 when every file is valid, 1 otherwise.
"""
import gzip
import json
import re
import sys


class Dup(Exception):
    pass


def no_dups(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise Dup(k)
        seen.add(k)
    return dict(pairs)


def type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    raise ValueError("unsupported type " + t)


KNOWN = {"$schema", "$comment", "type", "required", "properties",
         "additionalProperties", "items", "minItems", "enum", "pattern",
         "minimum", "minLength"}


def validate(v, s, path, errs):
    unknown = set(s) - KNOWN
    if unknown:
        raise ValueError("schema keyword(s) not supported: %s" % unknown)
    if "type" in s and not type_ok(v, s["type"]):
        errs.append("%s: not of type %s" % (path or "/", s["type"]))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not one of %r" % (path, v, s["enum"]))
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append("%s: shorter than %d" % (path, s["minLength"]))
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append("%s: %r does not match %s" % (path, v, s["pattern"]))
    if type_ok(v, "number") and "minimum" in s and v < s["minimum"]:
        errs.append("%s: %r below %r" % (path, v, s["minimum"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                errs.append("%s: missing %s" % (path or "/", k))
        props = s.get("properties", {})
        for k, sub in v.items():
            if k in props:
                validate(sub, props[k], path + "/" + k, errs)
            elif s.get("additionalProperties", True) is False:
                errs.append("%s: unexpected key %s" % (path or "/", k))
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append("%s: fewer than %d items" % (path, s["minItems"]))
        if "items" in s:
            for i, it in enumerate(v):
                validate(it, s["items"], "%s/%d" % (path, i), errs)


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    bad = 0
    for name in sys.argv[2:]:
        with open(name, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        errs = []
        try:
            doc = json.loads(data.decode("utf-8"), object_pairs_hook=no_dups)
            validate(doc, schema, "", errs)
        except Dup as e:
            errs.append("duplicate member name %s (I-JSON)" % e)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            errs.append("not UTF-8 JSON: %s" % e)
        for e in errs:
            print("%s: %s" % (name, e))
        if errs:
            bad += 1
        else:
            print("%s: valid" % name)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
