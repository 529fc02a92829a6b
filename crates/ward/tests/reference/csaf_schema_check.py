# Validates a CSAF 2.0 document (stdin) against the OASIS CSAF 2.0 JSON schema, as shipped by
# csaf-lib (PyPI) with the FIRST CVSS schemas it references; exits non-zero naming each error.
import importlib.util
import json
import os
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

here = os.path.join(
    os.path.dirname(importlib.util.find_spec("csaf_lib").origin), "verification", "schemas"
)
registry = Registry()
for name, uri in [
    ("cvss_v2_0.json", "https://www.first.org/cvss/cvss-v2.0.json"),
    ("cvss_v3_0.json", "https://www.first.org/cvss/cvss-v3.0.json"),
    ("cvss_v3_1.json", "https://www.first.org/cvss/cvss-v3.1.json"),
]:
    contents = json.load(open(os.path.join(here, name)))
    registry = registry.with_resource(
        uri, Resource.from_contents(contents, default_specification=DRAFT7)
    )
schema = json.load(open(os.path.join(here, "csaf_2_0.json")))
assert schema["$id"] == "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
validator = Draft202012Validator(
    schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
)
errors = sorted(validator.iter_errors(json.load(sys.stdin)), key=lambda e: list(e.path))
if errors:
    sys.exit("\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:20]))
