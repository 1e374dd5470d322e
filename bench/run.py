#!/usr/bin/env python3
"""bench/run.py - the measurements of `make bench`; writes one JSON document.

Run by bench/bench.sh, which prepares everything this script takes from the environment
(images, peers, the release build, the bench runner on its own port, queue prefix, bucket and
database). Standard library only, so it runs on the system python.

  run.py --out results/<date>.json [--runs N] [--only analysis,reuse,api,feeds,coldstart,scaling]

Every timed command is wrapped so its peak RSS is known: child processes through
/usr/bin/time -v, the long-running runner through /proc/<pid>/status VmHWM after writing
"5" to /proc/<pid>/clear_refs (which resets the high-water mark) before each analysis.
Tools are interleaved within each round (A B C D, A B C D, ...) so machine drift, which is
large on this shared 2-core machine, hits every tool alike; medians are reported.
"""
import argparse
import base64
import datetime
import http.server
import json
import shlex
import os
import platform
import re
import shutil
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

E = os.environ
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH_CACHE = E.get("BENCH_CACHE", os.path.expanduser("~/.cache/customs-bench"))
RELEASE = E.get("BENCH_BIN_DIR", os.path.join(REPO, "target", "release"))
API = "http://" + E.get("BENCH_API_ADDR", "127.0.0.1:8238") + "/v1"
PASSWORD = E.get("CUSTOMS_ADMIN_PASSWORD", "")
REGISTRY = E.get("BENCH_REGISTRY", "127.0.0.1:5000")
S3 = E.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
BUCKET = E.get("CUSTOMS_BUCKET", "bench-staging")
RUNNER_PID = int(E.get("BENCH_RUNNER_PID", "0") or 0)
SYFT = E.get("SYFT", f"{BENCH_CACHE}/peers/bin/syft")
TRIVY = E.get("TRIVY", f"{BENCH_CACHE}/peers/bin/trivy")
OHA = E.get("OHA", "")
CUSTOMS_CLI = E.get("CUSTOMS_CLI", os.path.join(RELEASE, "customs"))
# How the standalone catalog path is invoked: {bin} {layout} {out} are substituted.
# `customs scan` prints the SBOM on stdout; a fresh work dir per run makes it a first analysis.
SCAN_CMD = E.get("CUSTOMS_SCAN_CMD", "sh -c 'rm -rf {out}.work && {bin} scan oci-dir:{layout} --sbom cyclonedx --work-dir {out}.work > {out}'")


def log(*a):
    print(f"[bench {time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


# ------------------------------------------------------------------ HTTP helpers
def req(method, url, body=None, auth=True, timeout=60, headers=None):
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    if auth:
        h["Authorization"] = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    r = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw and raw[:1] in b"[{" else raw)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except Exception:
            return e.code, raw
    except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
        # The runner's API can stall while it analyses a large image (see the report);
        # callers that poll simply try again.
        log(f"{method} {url}: {e}")
        return 0, None


def s3_empty(prefix="layers/"):
    """Deletes every staged layer of the bench bucket (LocalStack takes unsigned requests)."""
    n = 0
    while True:
        code, raw = req("GET", f"{S3}/{BUCKET}?list-type=2&prefix={prefix}", auth=False)
        keys = re.findall(rb"<Key>([^<]+)</Key>", raw if isinstance(raw, bytes) else b"")
        if not keys:
            return n
        for k in keys:
            req("DELETE", f"{S3}/{BUCKET}/{urllib.parse.quote(k.decode())}", auth=False)
            n += 1


# ------------------------------------------------------------------ process measurement
def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def wait_idle(pid, quiet=0.05, window=0.5, limit=120):
    """Waits until `pid` used less than `quiet` of a core over `window` seconds."""
    if not pid:
        time.sleep(1)
        return
    hz = os.sysconf("SC_CLK_TCK")
    t_end = time.time() + limit
    while time.time() < t_end:
        a = cpu_ticks(pid)
        time.sleep(window)
        if (cpu_ticks(pid) - a) / hz / window < quiet:
            return


