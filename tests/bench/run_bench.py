#!/usr/bin/env python3
"""Runs Strand's benchmarks and prints each figure beside a same-run baseline.

Starts the release broker on port 0 in a fresh temporary directory, drives it
with kbench (librdkafka) and measures the baselines with the baseline program,
each scenario --reps times; the table shows medians. See README.md beside this
file for what every figure means and the targets.

    python3 tests/bench/run_bench.py --bin bin --bench build/release/bench

STRAND_BENCH_KEEP=1 keeps the temporary directory (broker log and data).
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import registry_bench  # noqa: E402

READY = re.compile(r"^strand: kafka listening on (\S+):(\d+)\s*$")

# Workload sizes at --scale 1; each broker run lasts a few seconds.
PRODUCE_RECORDS = 2_000_000
GROUP_RECORDS = 1_000_000
GROUP_PRODUCERS = 4
LATENCY_RATE = 50_000
LATENCY_RECORDS = 100_000
RECORD_BYTES = 100
REBALANCE_PARTITIONS = 4
REBALANCE_RECORDS = 4000

# Framing the baselines add per record and per batch: see baseline.c.
RECORD_OVERHEAD = 10

TARGETS = {
    "produce_ratio": 0.6,
    "produce_records_per_s": 400_000,
    "consume_ratio": 0.6,
    "acks_all_slowdown": 2.0,
}


class BenchError(Exception):
    pass


def proc_children_cpu():
    """CPU seconds used so far by this script's finished child processes."""
    t = os.times()
    return t.children_user + t.children_system


class Broker:
    """The broker under test: started on port 0, stopped with SIGTERM."""

    def cpu_seconds(self):
        """User + system CPU seconds the broker process has used so far."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __init__(self, strand, workdir):
        self.strand = strand
        self.data = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, "strand.log")
        self.proc = None
        self.address = None

    def start(self, timeout=30):
        os.makedirs(self.data, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                self.strand,
                "--listeners=PLAINTEXT://127.0.0.1:0",
                f"--log.dirs={self.data}",
                "--num.partitions=1",
                # Kafka's 3 s default would dominate the group figures.
                "--group.initial.rebalance.delay.ms=0",
                # The registry has benchmarks of its own (registry_bench.py).
                "--schema.registry.listeners=",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        line = b""
        while self.address is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise BenchError(
                    "broker did not print its listening line within %ds\n%s"
                    % (timeout, self.log_tail())
                )
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                continue
            line += chunk
            while b"\n" in line:
                first, line = line.split(b"\n", 1)
                match = READY.match(first.decode(errors="replace"))
                if match:
                    self.address = "%s:%s" % (match.group(1), match.group(2))
        # Keep reading stdout so the broker never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while self.proc.stdout.read(65536):
            pass

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(
                "broker exited with status %s\n%s" % (self.proc.returncode, self.log_tail())
            )

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class Runner:
    def __init__(self, args, workdir, broker):
        self.kbench = os.path.join(args.bench, "kbench")
        self.baseline = os.path.join(args.bench, "baseline")
        self.workdir = workdir
        self.broker = broker
        self.scale = args.scale
        self.verbose = args.verbose
        self.results = []

    def count(self, n):
        return max(1000, int(n * self.scale))

    def run(self, argv, timeout=150):
        started = time.monotonic()
        broker_cpu = self.broker.cpu_seconds()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError("timed out after %ds: %s" % (timeout, " ".join(argv)))
        if proc.returncode != 0:
            self.broker.check_alive()
            raise BenchError(
                "%s exited with %d\n%s%s"
                % (" ".join(argv), proc.returncode, proc.stderr, self.broker.log_tail())
            )
        lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise BenchError("no result line from %s\n%s" % (" ".join(argv), proc.stderr))
        result = json.loads(lines[-1])
        result["argv"] = argv[1:]
        # CPU the broker spent while the client ran (both share the cores):
        # shows which side limits a figure.
        result["broker_cpu_s"] = self.broker.cpu_seconds() - broker_cpu
        result["client_cpu_s"] = (
            proc_children_cpu() - getattr(self, "_children_cpu", 0.0)
        )
        self._children_cpu = proc_children_cpu()
        self.results.append(result)
        if self.verbose:
            print("  %.1fs %s" % (time.monotonic() - started, lines[-1]), flush=True)
        return result

    def produce(self, topic, records, acks="1", producers=1, rate=0, extra=()):
        argv = [
            self.kbench, "--mode", "produce",
            "--brokers", self.broker.address or "127.0.0.1:9",
            "--topic", topic,
            "--count", str(records),
            "--size", str(RECORD_BYTES),
            "--acks", acks,
            "--linger-ms", "5",
            "--compression", "none",
            "--producers", str(producers),
            "--rate", str(rate),
        ]
        for prop in extra:
            argv += ["-X", prop]
        return self.run(argv)

    def consume(self, topic, records):
        return self.run([
            self.kbench, "--mode", "consume",
            "--brokers", self.broker.address,
            "--topic", topic,
            "--count", str(records),
        ])

    def rebalance(self, topic):
        return self.run([
            self.kbench, "--mode", "rebalance",
            "--brokers", self.broker.address,
            "--topic", topic,
            "--partitions", str(REBALANCE_PARTITIONS),
            "--count", str(REBALANCE_RECORDS),
            "--timeout", "60",
        ])

    def baseline_run(self, mode, records, batch_records):
        return self.run([
            self.baseline, mode,
            "--count", str(records),
            "--size", str(RECORD_BYTES),
            "--record-overhead", str(RECORD_OVERHEAD),
            "--batch-records", str(batch_records),
            "--dir", self.workdir,
        ])


def records_per_request(result, fallback=10000):
    """Records in an average Produce request, from librdkafka's statistics."""
    if result.get("requests", 0) > 10 and result.get("records_sent", 0) > 0:
        return max(1, round(result["records_sent"] / result["requests"]))
    return fallback


