#!/usr/bin/env python3
"""validate.py SCHEMA DOCUMENT - validate a JSON document against one of the schemas in
schemas/ (resolving their references to each other offline); prints every violation and
exits 1 when there is one, 0 when the document is valid."""
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

HERE = pathlib.Path(__file__).resolve().parent / "schemas"
CDX_BASE = "http://cyclonedx.org/schema/"


def registry():
    resources = []
    for path in HERE.glob("*.json"):
        schema = json.loads(path.read_text())
        res = Resource.from_contents(schema, default_specification=DRAFT7)
        resources.append((schema.get("$id", path.name), res))
        # CycloneDX refers to its companion schemas by file name relative to its $id.
        resources.append((CDX_BASE + path.name, res))
    return Registry().with_resources(resources)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    schema = json.loads((HERE / sys.argv[1]).read_text())
    doc = json.loads(pathlib.Path(sys.argv[2]).read_text())
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, registry=registry(), format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:50]:
        print(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}")
    if len(errors) > 50:
        print(f"... and {len(errors) - 50} more")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