def hwm_reset(pid):
    if pid:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")


def status_mb(pid, field):
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM) in MB."""
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"{field}:\s+(\d+) kB", f.read())
    return round(int(m.group(1)) / 1024, 1) if m else None


def rss_mb(pid):
    return status_mb(pid, "VmRSS")


def hwm_mb(pid):
    return status_mb(pid, "VmHWM")


def timed(cmd, env=None, log_to=None):
    """Runs cmd under /usr/bin/time -v: (wall s, peak RSS MB, cpu s, exit code)."""
    tfile = f"/tmp/bench-time-{os.getpid()}"
    e = dict(E)
    e.update(env or {})
    err = open(log_to, "w") if log_to else subprocess.DEVNULL
    t0 = time.perf_counter()
    rc = subprocess.run(["/usr/bin/time", "-v", "-o", tfile] + cmd, env=e, stdout=subprocess.DEVNULL,
                        stderr=err, stdin=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    if log_to:
        err.close()
    t = open(tfile).read()
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    u = re.search(r"User time \(seconds\): ([\d.]+)", t)
    s = re.search(r"System time \(seconds\): ([\d.]+)", t)
    cpu = (float(u.group(1)) if u else 0) + (float(s.group(1)) if s else 0)
    return round(wall, 3), (round(int(rss.group(1)) / 1024, 1) if rss else None), round(cpu, 2), rc


# ------------------------------------------------------------------ images
def images():
    out = {}
    for f in [os.path.join(E.get("CUSTOMS_STATE", os.path.join(REPO, ".local")), "images", "images.json"),
              os.path.join(BENCH_CACHE, "images", "images.json")]:
        if os.path.exists(f):
            out.update(json.load(open(f)))
    return out


def tag_of(name):
    return f"{REGISTRY}/customs-bench/{name}:latest"


# ------------------------------------------------------------------ the tools
class Customs:
    """customs end to end: POST /v1/images -> analysis_status analyzed, through the queues."""

    name = "customs-e2e"

    def __init__(self):
        self.digests = {}

    def forget(self, name):
        d = self.digests.get(name) or self.lookup(name)
        if d:
            req("DELETE", f"{API}/images/{d}?force=true")

    def lookup(self, name):
        code, body = req("GET", f"{API}/images?fulltag={urllib.parse.quote(tag_of(name))}")
        if code == 200 and isinstance(body, list) and body:
            return body[0].get("imageDigest")
        return None

    def analyze(self, name, cold=True, timeout=1800):
        """Seconds from the POST to `analyzed` (polled every 20 ms), and the runner's peak RSS."""
        self.forget(name)
        if cold:
            s3_empty()
        wait_idle(RUNNER_PID)
        hwm_reset(RUNNER_PID)
        # What the runner already holds (memory an allocator kept from earlier analyses):
        # the high-water mark starts there, so a peak at this level says nothing new.
        held = rss_mb(RUNNER_PID)
        ticks0 = cpu_ticks(RUNNER_PID) if RUNNER_PID else 0
        t0 = time.perf_counter()
        code, body = req("POST", f"{API}/images?force=true", {"tag": tag_of(name)})
        if code != 200:
            raise RuntimeError(f"POST /images {name}: HTTP {code} {body}")
        digest = body[0].get("imageDigest")
        status = None
        while time.perf_counter() - t0 < timeout:
            code, body = req("GET", f"{API}/images?fulltag={urllib.parse.quote(tag_of(name))}", timeout=10)
            if code == 200 and body:
                status = body[0].get("analysis_status")
                if status in ("analyzed", "analysis_failed"):
                    digest = body[0].get("imageDigest")
                    break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        rss = hwm_mb(RUNNER_PID)
        cpu = round((cpu_ticks(RUNNER_PID) - ticks0) / os.sysconf("SC_CLK_TCK"), 2) if RUNNER_PID else None
        if status != "analyzed":
            raise RuntimeError(f"{name}: {status} {body[0].get('analysis_error') if body else ''}")
        self.digests[name] = digest
        wait_idle(RUNNER_PID)   # evaluation after the analysis: not timed, but not overlapping
        return {"wall_s": round(wall, 3), "peak_rss_mb": rss, "held_rss_mb": held, "cpu_s": cpu, "rc": 0,
                "packages": None}

    def run(self, name, layout, out):
        return self.analyze(name)


