"""Reads the association's open data as a third party would: Python's standard library only.

Fetches /open-data/index.json and dictionary.json from the URL given, then every file the
index lists, CSV and JSON Lines; checks that each CSV parses with the csv module (UTF-8 with a
byte-order mark), that its header is the dictionary's columns in order, that it has the rows
the index says and the same rows as the JSON Lines file; prints one JSON object: the statement,
the row counts, the hromadas table and the practices table, for the test to compare with gRPC.
"""

import csv
import io
import json
import sys
import urllib.request

base = sys.argv[1].rstrip("/")


def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return response.read(), response.headers


index = json.loads(get("/open-data/index.json")[0])
dictionary = {t["name"]: t for t in json.loads(get("/open-data/dictionary.json")[0])["tables"]}
assert index["licence"] == "CC-BY-4.0", index["licence"]
out = {"statement": index["statement"], "rows": {}, "tables": {}}
for listed in index["files"]:
    name = listed["name"]
    raw, headers = get(listed["csv"])
    assert raw.startswith(b"\xef\xbb\xbf"), f"{name}.csv has no byte-order mark"
    assert headers.get("Content-Type", "").startswith("text/csv"), headers.get("Content-Type")
    assert headers.get("Vidkryto-Statement-Digest") == index["statement"]["digest"]
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    columns = [c["name"] for c in dictionary[name]["columns"]]
    assert header == columns, f"{name}: header {header} is not the dictionary's {columns}"
    assert all(len(r) == len(columns) for r in body), f"{name}: a row of another width"
    assert len(body) == listed["rows"], f"{name}: {len(body)} rows, the index says {listed['rows']}"
    lines = [json.loads(line) for line in get(listed["jsonl"])[0].decode("utf-8").splitlines()]
    assert len(lines) == len(body), f"{name}: {len(lines)} JSON lines, {len(body)} CSV rows"
    for line, row in zip(lines, body):
        assert list(line) == columns, f"{name}: JSON keys {list(line)}"
        for column, cell in zip(columns, row):
            value = line[column]
            shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                shown = "'" + value  # defused for spreadsheets, as index.json says
            assert shown == cell, f"{name}.{column}: JSON {value!r}, CSV {cell!r}"
    out["rows"][name] = len(body)
    out["tables"][name] = [dict(zip(columns, r)) for r in body]
print(json.dumps({k: out[k] for k in ("statement", "rows")} | {
    "hromadas": out["tables"]["hromadas"], "practices": out["tables"]["practices"],
}, ensure_ascii=False))
