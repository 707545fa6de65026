#!/usr/bin/env python3
"""Summarises bench/load.sh results and draws them as an SVG bar chart (no dependencies).

Usage: python3 bench/chart.py RESULTS.tsv OUT.svg

Prints req/s, p50, p99 and the server's CPU time per request for each (server, mode, path),
and the ratios the HTTP targets are about, each as min-max over the rounds (every ratio is taken
within one round).
"""

import csv
import sys
from collections import defaultdict
from html import escape

NODE = "supertokens-node"
COLORS = {
    "cache-on": "#2b7bba",
    "axum": "#8856a7",
    "cache-off": "#7fb3d5",
    "baseline": "#e08214",
    NODE: "#5aae61",
}
LEGEND = {
    "cache-on": "sessionward demo, verified-token cache on",
    "axum": "sessionward demo-axum, verified-token cache on",
    "cache-off": "sessionward demo, cache off",
    "baseline": "hand-written baseline (jsonwebtoken, no sessionward)",
    NODE: "supertokens-node 24 + express, verifySession(), sessionward-core as core",
}
# Bars are grouped by transfer mode, then route, so the servers for one request sit together.
SERVER_ORDER = ["cache-on", "axum", "cache-off", "baseline", NODE]
MODE_ORDER = ["header", "cookie"]
PATH_ORDER = ["/health", "/user", "/optional"]


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        row["rps"] = float(row["rps"])
        row["p50_ms"] = float(row["p50_ms"])
        row["p99_ms"] = float(row["p99_ms"])
        row["non2xx"] = int(row.get("non2xx") or 0)
        row["socket_errors"] = int(row.get("socket_errors") or 0)
        row["cpu_us"] = float(row["cpu_us"]) if row.get("cpu_us") else None
    return merge_slices(rows)


