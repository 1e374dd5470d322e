#!/usr/bin/env python3
"""bench/report.py RESULTS.json - writes RESULTS.md (tables) and RESULTS.png (chart) next to it.

Needs matplotlib (bench/tools.sh venv installs the pinned bench/requirements.txt); without it
only the Markdown is written.
"""
import json
import os
import sys


def fmt(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def peak(r):
    """Peak RSS in MB; for the bench runner also what it already held when the run began
    (memory kept from earlier runs: the high-water mark cannot start below it)."""
    p = fmt(r.get("peak_rss_mb"), 0)
    return f"{p} (held {fmt(r['held_rss_mb'], 0)})" if r.get("held_rss_mb") is not None else p


def mb(b):
    return f"{b / 1e6:,.0f} MB" if b else "–"


def markdown(d):
    out = [f"# customs benchmark, {d['date']}", ""]
    m = d["machine"]
    out += [f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['mem_gb']} GB, kernel {m['kernel']}, commit {m['commit']}; "
            f"load average at start {', '.join(f'{x:.1f}' for x in m['loadavg_start'])}, at end "
            f"{', '.join(f'{x:.1f}' for x in m.get('loadavg_end', []))}. Peers: " +
            ", ".join(f"{k} {v}" for k, v in d["tools"].items()) + f". Medians of {d['runs']} runs unless noted.", ""]
    if "analysis" in d:
        out += ["## Analysis wall time and peak RSS", "",
                "customs-e2e: `POST /v1/images` → `analyzed` through the real queues (release `customs-local serve`, "
                "LocalStack SQS/S3, PostgreSQL; staging bucket emptied before each run; RSS = the runner process's "
                "high-water mark, API and every function included). customs-catalog: the same engine code on the local "
                "layout (index every layer as analyze does, squash, catalog; `customs-bench-catalog`, no S3/queues/DB). "
                "customs-scan: the standalone `customs scan` CLI. "
                "syft `scan oci-dir:` and trivy `image --input` (CycloneDX, offline) read the same OCI layout. "
                "Ratio = customs / peer.", "",
                "| image | layers | size (compressed / uncompressed) | tool | runs | wall s | peak RSS MB | CPU s | packages | wall ÷ syft | wall ÷ trivy | RSS ÷ trivy |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for img, v in d["analysis"].items():
            im = v["image"]
            unc = (im.get("uncompressed") or {}).get("bytes")
            size = f"{mb(im.get('compressed_bytes'))} / {mb(unc)}"
            for t, r in v["tools"].items():
                if "pending" in r:
                    out.append(f"| {img} | {im['layers']} | {size} | {t} | | pending: {r['pending']} | | | | | | |")
                    continue
                out.append(f"| {img} | {im['layers']} | {size} | {t} | {r.get('n', '')} | {fmt(r.get('wall_s'))} | {peak(r)} | "
                           f"{fmt(r.get('cpu_s'))} | {fmt(r.get('packages'))} | {fmt(r.get('wall_ratio_vs_syft'))} | "
                           f"{fmt(r.get('wall_ratio_vs_trivy'))} | {fmt(r.get('rss_ratio_vs_trivy'))} |")
            if v.get("note"):
                out.append(f"| {img} | note: {v['note']} | | | | | | | | | | |")
        out.append("")
    if "catalog_path" in d:
        c = d["catalog_path"]
        out += ["## Catalog path: customs vs trivy, before and after the squash fix", "", c["about"], "",
                "| image | tool | wall s (median) | CPU s | peak RSS MB | wall ÷ trivy | CPU ÷ trivy | RSS ÷ trivy |",
                "|---|---|---|---|---|---|---|---|"]
        import statistics
        for img, v in c.items():
            if img == "about":
                continue
            for k in ("customs_before", "customs_after", "trivy", "syft"):
                if k in v:
                    r = v[k]
                    out.append(f"| {img} | {k} | {fmt(statistics.median(r['wall_s']))} | "
                               f"{fmt(statistics.median(r['cpu_s'])) if r.get('cpu_s') else '–'} | {fmt(r['peak_rss_mb'], 1)} | "
                               f"{fmt(r.get('wall_ratio_vs_trivy'), 3)} | {fmt(r.get('cpu_ratio_vs_trivy'), 3)} | {fmt(r.get('rss_ratio_vs_trivy'), 3)} |")
        out.append("")
    if isinstance(d.get("reuse"), dict) and "pending" in d["reuse"]:
        out += ["## Layer reuse", "", f"pending: {d['reuse']['pending']}", ""]
    elif "reuse" in d:
        r = d["reuse"]
        out += ["## Layer reuse", "",
                f"{r['image']}: first analysis (empty staging bucket) {fmt(r['first_s'])} s; with the base layers already "
                f"staged {fmt(r['base_staged_s'])} s; ratio **{fmt(r['ratio'], 3)}** (target ≤ 0.1). "
                f"Runs: {r['first_runs']} vs {r['base_staged_runs']}.", ""]
    if "api" in d:
        out += ["## API under load (oha, fixed rate, 30 s each, 50 connections)", ""]
        if isinstance(d["api"], dict):
            out += [f"pending: {d['api'].get('pending')}", ""]
        else:
            out += ["| endpoint | rate req/s | throughput req/s | p50 ms | p99 ms | max ms | status codes |", "|---|---|---|---|---|---|---|"]
            for r in d["api"]:
                if "error" in r:
                    out.append(f"| {r['endpoint']} | {r['rate']} | error: {r['error'][:80]} | | | | |")
                else:
                    out.append(f"| {r['endpoint']} | {r['rate']} | {fmt(r['throughput_rps'], 1)} | {fmt(r['p50_ms'])} | "
                               f"{fmt(r['p99_ms'])} | {fmt(r['max_ms'])} | {r['status_codes']} |")
            out.append("")
    if "feeds" in d:
        notes = [f"- {r['feeds']}: {r['note']}" for r in d["feeds"] if r.get("note")]
        out += ["## Feed import (customs-feed-sync release binary, one event, fresh database)", "",
                "| feeds | records | seconds | records/s | peak RSS MB | failed feeds |", "|---|---|---|---|---|---|"]
        for r in d["feeds"]:
            out.append(f"| {r['feeds']} | {r['records']} | {fmt(r['seconds'])} | {fmt(r['records_per_s'], 0)} | "
                       f"{fmt(r['peak_rss_mb'], 0)} | {r.get('failed_feeds', '–')} |")
        out += [""] + notes + [""]
    if "cold_start" in d:
        c = d["cold_start"]
        out += ["## Cold start (process start → first event handled, Lambda Runtime API emulated) and binary sizes", "",
                "| binary | init s (first /next) | first event s | peak RSS MB | size MB |", "|---|---|---|---|---|"]
        names = sorted(set(c["functions"]) | set(c["binary_bytes"]))
        for n in names:
            f = c["functions"].get(n, {})
            size = c["binary_bytes"].get(n)
            out.append(f"| {n} | {fmt(f.get('init_s'), 3)} | {fmt(f.get('first_event_s'), 3)} | {fmt(f.get('peak_rss_mb'), 0)} | "
                       f"{fmt(size / 1e6 if size else None, 1)} |")
        out.append("")
    if isinstance(d.get("scaling"), dict) and "pending" in d["scaling"]:
        out += ["## Scaling", "", f"pending: {d['scaling']['pending']}", ""]
    elif "scaling" in d:
        out += ["## Scaling (k copies of the same payload)", "", "| image | entries | uncompressed | tool | wall s | s per 10k entries | peak RSS MB |",
                "|---|---|---|---|---|---|---|"]
        for img, v in d["scaling"].items():
            for t, r in v["tools"].items():
                per = (r["wall_s"] / v["entries"] * 1e4) if r.get("wall_s") and v.get("entries") else None
                out.append(f"| {img} | {v.get('entries')} | {mb(v.get('uncompressed_bytes'))} | {t} | {fmt(r['wall_s'])} | "
                           f"{fmt(per, 3)} | {peak(r)} |")
        out.append("")
    return "\n".join(out)


def chart(d, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    colors = {"customs-e2e": "#1f77b4", "customs-catalog": "#9edae5", "customs-scan": "#17becf", "syft": "#ff7f0e",
              "trivy": "#2ca02c"}
    if "analysis" in d:
        imgs = list(d["analysis"])
        tools = [t for t in colors if any(d["analysis"][i]["tools"].get(t, {}).get("wall_s") for i in imgs)]
        w = 0.8 / max(1, len(tools))
        for k, (key, ax, label) in enumerate([("wall_s", axes[0][0], "analysis wall time (s, log)"),
                                              ("peak_rss_mb", axes[0][1], "peak RSS (MB)")]):
            for j, t in enumerate(tools):
                ys = [d["analysis"][i]["tools"].get(t, {}).get(key) or 0 for i in imgs]
                ax.bar([x + j * w for x in range(len(imgs))], ys, w, label=t, color=colors[t])
            ax.set_xticks([x + w * (len(tools) - 1) / 2 for x in range(len(imgs))], imgs)
            ax.set_title(label)
            if key == "wall_s":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
    if "catalog_path" in d:
        import statistics
        ax = axes[1][0]
        imgs = [i for i in d["catalog_path"] if i != "about"]
        series = [("customs_before", "customs catalog (before fix)", "#aec7e8"), ("customs_after", "customs catalog (after fix)", "#1f77b4"),
                  ("trivy", "trivy", "#2ca02c")]
        w = 0.27
        for j, (k, label, col) in enumerate(series):
            ys = [statistics.median(d["catalog_path"][i][k]["cpu_s"]) if k in d["catalog_path"][i] else 0 for i in imgs]
            ax.bar([x + j * w for x in range(len(imgs))], ys, w, label=label, color=col)
        ax.set_xticks([x + w for x in range(len(imgs))], imgs)
        ax.set_yscale("log")
        ax.set_title("catalog path CPU seconds (log)")
        ax.legend(fontsize=8)
    if isinstance(d.get("scaling"), dict) and "tools" in next(iter(d["scaling"].values()), {}):
        ax = axes[1][0]
        ks = [v["factor"] for v in d["scaling"].values()]
        for t in colors:
            ys = [v["tools"].get(t, {}).get("wall_s") for v in d["scaling"].values()]
            if any(ys):
                ax.plot(ks, [y or 0 for y in ys], "o-", label=t, color=colors[t])
        ax.set_xlabel("payload copies (files ×k)")
        ax.set_ylabel("s")
        ax.set_xticks(ks)
        ax.set_title("scaling")
        ax.legend(fontsize=8)
    if isinstance(d.get("api"), list):
        ax = axes[1][1]
        rows = [r for r in d["api"] if "p50_ms" in r]
        labels = [f"{r['endpoint'].replace('/v1/images', '…').replace('{digest}', 'd')}\n@{r['rate']}/s" for r in rows]
        ax.bar(range(len(rows)), [r["p99_ms"] for r in rows], label="p99", color="#d62728")
        ax.bar(range(len(rows)), [r["p50_ms"] for r in rows], label="p50", color="#9467bd")
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_yscale("log")
        ax.set_title("API latency at fixed rates (ms, log)")
        ax.legend(fontsize=8)
    else:
        axes[1][1].axis("off")
        axes[1][1].text(0.5, 0.5, "API under load: not measured in this run", ha="center", va="center")
    fig.suptitle(f"customs vs syft / trivy — {d['date']} ({d['machine']['cpus']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    src = sys.argv[1]
    d = json.load(open(src))
    base = os.path.splitext(src)[0]
    with open(base + ".md", "w") as f:
        f.write(markdown(d) + "\n")
    try:
        chart(d, base + ".png")
    except ImportError as e:
        print(f"report.py: no chart ({e}); run bench/tools.sh venv", file=sys.stderr)


if __name__ == "__main__":
    main()
