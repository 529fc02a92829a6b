# Reference side of crates/ward/tests/csaf.rs: which components of Red Hat's image SBOMs Red
# Hat's own CSAF VEX documents call affected, read the way Red Hat documents its data
# (https://www.redhat.com/en/blog/future-red-hat-security-data): a `fixed` product is the
# package build that fixes the CVE in the product stream it is a component of; an installed
# build of that package in the same Red Hat Enterprise Linux major release that is older than
# the stream's fix is affected; a `known_affected` package without a version is affected in every
# build of that release. Maven artefacts have no release: an installed version is affected when it
# is older than the fix of its own major.minor line, or older than the lowest line's fix.
# Versions are ordered by univers (aboutcode-org/univers), independent of Ward's code.
#
# Input (stdin, JSON): {"csaf": a folder of CSAF JSON documents, "sboms": [SPDX JSON files, .bz2]}.
# Output (stdout): JSON [[sbom file name, component purl, CVE], ...], sorted.
import bz2
import json
import os
import re
import sys

from packageurl import PackageURL
from univers.versions import MavenVersion, RpmVersion

job = json.load(sys.stdin)
csaf_dir, sboms = job["csaf"], job["sboms"]


def major_of_cpe(cpe):
    # cpe:/o:redhat:enterprise_linux:9::baseos, cpe:/a:redhat:rhel_eus:8.6::appstream
    parts = cpe.split(":")
    if len(parts) > 4:
        m = re.match(r"\d+", parts[4])
        if m:
            return m.group(0)
    return None


def el_major(version):
    m = re.search(r"\.el(\d+)", version.rsplit("-", 1)[-1])
    return m.group(1) if m else None


def line(version):
    nums = [int(n) for n in re.findall(r"\d+", version.split(":", 1)[-1])[:2]]
    return tuple(nums + [0] * (2 - len(nums)))


# (kind, release or None, package name) -> {"fixes": [...], "all": bool}
facts = {}
for root, _, files in os.walk(csaf_dir):
    for f in sorted(files):
        doc = json.load(open(os.path.join(root, f)))
        products = {}

        def walk(branches):
            for b in branches:
                if "product" in b:
                    products[b["product"]["product_id"]] = (b["product"], None)
                walk(b.get("branches", []))

        walk(doc.get("product_tree", {}).get("branches", []))
        for r in doc.get("product_tree", {}).get("relationships", []):
            products[r["full_product_name"]["product_id"]] = (
                products.get(r["product_reference"], ({}, None))[0],
                products.get(r["relates_to_product_reference"], ({}, None))[0],
            )
        for v in doc["vulnerabilities"]:
            cve = v["cve"]
            status = v.get("product_status", {})
            for kind, ids in status.items():
                if kind not in ("fixed", "first_fixed", "known_affected"):
                    continue
                for pid in ids:
                    comp, platform = products.get(pid, ({}, None))
                    purl = comp.get("product_identification_helper", {}).get("purl")
                    if not purl:
                        continue
                    p = PackageURL.from_string(purl)
                    if p.type == "rpm":
                        cpe = (platform or {}).get("product_identification_helper", {}).get("cpe")
                        release = (major_of_cpe(cpe) if cpe else None) or (
                            el_major(p.version) if p.version else None
                        )
                        key = (cve, "rpm", release, p.name)
                    elif p.type == "maven":
                        key = (cve, "maven", None, f"{p.namespace}:{p.name}")
                    else:
                        continue
                    entry = facts.setdefault(key, {"fixes": [], "all": False})
                    if kind == "known_affected" and not p.version:
                        entry["all"] = True
                    elif kind != "known_affected" and p.version:
                        entry["fixes"].append(p.version)

cves = sorted({k[0] for k in facts})
expected = set()
for sbom in sboms:
    opener = bz2.open if sbom.endswith(".bz2") else open
    doc = json.load(opener(sbom, "rt"))
    name = os.path.basename(sbom)
    for pkg in doc.get("packages", []):
        for ref in pkg.get("externalRefs", []):
            if ref.get("referenceType") != "purl":
                continue
            try:
                p = PackageURL.from_string(ref["referenceLocator"])
            except ValueError:
                continue
            if not p.version:
                continue
            for cve in cves:
                if p.type == "rpm" and p.namespace == "redhat":
                    e = facts.get((cve, "rpm", el_major(p.version), p.name))
                    if not e:
                        continue
                    if e["fixes"]:
                        newest = max(RpmVersion(x) for x in e["fixes"])
                        hit = RpmVersion(p.version) < newest
                    else:
                        hit = e["all"]
                elif p.type == "maven":
                    e = facts.get((cve, "maven", None, f"{p.namespace}:{p.name}"))
                    if not e:
                        continue
                    if e["fixes"]:
                        mine = line(p.version)
                        lines = sorted({line(x) for x in e["fixes"]})
                        same = [MavenVersion(x) for x in e["fixes"] if line(x) == mine]
                        v = MavenVersion(p.version)
                        if same:
                            hit = v < max(same)
                        else:
                            lowest = [MavenVersion(x) for x in e["fixes"] if line(x) == lines[0]]
                            hit = mine < lines[0] or v < max(lowest)
                    else:
                        hit = e["all"]
                else:
                    continue
                if hit:
                    expected.add((name, ref["referenceLocator"], cve))

json.dump(sorted(expected), sys.stdout)
