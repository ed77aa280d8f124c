"""Scan nodes whose filter holds a parameter, from auto_explain's JSON plans in jsonlog files
(scripts/generic-plans.sh, decision 0054): a generic plan that reads an index or a table and
filters on a value it could have searched by. Prints each distinct node once, with how often it
ran and the statement, grouped by table; catalog tables are left out.

  python3 scripts/generic_plans.py '/path/to/log/*.json'
"""
import collections
import glob
import json
import re
import sys

SCANS = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Seq Scan")
seen = collections.Counter()


def walk(node, query):
    condition = node.get("Filter") or ""
    if node.get("Node Type") in SCANS and "$" in condition:
        seen[(node.get("Relation Name") or "", node["Node Type"], node.get("Index Name"),
              node.get("Index Cond") or node.get("Recheck Cond"), condition, query)] += 1
    for child in node.get("Plans", []):
        walk(child, query)


for path in sorted(glob.glob(sys.argv[1])):
    with open(path, errors="replace") as log:
        for line in log:
            try:
                message = json.loads(line).get("message", "")
                plan = json.loads(message[message.index("plan:\n") + 6:])
            except ValueError:
                continue
            walk(plan["Plan"], re.sub(r"\s+", " ", plan.get("Query Text", "")).strip())

for (table, kind, index, searched, condition, query), runs in sorted(seen.items(), key=lambda item: [str(part) for part in item[0]]):
    if table.startswith("pg_"):
        continue
    print(f"{table}: {kind}{' on ' + index if index else ''} ({runs} runs)")
    print(f"   searched by: {searched}\n   filtered by: {condition}\n   statement:   {query[:400]}\n")
