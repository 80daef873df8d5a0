"""The schema registry's benchmarks, run by run_bench.py (make bench).

- GET /schemas/ids/{id} and GET /subjects/{s}/versions/latest with wrk:
  requests/s and p99 latency beside http_baseline (the smallest
  libmicrohttpd server with the same thread pool, answering the same body)
  measured in the same run. Target: >= 0.7 of the baseline's requests/s.
- Registration of new schemas, one client, one at a time: p50/p99 latency
  (each includes the acks=all write to _schemas, its fsync and the wait for
  the registry's reader to apply it). Beside: the same client's GET latency,
  the HTTP round trip alone. Target: p50 <= 10 ms.
- Start-up with 10,000 schemas in _schemas: strand-registry started against
  the broker until it prints its listening line, beside kcat reading the same
  topic to its end. Target: <= 2 s.
"""

import json
import os
import re
import select
import signal
import statistics
import subprocess
import tempfile
import time

import requests

REGISTRY_READY = re.compile(r"^strand: schema registry listening on (http://\S+)\s*$")
KAFKA_READY = re.compile(r"^strand: kafka listening on (\S+):(\d+)\s*$")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

WRK_SECONDS = 5
WRK_CONNECTIONS = 16
WRK_THREADS = 2
HTTP_THREADS = 8
REGISTRATIONS = 300
STARTUP_SCHEMAS = 10_000

TARGETS = {"get_ratio": 0.7, "register_p50_ms": 10.0, "startup_s": 2.0}


class RegistryBenchError(Exception):
    pass


def _wait_line(proc, patterns, timeout):
    """Reads proc's stdout until every pattern matched once; returns matches."""
    found = {}
    buf = b""
    deadline = time.monotonic() + timeout
    while len(found) < len(patterns):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise RegistryBenchError("process printed no listening line (status %s)" % proc.poll())
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            for i, pattern in enumerate(patterns):
                m = pattern.match(text)
                if m and i not in found:
                    found[i] = m
    return [found[i] for i in range(len(patterns))]


class Process:
    def __init__(self, argv, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wrk(url, seconds=WRK_SECONDS):
    """Runs wrk against url; returns (requests/s, p99 ms)."""
    out = subprocess.run(["wrk", "-t%d" % WRK_THREADS, "-c%d" % WRK_CONNECTIONS, "-d%ds" % seconds,
                          "--latency", url], capture_output=True, text=True, timeout=seconds + 30)
    if out.returncode != 0:
        raise RegistryBenchError("wrk failed: %s" % out.stderr.strip())
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out.stdout, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    if not rps or not p99:
        raise RegistryBenchError("cannot read wrk's output:\n%s" % out.stdout)
    if non2xx:
        raise RegistryBenchError("%s: %s responses were errors" % (url, non2xx.group(1)))
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rps.group(1)), float(p99.group(1)) * scale


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def record_schema(name, fields):
    return json.dumps({"type": "record", "name": name,
                       "fields": [{"name": "f%d" % i, "type": "long"} for i in range(fields)]})


def start_strand(bin_dir, workdir, registry):
    data = os.path.join(workdir, "data")
    os.makedirs(data, exist_ok=True)
    argv = [os.path.join(bin_dir, "strand"), "--listeners=PLAINTEXT://127.0.0.1:0",
            "--log.dirs=" + data, "--group.initial.rebalance.delay.ms=0",
            "--schema.registry.listeners=" + ("http://127.0.0.1:0" if registry else "")]
    proc = Process(argv, os.path.join(workdir, "strand.log"))
    patterns = [KAFKA_READY] + ([REGISTRY_READY] if registry else [])
    matches = _wait_line(proc.proc, patterns, 60)
    bootstrap = "%s:%s" % (matches[0].group(1), matches[0].group(2))
    url = matches[1].group(1) if registry else None
    return proc, bootstrap, url


def get_figures(bin_dir, bench_dir, workdir, reps):
    proc, _, url = start_strand(bin_dir, workdir, registry=True)
    baseline = None
    try:
        session = requests.Session()
        r = session.post(url + "/subjects/bench-get/versions", headers={"Content-Type": CONTENT_TYPE},
                         data=json.dumps({"schema": record_schema("BenchGet", 20)}), timeout=30)
        r.raise_for_status()
        schema_id = r.json()["id"]
        by_id = url + "/schemas/ids/%d" % schema_id
        latest = url + "/subjects/bench-get/versions/latest"
        body_path = os.path.join(workdir, "body.json")
        with open(body_path, "wb") as f:
            f.write(session.get(by_id, timeout=10).content)
        baseline = subprocess.Popen([os.path.join(bench_dir, "http_baseline"), "--body", body_path,
                                     "--threads", str(HTTP_THREADS)], stdout=subprocess.PIPE)
        line = baseline.stdout.readline().decode()
        base_url = "http://127.0.0.1:%s/schemas/ids/%d" % (line.split()[-1], schema_id)
        runs = {"by_id": [], "latest": [], "base": []}
        for _ in range(reps):
            runs["base"].append(wrk(base_url))
            runs["by_id"].append(wrk(by_id))
            runs["latest"].append(wrk(latest))

        # Registration latency of new schemas, and the same client's GETs.
        register, gets = [], []
        for i in range(REGISTRATIONS):
            body = json.dumps({"schema": record_schema("Lat%d" % i, 5)})
            t = time.perf_counter()
            r = session.post(url + "/subjects/bench-lat-%d/versions" % i,
                             headers={"Content-Type": CONTENT_TYPE}, data=body, timeout=30)
            register.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
            t = time.perf_counter()
            session.get(by_id, timeout=10).raise_for_status()
            gets.append((time.perf_counter() - t) * 1000)
        return runs, register, gets
    finally:
        if baseline is not None:
            baseline.send_signal(signal.SIGTERM)
            baseline.wait(timeout=10)
        proc.stop()


