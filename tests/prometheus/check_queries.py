#!/usr/bin/env python3
"""Checks the PromQL that ships with auditq: the Grafana dashboard and the alerting rules.

  check_queries.py [--metrics FILE] docs/grafana/auditq.json docs/prometheus/alerts.yaml

Every query must parse as PromQL (promtool check rules, on a rules file made of them, with
Grafana's variables given values). With --metrics (the text of a live /metrics, as the
integration test fetches it), every auditq_* and process_* name a query or an annotation uses
must be a series auditq exports, and every label a selector matches on must be a label of that
series (instance and job are Prometheus's). The dashboard must show what an operator needs:
throughput, lag per stream, commit latency quantiles, dead letters by reason, the breaker, RSS.
Exit 0 when everything holds; otherwise each problem on its own line, and exit 1.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

NAME = re.compile(r"\b((?:auditq|process)_[a-zA-Z0-9_]+)\b(\{[^}]*\})?")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h",
                "${instance}": ".*", "$instance": ".*", "${datasource}": "x"}
DASHBOARD_NEEDS = {
    "throughput": "auditq_entries_committed_total",
    "lag per stream": "auditq_consumer_group_lag",
    "commit latency quantiles": "auditq_commit_duration_seconds_bucket",
    "dead letters by reason": "auditq_entries_dead_lettered_total",
    "breaker": "auditq_postgres_breaker_state",
    "RSS": "process_resident_memory_bytes",
}
PROMETHEUS_LABELS = {"instance", "job"}
problems = []


def problem(text):
    problems.append(text)
    print(f"check_queries: {text}", file=sys.stderr)


def dashboard_queries(path):
    """(where, expr) for every target of every panel (rows included) and query variable."""
    dash = json.load(open(path, encoding="utf-8"))
    out = []

    def walk(panels):
        for p in panels:
            targets = p.get("targets", [])
            if p.get("type") != "row" and not targets:
                problem(f"{path}: panel '{p.get('title')}' has no query")
            for t in targets:
                out.append((f"{path}: panel '{p.get('title')}' {t.get('refId')}", t.get("expr", "")))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", var["query"])
            if not m:
                problem(f"{path}: variable {var['name']}: not label_values(selector, label)")
                continue
            out.append((f"{path}: variable {var['name']}", m.group(1)))
    return out


def rule_queries(path):
    """(where, expr) of every rule, and (where, text) of its annotations (they may query too)."""
    exprs, texts = [], []
    for group in yaml.safe_load(open(path, encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            exprs.append((f"{path}: {name}", rule["expr"]))
            for key, text in rule.get("annotations", {}).items():
                texts.append((f"{path}: {name} annotation {key}", text))
    return exprs, texts


def check_syntax(exprs):
    rules = {"groups": [{"name": "queries", "rules": []}]}
    for i, (_, expr) in enumerate(exprs):
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        rules["groups"][0]["rules"].append({"record": f"query_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        r = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    except FileNotFoundError:
        problem("promtool is not installed (scripts/bootstrap installs Debian's prometheus)")
        return
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        for line in (r.stdout + r.stderr).splitlines():
            m = re.search(r"query_(\d+)", line)
            where = exprs[int(m.group(1))][0] if m else "promtool"
            if "SUCCESS" not in line and line.strip() and not line.startswith("Checking"):
                problem(f"{where}: {line.strip()}")


def exported(metrics_text):
    """series name -> set of label names, from the Prometheus text format."""
    series, families = {}, {}
    for line in metrics_text.splitlines():
        t = re.match(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", line)
        if t:
            families[t.group(1)] = set()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ", line)
        if m:
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
            series.setdefault(m.group(1), set()).update(labels)
    # A histogram's family name (auditq_x_seconds for auditq_x_seconds_bucket...) is a name too.
    for family in families:
        for suffix in ("", "_bucket", "_sum", "_count"):
            families[family] |= series.get(family + suffix, set()) - {"le"}
    return {**families, **series}


def check_names(items, series):
    used = set()
    for where, text in items:
        for m in NAME.finditer(text):
            name, selector = m.group(1), m.group(2)
            used.add(name)
            if name not in series:
                problem(f"{where}: {name} is not a metric auditq exports")
                continue
            for label in MATCHER_LABEL.findall(selector or ""):
                if label not in series[name] and label not in PROMETHEUS_LABELS:
                    problem(f"{where}: {name} has no label '{label}' (it has: {sorted(series[name])})")
    return used


def main(argv):
    metrics = None
    if len(argv) > 1 and argv[0] == "--metrics":
        metrics = open(argv[1], encoding="utf-8").read()
        argv = argv[2:]
    exprs, texts, dashboard_names = [], [], set()
    for path in argv:
        if path.endswith(".json"):
            q = dashboard_queries(path)
            exprs += q
            dashboard_names |= {m.group(1) for _, e in q for m in NAME.finditer(e)}
        else:
            e, t = rule_queries(path)
            exprs += e
            texts += t
    if not exprs:
        problem("no queries found")
    check_syntax(exprs)
    if any(p.endswith(".json") for p in argv):
        for what, name in DASHBOARD_NEEDS.items():
            if name not in dashboard_names:
                problem(f"the dashboard shows no {what} ({name})")
    if metrics is not None:
        check_names(exprs + texts, exported(metrics))
    if problems:
        return 1
    print(f"check_queries: {len(exprs)} queries parse" +
          (", and every metric and label they name is exported" if metrics is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