class Cmd:
    def __init__(self, name, argv, env=None, parse=None):
        self.name, self.argv, self.env, self.parse = name, argv, env or {}, parse

    def run(self, name, layout, out):
        argv = [a.format(layout=layout, out=out, bin=CUSTOMS_CLI) for a in self.argv]
        if os.path.exists(out):
            os.remove(out)
        w, r, c, rc = timed(argv, self.env, log_to=out + ".stderr")
        res = {"wall_s": w, "peak_rss_mb": r, "cpu_s": c, "rc": rc, "packages": None}
        if rc == 0 and self.parse and os.path.exists(out):
            try:
                res["packages"] = self.parse(out)
            except Exception as e:  # a parse problem must not hide the timing
                res["parse_error"] = str(e)
        elif rc != 0:
            res["error"] = open(out + ".stderr", errors="replace").read()[-600:]
        m = re.search(r"index ([\d.]+) s \((\d+) layers, (\d+) entries; squash ([\d.]+) s of it\), catalog ([\d.]+) s",
                      open(out + ".stderr", errors="replace").read())
        if m:   # customs-bench-catalog's phases
            res["phases"] = {"index_s": float(m.group(1)), "entries": int(m.group(3)), "squash_s": float(m.group(4)),
                             "catalog_s": float(m.group(5))}
        return res


def count_syft(path):
    return len(json.load(open(path)).get("artifacts", []))


def count_cdx(path):
    n = 0

    def walk(cs):
        nonlocal n
        for c in cs or []:
            if c.get("type") == "library":
                n += 1
            walk(c.get("components"))
    walk(json.load(open(path)).get("components"))
    return n


def count_any(path):
    doc = json.load(open(path))
    if "artifacts" in doc:
        return len(doc["artifacts"])
    if "components" in doc:
        return count_cdx(path)
    if "packages" in doc:
        return len(doc["packages"])
    return None


def peer_tools():
    tools = []
    if os.path.exists(CUSTOMS_CLI):
        tools.append(Cmd("customs-scan", shlex.split(SCAN_CMD), parse=count_any))
    # The same engine code as the analyze function (index_layer + squash + catalog) on the
    # local layout: bench/smoke's binary, the catalog path without S3, queues or database.
    catalog_bin = os.path.join(RELEASE, "customs-bench-catalog")
    if os.path.exists(catalog_bin):
        tools.append(Cmd("customs-catalog", [catalog_bin, "{layout}", "{out}"], parse=count_any))
    tools.append(Cmd("syft", [SYFT, "scan", "oci-dir:{layout}", "-o", "syft-json={out}"],
                     {"SYFT_CHECK_FOR_APP_UPDATE": "false"}, count_syft))
    tools.append(Cmd("trivy", [TRIVY, "image", "--input", "{layout}", "--format", "cyclonedx", "--output", "{out}",
                               "--cache-backend", "memory", "--skip-java-db-update", "--offline-scan", "-q"],
                     {"TRIVY_CACHE_DIR": f"{BENCH_CACHE}/peers/trivy-cache"}, count_cdx))
    return tools


def versions():
    v = {}
    for name, cmd, pat in [("syft", [SYFT, "version"], r"Version:\s*(\S+)"),
                           ("trivy", [TRIVY, "--version"], r"Version:\s*(\S+)")]:
        try:
            t = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
            m = re.search(pat, t)
            v[name] = m.group(1) if m else t.strip()[:40]
        except Exception as e:
            v[name] = f"unavailable: {e}"
    return v