def startup_figures(bin_dir, workdir, reps):
    from confluent_kafka import Producer

    proc, bootstrap, _ = start_strand(bin_dir, workdir, registry=False)
    try:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("_schemas", 1, 1, config={"cleanup.policy": "compact"})])[
            "_schemas"].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                             "linger.ms": 20})
        for i in range(STARTUP_SCHEMAS):
            subject = "startup-%d" % i
            key = json.dumps({"keytype": "SCHEMA", "subject": subject, "version": 1, "magic": 1},
                             separators=(",", ":"))
            value = json.dumps({"subject": subject, "version": 1, "id": i + 1,
                                "schema": record_schema("Startup%d" % i, 10), "deleted": False},
                               separators=(",", ":"))
            while True:
                try:
                    producer.produce("_schemas", key=key.encode(), value=value.encode())
                    break
                except BufferError:
                    producer.poll(0.1)
        if producer.flush(60) != 0:
            raise RegistryBenchError("could not write the start-up schemas")
        # Close the clients now, not after the broker has gone.
        producer = admin = None
        starts, reads = [], []
        for rep in range(reps):
            t = time.perf_counter()
            out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", "_schemas", "-o", "beginning",
                                  "-e", "-q", "-f", "%k %s\n"], capture_output=True, timeout=120)
            reads.append(time.perf_counter() - t)
            if out.stdout.count(b"\n") < STARTUP_SCHEMAS:
                raise RegistryBenchError("kcat read %d records" % out.stdout.count(b"\n"))
            argv = [os.path.join(bin_dir, "strand-registry"), "--bootstrap-servers", bootstrap,
                    "--listeners=http://127.0.0.1:0", "--schema.registry.group.id=bench-%d" % rep]
            t = time.perf_counter()
            reg = Process(argv, os.path.join(workdir, "registry-%d.log" % rep))
            try:
                url = _wait_line(reg.proc, [REGISTRY_READY], 120)[0].group(1)
                starts.append(time.perf_counter() - t)
                got = requests.get(url + "/schemas/ids/%d" % STARTUP_SCHEMAS, timeout=10)
                if got.status_code != 200:
                    raise RegistryBenchError("schema %d missing after start-up: %s"
                                             % (STARTUP_SCHEMAS, got.text))
            finally:
                reg.stop()
        return starts, reads
    finally:
        proc.stop()


def verdict(ok):
    return "met" if ok else "MISSED"


def registry_section(bin_dir, bench_dir, reps):
    """Runs the registry benchmarks and prints their table; False on failure."""
    for path in (os.path.join(bin_dir, "strand-registry"), os.path.join(bench_dir, "http_baseline")):
        if not os.access(path, os.X_OK):
            print("registry: %s is missing; build it with make" % path)
            return False
    workdir = tempfile.mkdtemp(prefix="strand-registry-bench-")
    try:
        runs, register, gets = get_figures(bin_dir, bench_dir, os.path.join(workdir, "get"), reps)
        starts, reads = startup_figures(bin_dir, os.path.join(workdir, "startup"), reps)
    except (RegistryBenchError, requests.RequestException, OSError) as e:
        print("registry: FAILED: %s (files kept in %s)" % (e, workdir))
        return False
    base_rps = statistics.median(r[0] for r in runs["base"])
    base_p99 = statistics.median(r[1] for r in runs["base"])
    print("Schema registry (wrk -t%d -c%d -d%ds, medians of %d runs; baseline = libmicrohttpd "
          "answering a fixed body, same thread pool)" % (WRK_THREADS, WRK_CONNECTIONS, WRK_SECONDS,
                                                        reps))
    print("  %-38s %10s %9s %10s %9s %7s %s" % ("request", "req/s", "p99 ms", "base req/s",
                                              "base p99", "ratio", "target >= 0.7"))
    for name, label in (("by_id", "GET /schemas/ids/{id}"),
                        ("latest", "GET /subjects/{s}/versions/latest")):
        rps = statistics.median(r[0] for r in runs[name])
        p99 = statistics.median(r[1] for r in runs[name])
        ratio = statistics.median(a[0] / b[0] for a, b in zip(runs[name], runs["base"]))
        print("  %-38s %10.0f %9.2f %10.0f %9.2f %7.2f %s" % (label, rps, p99, base_rps, base_p99,
                                                           ratio,
                                                           verdict(ratio >= TARGETS["get_ratio"])))
    p50 = statistics.median(register)
    print("  register a new schema (%d, one client): p50 %.2f ms, p99 %.2f ms; the same client's "
          "GET: p50 %.2f ms; target p50 <= %.0f ms: %s"
          % (len(register), p50, percentile(register, 0.99), statistics.median(gets),
             TARGETS["register_p50_ms"], verdict(p50 <= TARGETS["register_p50_ms"])))
    start = statistics.median(starts)
    print("  start-up with %d schemas in _schemas: %.2f s (runs: %s); kcat reading the topic to "
          "its end: %.2f s; target <= %.0f s: %s"
          % (STARTUP_SCHEMAS, start, ", ".join("%.2f" % s for s in starts), statistics.median(reads),
             TARGETS["startup_s"], verdict(start <= TARGETS["startup_s"])))
    print()
    import shutil
    shutil.rmtree(workdir, ignore_errors=True)
    return True