def repetition(runner, rep, figures):
    """One run of every scenario; appends each figure to figures[name]."""

    def put(name, value):
        figures.setdefault(name, []).append(value)

    # Produce, 1 producer, acks=1, against the loopback-and-append baseline
    # moving the same bytes in chunks of the batches librdkafka just sent.
    n = runner.count(PRODUCE_RECORDS)
    topic = "bench-produce-%d" % rep
    strand = runner.produce(topic, n)
    batch = records_per_request(strand)
    base = runner.baseline_run("produce", n, batch)
    put("produce.records_per_s", strand["records_per_s"])
    put("produce.mb_per_s", strand["mb_per_s"])
    put("produce.p50", strand["ack_p50_ms"])
    put("produce.p99", strand["ack_p99_ms"])
    put("produce.batch_records", batch)
    put("produce.broker_cpu", strand["broker_cpu_s"])
    put("produce.client_cpu", strand["client_cpu_s"])
    put("produce.base.records_per_s", base["records_per_s"])
    put("produce.base.mb_per_s", base["mb_per_s"])
    put("produce.ratio", strand["records_per_s"] / base["records_per_s"])

    # Consume the same topic from the beginning against sendfile of a file
    # of the same bytes.
    strand = runner.consume(topic, n)
    base = runner.baseline_run("consume", n, batch)
    put("consume.records_per_s", strand["records_per_s"])
    put("consume.broker_cpu", strand["broker_cpu_s"])
    put("consume.client_cpu", strand["client_cpu_s"])
    put("consume.mb_per_s", strand["mb_per_s"])
    put("consume.base.records_per_s", base["records_per_s"])
    put("consume.base.mb_per_s", base["mb_per_s"])
    put("consume.ratio", strand["records_per_s"] / base["records_per_s"])

    # Group commit: several producers at acks=all against the same at
    # acks=1. The order alternates so drift on a shared machine does not
    # always favour the same one.
    g = runner.count(GROUP_RECORDS)
    order = ["1", "all"] if rep % 2 == 0 else ["all", "1"]
    group = {}
    for acks in order:
        group[acks] = runner.produce(
            "bench-group-acks%s-%d" % (acks, rep), g, acks=acks, producers=GROUP_PRODUCERS
        )
    for acks in ("1", "all"):
        put("group.%s.records_per_s" % acks, group[acks]["records_per_s"])
        put("group.%s.mb_per_s" % acks, group[acks]["mb_per_s"])
        put("group.%s.p50" % acks, group[acks]["ack_p50_ms"])
        put("group.%s.p99" % acks, group[acks]["ack_p99_ms"])
    put("group.slowdown", group["1"]["records_per_s"] / group["all"]["records_per_s"])

    # Ack latency at a fixed rate well under capacity, where it measures the
    # broker rather than the producer's queue.
    for acks in ("1", "all"):
        r = runner.produce(
            "bench-latency-acks%s-%d" % (acks, rep),
            runner.count(LATENCY_RECORDS),
            acks=acks,
            rate=LATENCY_RATE,
        )
        put("latency.%s.p50" % acks, r["ack_p50_ms"])
        put("latency.%s.p99" % acks, r["ack_p99_ms"])
        put("latency.%s.p999" % acks, r["ack_p999_ms"])

    # Consumer group: a second member joins a group whose only member reads
    # all four partitions; timed until both consume their new halves. The
    # baseline is the first member's own start, subscribe() to first record.
    r = runner.rebalance("bench-rebalance-%d" % rep)
    put("rebalance.ms", r["rebalance_ms"])
    put("rebalance.assigned_ms", r["second_assigned_ms"])
    put("rebalance.first_join_ms", r["first_join_ms"])
    put("rebalance.ratio", r["rebalance_ms"] / r["first_join_ms"])

    # The same producer against librdkafka's in-process mock broker, which
    # keeps records in memory: how fast the client alone can go here.
    mock = runner.produce(
        "bench-client-%d" % rep, n, extra=("test.mock.num.brokers=1", "log_level=3")
    )
    put("client.records_per_s", mock["records_per_s"])
    put("client.mb_per_s", mock["mb_per_s"])
    put("client.ratio", figures["produce.records_per_s"][-1] / mock["records_per_s"])
    runner.broker.check_alive()