# ------------------------------------------------------------------ 1. analysis
def analysis(imgs, names, runs, work, caps):
    """caps: {(tool, image): runs} lowers the run count of a slow pair (syft takes about
    3 minutes per run on `large` here)."""
    customs = Customs()
    tools = [customs] + peer_tools()
    out = {}
    for name in names:
        layout = imgs[name]["layout"]
        rows = {t.name: [] for t in tools}
        for r in range(runs):
            order = tools if r % 2 == 0 else list(reversed(tools))   # A B C D, D C B A, ...
            for t in order:
                if r >= caps.get((t.name, name), runs):
                    continue
                res = t.run(name, layout, f"{work}/{name}-{t.name}-{r}.json")
                rows[t.name].append(res)
                log(f"{name} run {r + 1}/{runs} {t.name}: {res['wall_s']} s, {res['peak_rss_mb']} MB"
                    + (f" rc={res['rc']}" if res.get("rc") else ""))
        summary = {}
        for t, rs in rows.items():
            ok = [x for x in rs if x.get("rc") == 0]
            summary[t] = {"n": len(ok), "wall_s": med([x["wall_s"] for x in ok]), "peak_rss_mb": med([x["peak_rss_mb"] for x in ok]),
                          "cpu_s": med([x["cpu_s"] for x in ok]), "runs": rs,
                          "held_rss_mb": med([x["held_rss_mb"] for x in ok if x.get("held_rss_mb") is not None]),
                          "packages": next((x["packages"] for x in ok if x.get("packages") is not None), None)}
            if any("phases" in x for x in ok):
                summary[t]["phases"] = {k: med([x["phases"][k] for x in ok if "phases" in x])
                                        for k in ("index_s", "squash_s", "catalog_s", "entries")}
        for c in ("customs-e2e", "customs-scan", "customs-catalog"):
            if c in summary and summary[c]["wall_s"]:
                for p in ("syft", "trivy"):
                    if summary.get(p, {}).get("wall_s"):
                        summary[c][f"wall_ratio_vs_{p}"] = round(summary[c]["wall_s"] / summary[p]["wall_s"], 3)
                        if summary[c]["peak_rss_mb"] and summary[p]["peak_rss_mb"]:
                            summary[c][f"rss_ratio_vs_{p}"] = round(summary[c]["peak_rss_mb"] / summary[p]["peak_rss_mb"], 3)
        if "customs-scan" not in summary:
            summary["customs-scan"] = {"pending": f"no standalone binary at {CUSTOMS_CLI} (customs scan)"}
        meta = imgs[name]
        out[name] = {"image": {"layers": len(meta.get("layers", [])), "compressed_bytes": meta.get("total_layer_bytes"),
                               "uncompressed": meta.get("uncompressed"), "digest": meta.get("manifest_digest")},
                     "tools": summary}
    return out, customs


# ------------------------------------------------------------------ 2. layer reuse
def reuse(runs, customs):
    """large-child after large (base layers staged) vs large-child from an empty bucket."""
    cold, warm = [], []
    for r in range(runs):
        cold.append(customs.analyze("large-child", cold=True)["wall_s"])
        customs.analyze("large", cold=True)
        warm.append(customs.analyze("large-child", cold=False)["wall_s"])
        log(f"reuse run {r + 1}/{runs}: cold {cold[-1]} s, base staged {warm[-1]} s")
    c, w = med(cold), med(warm)
    return {"image": "large-child (large + 1 layer)", "first_s": c, "base_staged_s": w,
            "ratio": round(w / c, 3) if c else None, "first_runs": cold, "base_staged_runs": warm}


