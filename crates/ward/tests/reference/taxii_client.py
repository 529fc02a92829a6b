# Reference side of crates/ward/tests/taxii.rs: OASIS's own TAXII 2.1 client (taxii2-client from
# PyPI) against Ward's TAXII server — discovery, API root, collections, objects page by page,
# the manifest and `added_after`. Input (stdin, JSON): {"discovery": URL, "token": bearer token,
# "added_after": optional RFC 3339}. Output (stdout, JSON): what the client saw.
import json
import sys

import requests
from taxii2client.v21 import Server, as_pages


class Bearer(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


job = json.load(sys.stdin)
auth = Bearer(job["token"])
server = Server(job["discovery"], auth=auth)
out = {"title": server.title, "api_roots": [r.url for r in server.api_roots], "collections": []}
root = server.default
out["versions"] = root.versions
for c in root.collections:
    entry = {"id": c.id, "title": c.title, "can_read": c.can_read, "pages": 0, "objects": []}
    for envelope in as_pages(c.get_objects, per_request=1):
        entry["pages"] += 1
        entry["objects"].extend(o["id"] for o in envelope.get("objects", []))
    entry["manifest"] = [m["id"] for m in c.get_manifest().get("objects", [])]
    if job.get("added_after"):
        newer = c.get_objects(added_after=job["added_after"])
        entry["added_after"] = [o["id"] for o in newer.get("objects", [])]
    indicators = c.get_objects(type="indicator")
    entry["indicators"] = [o["id"] for o in indicators.get("objects", [])]
    out["collections"].append(entry)
json.dump(out, sys.stdout)
