#!/usr/bin/env python3
"""The baseline `ward bench import` is compared with (issue #22): Python's json.loads of every
JSON document in the given archives, folders or files. Archives are read into memory first.
Prints the documents parsed, the seconds of parsing alone (`json_loads_seconds`) and of the
whole run, reading and decompressing included (`seconds_with_reading`: what `ward bench import`
does from the same file), as JSON."""
import json, os, sys, tarfile, time

began = time.perf_counter()
docs = []
for path in sys.argv[1:]:
    if os.path.isdir(path):
        for root, _, files in os.walk(path):
            docs += [open(os.path.join(root, f), "rb").read() for f in files if f.endswith(".json")]
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as t:
            for m in t:
                if m.isfile() and m.name.endswith(".json"):
                    docs.append(t.extractfile(m).read())
    else:
        docs.append(open(path, "rb").read())
started = time.perf_counter()
for d in docs:
    json.loads(d)
print(json.dumps({"documents": len(docs), "bytes": sum(map(len, docs)),
                  "json_loads_seconds": time.perf_counter() - started,
                  "seconds_with_reading": time.perf_counter() - began}))