def fmt_rate(v):
    return "{:,.0f}".format(v)


def fmt_mb(v):
    return "%.1f" % v


def fmt_ms(v):
    return "%.2f" % v


def verdict(ok):
    return "ok" if ok else "BELOW TARGET"


def print_table(figures, reps):
    med = {k: statistics.median(v) for k, v in figures.items()}
    rows = []

    def row(scenario, figure, strand, base="", ratio="", target="", note=""):
        rows.append((scenario, figure, strand, base, ratio, target, note))

    pr = med["produce.ratio"]
    row("produce 100 B, acks=1,", "records/s", fmt_rate(med["produce.records_per_s"]),
        fmt_rate(med["produce.base.records_per_s"]), "%.3f" % pr, ">= 0.6",
        verdict(pr >= TARGETS["produce_ratio"]))
    row("1 producer, linger 5 ms", "records/s", fmt_rate(med["produce.records_per_s"]), "", "",
        ">= 400,000",
        verdict(med["produce.records_per_s"] >= TARGETS["produce_records_per_s"]))
    row("", "MB/s", fmt_mb(med["produce.mb_per_s"]), fmt_mb(med["produce.base.mb_per_s"]))
    row("", "ack p50 / p99 ms",
        "%s / %s" % (fmt_ms(med["produce.p50"]), fmt_ms(med["produce.p99"])))
    row("", "records/batch", fmt_rate(med["produce.batch_records"]))
    row("", "CPU s: broker / client", "%.2f / %.2f" % (med["produce.broker_cpu"],
                                                      med["produce.client_cpu"]))
    row("", "client ceiling rec/s", fmt_rate(med["produce.records_per_s"]),
        fmt_rate(med["client.records_per_s"]),
        "%.3f" % med["client.ratio"], "",
        "vs librdkafka mock broker")

    cr = med["consume.ratio"]
    row("consume 100 B from start", "records/s", fmt_rate(med["consume.records_per_s"]),
        fmt_rate(med["consume.base.records_per_s"]), "%.3f" % cr, ">= 0.6",
        verdict(cr >= TARGETS["consume_ratio"]))
    row("(baseline: sendfile)", "MB/s", fmt_mb(med["consume.mb_per_s"]),
        fmt_mb(med["consume.base.mb_per_s"]))
    row("", "CPU s: broker / client", "%.2f / %.2f" % (med["consume.broker_cpu"],
                                                      med["consume.client_cpu"]))

    slow = med["group.slowdown"]
    row("produce %d producers:" % GROUP_PRODUCERS, "records/s",
        fmt_rate(med["group.all.records_per_s"]), fmt_rate(med["group.1.records_per_s"]),
        "%.2fx" % slow, "<= 2x", verdict(slow <= TARGETS["acks_all_slowdown"]),)
    row("acks=all (baseline acks=1)", "MB/s", fmt_mb(med["group.all.mb_per_s"]),
        fmt_mb(med["group.1.mb_per_s"]))
    row("", "ack p50 / p99 ms",
        "%s / %s" % (fmt_ms(med["group.all.p50"]), fmt_ms(med["group.all.p99"])),
        "%s / %s" % (fmt_ms(med["group.1.p50"]), fmt_ms(med["group.1.p99"])))

    row("ack latency at %s rec/s" % fmt_rate(LATENCY_RATE), "acks=1 p50/p99/p99.9",
        "%s / %s / %s" % (fmt_ms(med["latency.1.p50"]), fmt_ms(med["latency.1.p99"]),
                          fmt_ms(med["latency.1.p999"])))
    row("", "acks=all p50/p99/p99.9",
        "%s / %s / %s" % (fmt_ms(med["latency.all.p50"]), fmt_ms(med["latency.all.p99"]),
                          fmt_ms(med["latency.all.p999"])))

    row("group rebalance, %d partitions:" % REBALANCE_PARTITIONS, "2nd member joins -> both consume ms",
        fmt_ms(med["rebalance.ms"]), fmt_ms(med["rebalance.first_join_ms"]),
        "%.2fx" % med["rebalance.ratio"], "", "baseline: 1st member subscribe -> 1st record")
    row("(heartbeat.interval.ms=100)", "2nd member assigned ms", fmt_ms(med["rebalance.assigned_ms"]))

    header = ("scenario", "figure", "strand", "baseline", "ratio", "target", "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    right = {2, 3, 4}

    def line(r):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        return "  ".join(cells).rstrip()

    print()
    print("Strand benchmarks: median of %d runs; MB = 2^20 bytes of record values" % reps)
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print()


def compat_section(bench_dir):
    """strand-compat: a FULL_TRANSITIVE check of a 200-field Avro record
    against 100 earlier versions, beside parsing the same JSON with jansson.
    Needs no broker; compat_bench prints its own figures."""
    path = os.path.join(bench_dir, "compat_bench")
    if not os.access(path, os.X_OK):
        print("compat: %s is missing; build it with make" % path)
        return True
    proc = subprocess.run([path], capture_output=True, text=True, timeout=300)
    print(proc.stderr.rstrip())
    return proc.returncode == 0


def avro_section(bench_dir):
    """The Avro schema engine: parse, validate and canonicalise (Parsing
    Canonical Form + fingerprint) 10,000 generated schemas beside parsing
    the same JSON with jansson alone. Needs no broker; avro_bench prints its
    own figures."""
    path = os.path.join(bench_dir, "avro_bench")
    if not os.access(path, os.X_OK):
        print("avro: %s is missing; build it with make" % path)
        return True
    proc = subprocess.run([path], capture_output=True, text=True, timeout=300)
    print(proc.stderr.rstrip())
    print()
    return proc.returncode == 0


def cleaner_section(bench_dir, reps):
    """The log cleaner: MB/s of log cleaned (kl_log_clean_now over 64 MiB of
    sealed segments, 100 B values, 100,000 keys) beside copying the same
    segment files once (read + write + fsync) in the same run. Needs no
    broker; the median of `reps` runs per codec."""
    path = os.path.join(bench_dir, "clean_bench")
    if not os.access(path, os.X_OK):
        print("cleaner: %s is missing; build it with make" % path)
        return True
    workdir = tempfile.mkdtemp(prefix="strand-clean-bench-")
    rows = []
    try:
        for codec in ("none", "lz4"):
            runs = []
            for _ in range(reps):
                proc = subprocess.run([path, "--dir", workdir, "--mb", "64", "--codec", codec],
                                      capture_output=True, text=True, timeout=300)
                lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
                if proc.returncode != 0 or not lines:
                    print("cleaner: FAILED (%s): %s" % (codec, proc.stderr.strip()), file=sys.stderr)
                    return False
                runs.append(json.loads(lines[-1]))
            clean = statistics.median(r["clean_mb_per_s"] for r in runs)
            copy = statistics.median(r["copy_mb_per_s"] for r in runs)
            ratio = statistics.median(r["clean_mb_per_s"] / r["copy_mb_per_s"] for r in runs)
            kept = runs[0]["records_kept"] / max(1, runs[0]["records"])
            rows.append((codec, clean, copy, ratio, kept))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("Log cleaner: MB/s of .log bytes cleaned vs one read+write+fsync copy of the same files")
    print("  %-6s %12s %12s %7s %s" % ("codec", "clean MB/s", "copy MB/s", "ratio", "records kept"))
    for codec, clean, copy, ratio, kept in rows:
        print("  %-6s %12.1f %12.1f %7.3f %.1f%%" % (codec, clean, copy, ratio, kept * 100))
    print()
    return True


SERDE_RECORDS = 200_000
SERDE_TARGET_RATIO = 0.8


def serde_section(bin_dir, bench_dir, reps, scale):
    """libstrand-serde: serialize (validate + encode + frame + cache lookups)
    and deserialize a 20-field Avro record beside avro-c encoding and
    decoding the same values with the schema known, in the same run of
    serde_bench; the schema is registered once with the registry of a
    bin/strand started here. Medians of `reps` runs; the ratio is the median
    of the per-run ratios. Target: ratio >= 0.8 (framing, validation and
    cache lookups cost at most 25% over avro-c)."""
    path = os.path.join(bench_dir, "serde_bench")
    if not os.access(path, os.X_OK):
        print("serde: %s is missing; build it with make" % path)
        return True
    workdir = tempfile.mkdtemp(prefix="strand-serde-bench-")
    proc = None
    runs = []
    try:
        proc, _, url = registry_bench.start_strand(bin_dir, workdir, registry=True)
        count = max(1000, int(SERDE_RECORDS * scale))
        for _ in range(reps):
            out = subprocess.run([path, "--registry", url, "--count", str(count)], capture_output=True,
                                 text=True, timeout=600)
            lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
            if out.returncode != 0 or not lines:
                print("serde: FAILED: %s" % out.stderr.strip(), file=sys.stderr)
                return False
            runs.append(json.loads(lines[-1]))
    except (registry_bench.RegistryBenchError, subprocess.TimeoutExpired) as e:
        print("serde: FAILED: %s" % e, file=sys.stderr)
        return False
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def med(key):
        return statistics.median(r[key] for r in runs)

    print("Serde: a 20-field Avro record (%d B framed), %s records a run, median of %d runs"
          % (runs[0]["bytes_per_record"], fmt_rate(runs[0]["count"]), reps))
    print("  %-22s %14s %14s %7s %8s %-12s %s" % ("", "strand rec/s", "avro-c rec/s", "ratio", "target", "",
                                                  "value library alone"))
    for side, label in (("serialize", "serialize + validate"), ("deserialize", "deserialize")):
        ratio = med(side + "_ratio")
        print("  %-22s %14s %14s %7.3f %8s %-12s %s rec/s"
              % (label, fmt_rate(med(side + "_per_s")), fmt_rate(med(side + "_base_per_s")), ratio,
                 ">= %.1f" % SERDE_TARGET_RATIO, verdict(ratio >= SERDE_TARGET_RATIO),
                 fmt_rate(med(side + "_value_lib_per_s"))))
    print("  %-22s %14s" % ("serialize JSON text", fmt_rate(med("serialize_json_per_s"))))
    print("  %-22s %14s" % ("deserialize to JSON", fmt_rate(med("deserialize_json_per_s"))))
    print("  registry requests while timed: %d (every lookup a cache hit when 0)"
          % max(r["registry_requests"] for r in runs))
    print()
    return True

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="directory holding the strand binary")
    parser.add_argument("--bench", required=True, help="directory holding kbench and baseline")
    parser.add_argument("--reps", type=int, default=3, help="runs of each scenario (median)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies every record count, for quick trial runs")
    parser.add_argument("--json", help="write every run's result line to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each run's result")
    args = parser.parse_args()

    strand = os.path.join(args.bin, "strand")
    for path in (strand, os.path.join(args.bench, "kbench"), os.path.join(args.bench, "baseline")):
        if not os.access(path, os.X_OK):
            sys.exit("run_bench: %s is missing; build it with make" % path)

    keep = os.environ.get("STRAND_BENCH_KEEP")
    workdir = tempfile.mkdtemp(prefix="strand-bench-")
    broker = Broker(strand, workdir)
    runner = Runner(args, workdir, broker)
    figures = {}
    started = time.monotonic()
    ok = False
    try:
        broker.start()
        print("bench: broker at %s, %d runs of each scenario" % (broker.address, args.reps),
              flush=True)
        for rep in range(args.reps):
            repetition(runner, rep, figures)
            print("bench: run %d of %d done after %.0fs"
                  % (rep + 1, args.reps, time.monotonic() - started), flush=True)
        ok = True
    except BenchError as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
    finally:
        broker.stop()
        if args.json:
            with open(args.json, "w") as f:
                for r in runner.results:
                    f.write(json.dumps(r) + "\n")
        if keep:
            print("bench: kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        return 1
    print_table(figures, args.reps)
    if not compat_section(args.bench):
        return 1
    if not avro_section(args.bench):
        return 1
    if not cleaner_section(args.bench, args.reps):
        return 1
    if not registry_bench.registry_section(args.bin, args.bench, args.reps):
        return 1
    if not serde_section(args.bin, args.bench, args.reps, args.scale):
        return 1
    print("bench: %.0fs in all" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