# ------------------------------------------------------------------ 3. API under load
def api_load(customs, rates, seconds):
    if not OHA or not os.path.exists(OHA):
        return {"pending": "oha not installed"}
    digest = customs.digests.get("debian-app") or customs.lookup("debian-app")
    if not digest:
        customs.analyze("debian-app")
        digest = customs.digests["debian-app"]
    wait_idle(RUNNER_PID)
    auth = f"admin:{PASSWORD}"
    targets = [("GET /v1/images/{digest}/vuln/all", ["-m", "GET", f"{API}/images/{digest}/vuln/all"]),
               ("GET /v1/images", ["-m", "GET", f"{API}/images"]),
               ("POST /v1/images", ["-m", "POST", "-H", "Content-Type: application/json",
                                    "-d", json.dumps({"tag": tag_of("debian-app")}), f"{API}/images"])]
    out = []
    for rate in rates:
        for label, args in targets:
            wait_idle(RUNNER_PID)
            hwm_reset(RUNNER_PID)
            cmd = [OHA, "--no-tui", "--output-format", "json", "--latency-correction", "-z", f"{seconds}s", "-q", str(rate),
                   "-c", "50", "-a", auth] + args
            p = subprocess.run(cmd, capture_output=True, text=True)
            try:
                j = json.loads(p.stdout)
            except Exception:
                out.append({"endpoint": label, "rate": rate, "error": (p.stderr or p.stdout)[-400:]})
                continue
            s, pct = j.get("summary", {}), j.get("latencyPercentiles", {})
            codes = j.get("statusCodeDistribution", {})
            row = {"endpoint": label, "rate": rate, "seconds": seconds,
                   "throughput_rps": round(s.get("requestsPerSec") or 0, 1),
                   "p50_ms": round((pct.get("p50") or 0) * 1000, 2), "p99_ms": round((pct.get("p99") or 0) * 1000, 2),
                   "max_ms": round((s.get("slowest") or 0) * 1000, 2), "success_rate": s.get("successRate"),
                   "status_codes": codes, "runner_peak_rss_mb": hwm_mb(RUNNER_PID)}
            log(f"api {label} @ {rate}/s: p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms {row['throughput_rps']} req/s {codes}")
            out.append(row)
    return out


# ------------------------------------------------------------------ fake Lambda runtime API
class RuntimeApi:
    """The Lambda Runtime API, enough for one invocation: hands out `event` once, records
    when the response arrives, and holds later /next requests open."""

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.t_next = self.t_done = None
        self.result = None
        self.served = False
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if api.served:
                    time.sleep(3600)   # the process is killed before this ends
                    return
                api.served = True
                api.t_next = time.perf_counter()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(api.event)))
                self.end_headers()
                self.wfile.write(api.event)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                api.t_done = time.perf_counter()
                api.result = (self.path.rsplit("/", 1)[-1], body[:2000].decode(errors="replace"))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def invoke(binary, event, env, timeout=1800):
    """Starts `binary` against a fresh runtime API: seconds to init (first /next), to the
    response of the one event, its peak RSS, and the response."""
    api = RuntimeApi(event)
    e = dict(E)
    e.update(env)
    e.update({"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}", "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
              "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
              "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
              "RUST_LOG": e.get("RUST_LOG", "warn")})
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    rss = None
    while time.perf_counter() - t0 < timeout and api.t_done is None and p.poll() is None:
        try:
            rss = hwm_mb(p.pid)
        except OSError:
            pass
        time.sleep(0.01)
    try:
        rss = hwm_mb(p.pid)
    except OSError:
        pass
    p.kill()
    _, err = p.communicate()
    api.close()
    res = {"init_s": round(api.t_next - t0, 4) if api.t_next else None,
           "first_event_s": round(api.t_done - t0, 4) if api.t_done else None,
           "peak_rss_mb": rss, "outcome": api.result[0] if api.result else None}
    if api.result is None or api.result[0] != "response":
        res["error"] = (api.result[1] if api.result else "") + err.decode(errors="replace")[-800:]
    return res


def sqs_event(body):
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "bench", "body": json.dumps(body),
                         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000)),
                                        "SenderId": "bench", "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000))},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:bench", "awsRegion": "us-east-1"}]}


def http_event(path):
    now = int(time.time() * 1000)
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"host": "bench", "user-agent": "bench"}, "isBase64Encoded": False,
            "requestContext": {"accountId": "000000000000", "apiId": "bench", "domainName": "bench", "domainPrefix": "bench",
                               "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                        "userAgent": "bench"},
                               "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
                               "time": "28/Nov/2026:00:00:00 +0000", "timeEpoch": now}}