def merge_slices(rows):
    """One row per (round, server, mode, path): load.sh measures each as equal-length slices
    interleaved with the other paths, so req/s is their mean, p50 their median and p99 the
    highest."""
    slices = defaultdict(list)
    for row in rows:
        slices[(row["round"], row["server"], row["mode"], row["path"])].append(row)
    merged = []
    for (round_, server, mode, path), group in slices.items():
        p50 = sorted(r["p50_ms"] for r in group)
        cpu = [r["cpu_us"] for r in group if r["cpu_us"] is not None]
        merged.append({
            "round": round_, "server": server, "mode": mode, "path": path,
            "rps": sum(r["rps"] for r in group) / len(group),
            "p50_ms": p50[len(p50) // 2],
            "p99_ms": max(r["p99_ms"] for r in group),
            "non2xx": sum(r["non2xx"] for r in group),
            "socket_errors": sum(r["socket_errors"] for r in group),
            "slices": len(group),
            "cpu_us": sum(cpu) / len(cpu) if cpu else None,
        })
    return merged


def rank(order, value):
    return (order.index(value), "") if value in order else (len(order), value)


def span(values):
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    return f"{lo:.3f}" if abs(hi - lo) < 0.0005 else f"{lo:.3f}-{hi:.3f}"


def ratios(rows):
    by_round = defaultdict(dict)
    for row in rows:
        by_round[row["round"]][(row["server"], row["mode"], row["path"])] = row["rps"]
    wanted = []
    for mode in ("header", "cookie"):
        wanted += [
            (f"cache on:  /user vs /health ({mode})", ("cache-on", mode, "/user"), ("cache-on", mode, "/health"), 0.90),
            (f"cache on:  /optional vs /health ({mode})", ("cache-on", mode, "/optional"), ("cache-on", mode, "/health"), None),
            (f"axum:      /user vs /health ({mode})", ("axum", mode, "/user"), ("axum", mode, "/health"), 0.90),
            (f"axum:      /user vs actix /user ({mode})", ("axum", mode, "/user"), ("cache-on", mode, "/user"), 0.90),
            (f"cache off: /user vs /health ({mode})", ("cache-off", mode, "/user"), ("cache-off", mode, "/health"), None),
            (f"cache off: /optional vs /health ({mode})", ("cache-off", mode, "/optional"), ("cache-off", mode, "/health"), None),
            (f"cache off: /user vs baseline /user ({mode})", ("cache-off", mode, "/user"), ("baseline", mode, "/user"), 0.95),
            (f"cache on:  /user vs baseline /user ({mode})", ("cache-on", mode, "/user"), ("baseline", mode, "/user"), None),
            (f"cache on:  /user vs {NODE} /user ({mode})", ("cache-on", mode, "/user"), (NODE, mode, "/user"), None),
            (f"cache off: /user vs {NODE} /user ({mode})", ("cache-off", mode, "/user"), (NODE, mode, "/user"), None),
            (f"{NODE}: /user vs /health ({mode})", (NODE, mode, "/user"), (NODE, mode, "/health"), None),
            (f"{NODE}: /optional vs /health ({mode})", (NODE, mode, "/optional"), (NODE, mode, "/health"), None),
        ]
    # Server CPU time per request: the other server's over axum's, so 0.90 means axum spends
    # at most 11 % more per request.
    cpu = defaultdict(dict)
    for row in rows:
        if row["cpu_us"]:
            cpu[row["round"]][(row["server"], row["mode"], row["path"])] = row["cpu_us"]
    out = []
    for mode in ("header", "cookie"):
        for path in ("/health", "/user"):
            key_actix, key_axum = ("cache-on", mode, path), ("axum", mode, path)
            values = [r[key_actix] / r[key_axum] for r in cpu.values() if key_actix in r and key_axum in r]
            if values:
                out.append((f"cpu/req: actix {path} vs axum {path} ({mode})", values, None))
    for label, num, den, target in wanted:
        values = [r[num] / r[den] for r in by_round.values() if num in r and den in r and r[den] > 0]
        # A ratio without a target over a server this run did not measure (NODE=0): no line.
        if values or target is not None:
            out.append((label, values, target))
    return out


def summary(rows):
    groups = defaultdict(list)
    for row in rows:
        groups[(row["server"], row["mode"], row["path"])].append(row)
    order = sorted(groups, key=lambda k: (rank(MODE_ORDER, k[1]), rank(PATH_ORDER, k[2]), rank(SERVER_ORDER, k[0])))
    return {key: groups[key] for key in order}


def draw(groups, ratio_rows, path):
    keys = list(groups)
    bar_h, gap, block_gap, left = 20, 4, 14, 300
    width = 1060
    plot_w = width - left - 290
    servers = sorted({k[0] for k in keys}, key=lambda s: rank(SERVER_ORDER, s))
    top = 56 + 18 * len(servers) + 10
    blocks = 0
    for i, key in enumerate(keys):
        if i and key[1:] != keys[i - 1][1:]:
            blocks += 1
    max_rps = max(max(r["rps"] for r in rows) for rows in groups.values()) or 1
    bars_h = len(keys) * (bar_h + gap) + blocks * block_gap
    height = top + bars_h + 40 + 18 * (len(ratio_rows) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="12" y="22" font-size="16" font-weight="bold">sessionward HTTP load '
        "(wrk, 127.0.0.1, 2 cores shared with the load generator)</text>",
        '<text x="12" y="40" fill="#555">bars: mean req/s over rounds; whiskers: min-max; '
        "right: p50 / p99 latency (mean); grouped by transfer mode and route</text>",
    ]
    for i, server in enumerate(servers):
        y = 56 + 18 * i
        parts.append(f'<rect x="12" y="{y}" width="12" height="12" fill="{COLORS.get(server, "#999")}"/>')
        parts.append(f'<text x="30" y="{y + 10}">{escape(server)}: {escape(LEGEND.get(server, server))}</text>')
    y = top
    for i, key in enumerate(keys):
        if i and key[1:] != keys[i - 1][1:]:
            y += block_gap
        rows = groups[key]
        server, mode, route = key
        rps = [r["rps"] for r in rows]
        mean = sum(rps) / len(rps)
        w = plot_w * mean / max_rps
        color = COLORS.get(server, "#999")
        p50 = sum(r["p50_ms"] for r in rows) / len(rows)
        p99 = sum(r["p99_ms"] for r in rows) / len(rows)
        non2xx = sum(r["non2xx"] for r in rows)
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(server)} · {escape(mode)} · {escape(route)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
        lo, hi = plot_w * min(rps) / max_rps, plot_w * max(rps) / max_rps
        parts.append(f'<line x1="{left + lo:.1f}" x2="{left + hi:.1f}" y1="{y + bar_h / 2}" y2="{y + bar_h / 2}" stroke="black"/>')
        label = f"{mean:,.0f} req/s"
        parts.append(f'<text x="{left + max(w, hi) + 6:.1f}" y="{y + 14}">{label}</text>')
        if non2xx:
            parts.append(
                f'<text x="{left + max(w, hi) + 6 + 7.2 * len(label):.1f}" y="{y + 14}" fill="#c00" '
                f'font-weight="bold">{non2xx:,} non-2xx!</text>'
            )
        parts.append(f'<text x="{width - 12}" y="{y + 14}" text-anchor="end" fill="#333">p50 {p50:.2f} ms / p99 {p99:.2f} ms</text>')
        y += bar_h + gap
    y += 24
    parts.append(f'<text x="12" y="{y}" font-weight="bold">ratios of req/s within a round (min-max over rounds)</text>')
    for label, values, target in ratio_rows:
        y += 18
        status = ""
        if target is not None and values:
            status = f"  (target ≥ {target:.2f}: {'met' if min(values) >= target else 'MISSED'})"
        parts.append(f'<text x="24" y="{y}">{escape(label)}: {span(values)}{escape(status)}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    rows = load(sys.argv[1])
    groups = summary(rows)
    print(f"{'server':<17} {'mode':<7} {'path':<10} {'req/s':>16} {'p50 ms':>14} {'p99 ms':>14} {'cpu us/req':>12} {'non-2xx':>8}")
    for (server, mode, route), group in groups.items():
        rps = [r["rps"] for r in group]
        p50 = [r["p50_ms"] for r in group]
        p99 = [r["p99_ms"] for r in group]
        non2xx = sum(r["non2xx"] for r in group)
        rng = lambda v, f: f.format(min(v)) if min(v) == max(v) else (f.format(min(v)) + "-" + f.format(max(v)))
        flag = f"{non2xx:>8} !!" if non2xx else f"{0:>8}"
        cpu = [r["cpu_us"] for r in group if r["cpu_us"] is not None]
        cpu_text = rng(cpu, '{:.1f}') if cpu else "-"
        print(f"{server:<17} {mode:<7} {route:<10} {rng(rps, '{:.0f}'):>16} {rng(p50, '{:.3f}'):>14} {rng(p99, '{:.3f}'):>14} {cpu_text:>12} {flag}")
    print()
    ratio_rows = ratios(rows)
    for label, values, target in ratio_rows:
        status = ""
        if target is not None and values:
            status = f"   target >= {target:.2f}: {'met' if min(values) >= target else 'MISSED'}"
        print(f"{label:<52} {span(values)}{status}")
    if len(sys.argv) > 2:
        draw(groups, ratio_rows, sys.argv[2])
        print(f"\nwrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
