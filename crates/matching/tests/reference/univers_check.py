# Reference side of the differential test (crates/matching/tests/differential.rs): orders
# version pairs and evaluates vers ranges with univers (aboutcode-org/univers), an independent
# implementation. Input and output are JSON on stdin/stdout; a version univers cannot read
# gives null.
import json
import sys
import time

from univers.version_range import RANGE_CLASS_BY_SCHEMES, VersionRange

job = json.load(sys.stdin)
out = {"orders": [], "ranges": []}


def version(scheme, text):
    try:
        return RANGE_CLASS_BY_SCHEMES[scheme].version_class(text)
    except Exception:
        return None


for scheme, pairs in job["orders"]:
    results = []
    for a, b in pairs:
        va, vb = version(scheme, a), version(scheme, b)
        if va is None or vb is None:
            results.append(None)
            continue
        try:
            results.append(-1 if va < vb else (1 if va > vb else 0))
        except Exception:
            results.append(None)
    out["orders"].append(results)

started = time.perf_counter()
for vers, v in job["ranges"]:
    try:
        r = VersionRange.from_string(vers)
        ver = r.version_class(v)
        out["ranges"].append(ver in r)
    except Exception:
        out["ranges"].append(None)

out["range_seconds"] = time.perf_counter() - started
json.dump(out, sys.stdout)