FEEDS_OFF = {v: "off" for v in ["CUSTOMS_FEED_OSV_URLS", "CUSTOMS_FEED_DEBIAN_URLS", "CUSTOMS_FEED_ALPINE_URLS",
                                "CUSTOMS_FEED_NVD_URL", "CUSTOMS_FEED_REDHAT_URLS", "CUSTOMS_FEED_KEV_URL",
                                "CUSTOMS_FEED_EPSS_URL"]}


def function_env(db_url):
    return {"DATABASE_URL": db_url, "CUSTOMS_BUCKET": BUCKET, "CUSTOMS_S3_FORCE_PATH_STYLE": "true",
            "CUSTOMS_QUEUE_PREFIX": E.get("CUSTOMS_QUEUE_PREFIX", "bench-"), "CUSTOMS_ALLOW_PRIVATE_REGISTRIES": "true"}


# ------------------------------------------------------------------ 4. feed import
def fresh_db(name):
    base = E["BENCH_ADMIN_DATABASE_URL"]
    subprocess.run(["psql", base, "-qAtc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["psql", base, "-qAtc", f'CREATE DATABASE "{name}"'], check=True, stdout=subprocess.DEVNULL)
    url = base.rsplit("/", 1)[0] + "/" + name
    subprocess.run([os.path.join(RELEASE, "customs-local"), "migrate"], env=dict(E, DATABASE_URL=url), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return url


def feed_import(sets, runs):
    """sets: (label, feed URL variables, runs or None for `runs`)."""
    out = []
    binary = os.path.join(RELEASE, "customs-feed-sync")
    for label, urls, n in sets:
        rs = []
        for r in range(n or runs):
            url = fresh_db("customs_bench_feeds")
            env = dict(function_env(url), **FEEDS_OFF)
            env.update(urls)
            # A message without a feed only fans out one message per feed (as the schedule's
            # does): invoke the function once per feed, as those messages would, and add up.
            res = {"first_event_s": 0.0, "init_s": 0.0, "peak_rss_mb": 0.0, "per_feed": {}}
            for var in sorted(urls):
                feed = var[len("CUSTOMS_FEED_"):].rsplit("_", 1)[0].lower()
                one = invoke(binary, sqs_event({"kind": "feed_sync", "v": 1,
                                                "body": {"trigger": "api", "flush": False, "feed": feed}}), env)
                if one.get("error"):
                    res["error"] = f"{feed}: {one['error']}"
                res["per_feed"][feed] = one.get("first_event_s")
                res["first_event_s"] = round(res["first_event_s"] + (one.get("first_event_s") or 0), 3)
                res["init_s"] = max(res["init_s"], one.get("init_s") or 0)
                res["peak_rss_mb"] = max(res["peak_rss_mb"], one.get("peak_rss_mb") or 0)
            q = subprocess.run(["psql", url, "-qAtc", "SELECT coalesce(sum(records),0), coalesce(sum(records_written),0), "
                                "count(*) FILTER (WHERE status <> 'success') FROM feed_syncs"],
                               capture_output=True, text=True).stdout.strip().split("|")
            res["records"], res["records_written"], res["failed_feeds"] = int(q[0]), int(q[1]), int(q[2])
            secs = res["first_event_s"]
            res["records_per_s"] = round(res["records"] / secs, 1) if secs else None
            log(f"feeds {label} run {r + 1}/{runs}: {res['records']} records in {secs} s, {res['peak_rss_mb']} MB"
                + (f" ERROR {res.get('error')}" if res.get("error") else ""))
            rs.append(res)
        out.append({"feeds": label, "records": rs[-1]["records"], "seconds": med([x["first_event_s"] for x in rs]),
                    "records_per_s": med([x["records_per_s"] for x in rs]), "peak_rss_mb": med([x["peak_rss_mb"] for x in rs]),
                    "failed_feeds": rs[-1]["failed_feeds"], "runs": rs})
    return out


# ------------------------------------------------------------------ 5. cold start + sizes
def cold_start(runs):
    url = fresh_db("customs_bench_cold")
    acct = "admin"
    fns = [("customs-api", http_event("/health"), {"CUSTOMS_ADMIN_PASSWORD": PASSWORD}),
           ("customs-analyze", sqs_event({"kind": "analyze_image", "v": 1, "body": {"account": acct, "image_id": "00000000-0000-4000-8000-000000000001"}}), {}),
           ("customs-evaluate", sqs_event({"kind": "evaluate_image", "v": 1, "body": {"account": acct, "image_id": "00000000-0000-4000-8000-000000000001"}}), {}),
           ("customs-feed-sync", sqs_event({"kind": "feed_sync", "v": 1, "body": {"trigger": "api", "flush": False}}), FEEDS_OFF),
           # In AWS the function knows its topic by ARN only (the runner resolves it by name).
           ("customs-notify", sqs_event({"kind": "notify", "v": 1, "body": {"account": acct, "event_id": "00000000-0000-4000-8000-000000000002"}}),
            {"CUSTOMS_EVENTS_TOPIC_ARN": f"arn:aws:sns:{E.get('AWS_REGION', 'us-east-1')}:000000000000:"
                                         f"{E.get('CUSTOMS_QUEUE_PREFIX', 'bench-')}events"}),
           ("customs-watch", sqs_event({"kind": "watch_tick", "v": 1, "body": {}}), {})]
    out = {}
    for r in range(runs):
        for name, ev, extra in fns:
            b = os.path.join(RELEASE, name)
            if not os.path.exists(b):
                out.setdefault(name, {"pending": f"no binary {b}"})
                continue
            env = dict(function_env(url), CUSTOMS_SECRETS_KEY=E.get("CUSTOMS_SECRETS_KEY", ""), **extra)
            res = invoke(b, ev, env, timeout=60)
            out.setdefault(name, {"runs": []})["runs"].append(res)
    for name, v in out.items():
        if "runs" in v:
            v["init_s"] = med([x["init_s"] for x in v["runs"]])
            v["first_event_s"] = med([x["first_event_s"] for x in v["runs"]])
            v["peak_rss_mb"] = med([x["peak_rss_mb"] for x in v["runs"]])
            v["errors"] = [x["error"] for x in v["runs"] if x.get("error")][:1]
            log(f"cold start {name}: init {v['init_s']} s, first event {v['first_event_s']} s, {v['peak_rss_mb']} MB")
    sizes = {}
    for f in sorted(os.listdir(RELEASE)):
        p = os.path.join(RELEASE, f)
        if os.path.isfile(p) and os.access(p, os.X_OK) and f.startswith("customs"):
            sizes[f] = os.path.getsize(p)
    return {"functions": out, "binary_bytes": sizes}


# ------------------------------------------------------------------ 6. scaling
def scaling(imgs, runs, customs, work):
    tools = [customs] + [t for t in peer_tools() if t.name in ("customs-scan", "customs-catalog", "trivy")]
    out = {}
    for k in (1, 2, 4, 8):
        name = f"scale-{k}x"
        if name not in imgs:
            log(f"scaling: {name} not built (tests/images/build-bench.sh); skipped")
            continue
        rows = {t.name: [] for t in tools}
        for r in range(runs):
            for t in (tools if r % 2 == 0 else list(reversed(tools))):
                res = t.run(name, imgs[name]["layout"], f"{work}/{name}-{t.name}-{r}.json")
                rows[t.name].append(res)
                log(f"{name} run {r + 1}/{runs} {t.name}: {res['wall_s']} s, {res['peak_rss_mb']} MB")
        out[name] = {"factor": k, "entries": (imgs[name].get("uncompressed") or {}).get("entries"),
                     "uncompressed_bytes": (imgs[name].get("uncompressed") or {}).get("bytes"),
                     "tools": {t: {"phases": next((x["phases"] for x in rs if "phases" in x), None),
                                   "wall_s": med([x["wall_s"] for x in rs if x.get("rc") == 0]),
                                   "peak_rss_mb": med([x["peak_rss_mb"] for x in rs if x.get("rc") == 0]),
                                   "held_rss_mb": med([x["held_rss_mb"] for x in rs if x.get("held_rss_mb") is not None]),
                                   "runs": [x["wall_s"] for x in rs]} for t, rs in rows.items()}}
    return out


# ------------------------------------------------------------------ main
def machine():
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except Exception:
        pass
    mem = next((ln.split()[1] for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), "0")
    git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "mem_gb": round(int(mem) / 1048576, 1),
            "kernel": platform.release(), "loadavg_start": os.getloadavg(), "commit": git}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=int(E.get("BENCH_RUNS", "5")))
    ap.add_argument("--only", default="analysis,reuse,api,feeds,coldstart,scaling")
    ap.add_argument("--images", default="tiny,debian-app,large")
    ap.add_argument("--rates", default="100,500")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--merge", action="store_true", help="add the sections to an existing --out document")
    ap.add_argument("--cap", default=E.get("BENCH_CAP", "syft@large=3"),
                    help="comma list of TOOL@IMAGE=RUNS: fewer runs for a slow pair")
    a = ap.parse_args()
    only = set(a.only.split(","))
    work = os.path.join(BENCH_CACHE, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    imgs = images()
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
           "runs": a.runs, "tools": versions()}
    if a.merge and os.path.exists(a.out):   # add sections to an earlier run's document
        old = json.load(open(a.out))
        old["machine"]["loadavg_start"] = [max(x, y) for x, y in zip(old["machine"]["loadavg_start"], doc["machine"]["loadavg_start"])]
        old["tools"].update(doc["tools"])
        doc = old
    if OHA and os.path.exists(OHA):
        doc["tools"]["oha"] = subprocess.run([OHA, "--version"], capture_output=True, text=True).stdout.strip().split()[-1]
        bs = os.path.join(os.path.dirname(os.path.dirname(OHA)), "build-seconds")
        if os.path.exists(bs):
            doc["tools"]["oha_build_seconds"] = int(open(bs).read())

    def save():
        doc["machine"]["loadavg_end"] = os.getloadavg()
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(a.out + ".tmp", a.out)

    customs = Customs()
    if "analysis" in only:
        caps = {}
        for c in filter(None, a.cap.split(",")):
            pair, n = c.split("=")
            caps[tuple(pair.split("@"))] = int(n)
        doc["analysis_caps"] = {f"{t}@{i}": n for (t, i), n in caps.items()}
        names = a.images.split(",")
        missing = [n for n in names if n not in imgs]
        if missing:
            # Built images are listed in images.json only once the builder has finished.
            log(f"skipping images not built (or not yet in images.json): {', '.join(missing)}")
            doc["analysis_skipped"] = missing
        doc["analysis"], customs = analysis(imgs, [n for n in names if n in imgs], a.runs, work, caps)
        save()
    if "feeds" in only:
        sets = [("fixtures (repo's real upstream records)", json.loads(E.get("BENCH_FIXTURE_FEEDS", "{}")), None)]
        if E.get("BENCH_OSV_ARCHIVE"):
            # One run: at a few hundred records/s it takes a quarter of an hour here.
            sets.append((f"synthetic OSV archive ({E.get('BENCH_OSV_RECORDS', '?')} records)",
                         {"CUSTOMS_FEED_OSV_URLS": "file://" + E["BENCH_OSV_ARCHIVE"]}, int(E.get("BENCH_OSV_RUNS", "1"))))
        doc["feeds"] = feed_import(sets, max(2, a.runs // 2))
        save()
    if "coldstart" in only:
        doc["cold_start"] = cold_start(a.runs)
        save()
    if "reuse" in only and "large-child" in imgs:
        doc["reuse"] = reuse(max(3, a.runs // 2), customs)
        save()
    if "api" in only:
        doc["api"] = api_load(customs, [int(x) for x in a.rates.split(",")], a.seconds)
        save()
    if "scaling" in only:
        doc["scaling"] = scaling(imgs, max(2, a.runs // 2), customs, work)
        save()
    save()
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
