"""The registry's store, the `_schemas` topic: a restart keeps everything
(subjects, versions, ids, configs, modes, soft deletes); a kill -9 during
registrations from several threads loses no acknowledged registration and
gives no content two ids; ids are not reused after the highest one is
permanently deleted, compacted away and the registry restarted; the
topic's keys are Confluent's, byte for byte, and the topic has one
partition and cleanup.policy=compact. Two registries on one broker (the
in-process one and a standalone strand-registry) share the topic: a write
sent to either is visible on both, ids stay unique across them, and when
the writer is killed the other answers 50003 until it takes over."""

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import requests

try:
    from . import harness
    from .registry_client import REGISTRY_PROPS, ConformanceError, RegistryClient, avro_record, quote
    from .test_retention_compaction import OP_SET, incremental_alter
except ImportError:  # run from inside tests/e2e
    import harness
    from registry_client import REGISTRY_PROPS, ConformanceError, RegistryClient, avro_record, quote
    from test_retention_compaction import OP_SET, incremental_alter

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
KCAT_COMMON = ["-X", "socket.timeout.ms=10000", "-X", "topic.metadata.refresh.interval.ms=5000"]
TIMEOUT = 30
READY_LINE = re.compile(r"strand: schema registry listening on (http://\S+)")

SCHEMA_KEY = re.compile(r'^\{"keytype":"SCHEMA","subject":"((?:[^"\\]|\\.)*)","version":(\d+),"magic":1\}$')
SUBJECT_KEY = re.compile(r'^\{"keytype":"(CONFIG|MODE|DELETE_SUBJECT|CLEAR_SUBJECT)",'
                         r'"subject":"((?:[^"\\]|\\.)*)","magic":0\}$')
GLOBAL_KEYS = {'{"keytype":"CONFIG","magic":0}', '{"keytype":"CONFIG","subject":null,"magic":0}',
               '{"keytype":"MODE","magic":0}', '{"keytype":"MODE","subject":null,"magic":0}',
               '{"keytype":"NOOP","magic":0}'}


def rec(name, *fields):
    return avro_record(name, *fields, namespace="e2e.store")


def _varint(data, pos):
    shift = result = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos


def segment_records(data_dir, topic="_schemas"):
    """(offset, key, value or None) of every record in the partition's
    segment files, read from disk (so compaction can be watched without a
    consumer); batches must be uncompressed."""
    out = []
    for path in harness.segment_files(data_dir, topic):
        with open(path, "rb") as f:
            data = f.read()
        for batch in harness.read_batches(path):
            if batch["codec"] != 0:
                raise AssertionError("compressed batch in %s" % path)
            pos = batch["position"] + harness.BATCH_HEADER_SIZE
            for _ in range(batch["records_count"]):
                length, pos = _varint(data, pos)
                end = pos + length
                pos += 1  # attributes
                _, pos = _varint(data, pos)  # timestamp delta
                delta, pos = _varint(data, pos)
                klen, pos = _varint(data, pos)
                key = data[pos:pos + klen].decode() if klen >= 0 else None
                pos += max(klen, 0)
                vlen, pos = _varint(data, pos)
                value = data[pos:pos + vlen].decode() if vlen >= 0 else None
                out.append((batch["base_offset"] + delta, key, value))
                pos = end
    return out


def full_state(c):
    """Everything the API shows, soft-deleted things included."""
    state = {"config": c.ok("GET", "/config"), "mode": c.ok("GET", "/mode"), "subjects": {}}
    live = c.subjects()
    for s in c.subjects({"deleted": "true"}):
        q = quote(s)
        entry = {"versions": c.versions(s, {"deleted": "true"}), "live": c.versions(s) if s in live else None}
        entry["detail"] = {}
        for v in entry["versions"]:
            d = c.version(s, v, {"deleted": "true"})
            d.pop("ts", None)
            entry["detail"][v] = d
        r = c.request("GET", "/config/%s" % q)
        entry["config"] = r.json if r.status == 200 else r.error_code
        r = c.request("GET", "/mode/%s" % q)
        entry["mode"] = r.json if r.status == 200 else r.error_code
        state["subjects"][s] = entry
    ids = sorted({d["id"] for e in state["subjects"].values() for d in e["detail"].values()})
    state["ids"] = {i: c.ok("GET", "/schemas/ids/%d" % i).get("schema") for i in ids}
    return state


class StandaloneRegistry:
    """bin/strand-registry against a broker, its output in the broker's directory."""

    def __init__(self, broker, name="registry2", port=0):
        self.binary = os.path.join(os.path.dirname(harness.strand_binary()), "strand-registry")
        if not os.access(self.binary, os.X_OK):
            raise AssertionError("%s does not exist (build it)" % self.binary)
        self.out_path = os.path.join(broker.tmp_dir, name + ".stdout")
        self.err_path = os.path.join(broker.tmp_dir, name + ".stderr")
        self.lines = queue.Queue()
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([self.binary, "--bootstrap-servers", broker.bootstrap,
                                          "--listeners=http://127.0.0.1:%d" % port], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err, env=harness.sanitizer_env(),
                                         cwd=broker.tmp_dir)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()
        self.url = None
        deadline = time.monotonic() + harness.STARTUP_TIMEOUT
        while self.url is None:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                line = None
            if line is not None:
                m = READY_LINE.search(line)
                if m:
                    self.url = m.group(1)
                continue
            if self.proc.poll() is not None:
                raise AssertionError("strand-registry exited with %s before listening:\n%s"
                                     % (self.proc.returncode, self.stderr_tail()))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("strand-registry printed no listening line:\n%s" % self.stderr_tail())

    def _drain(self):
        with open(self.out_path, "w") as out:
            for raw in self.proc.stdout:
                text = raw.decode("utf-8", "replace")
                out.write(text)
                out.flush()
                self.lines.put(text.rstrip("\n"))
        self.proc.stdout.close()

    def stderr_tail(self, n=30):
        with open(self.err_path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])

    def stop(self):
        """SIGTERM; returns the problems (unclean exit, sanitizer reports)."""
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=harness.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("strand-registry did not exit within %ss of SIGTERM" % harness.STOP_TIMEOUT)
                code = None
            if code not in (0, None):
                problems.append("strand-registry exited with %s after SIGTERM" % code)
        self.thread.join(timeout=5)
        with open(self.err_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        if any(m in text for m in harness.SANITIZER_MARKERS):
            problems.append("sanitizer report from strand-registry:\n" + self.stderr_tail(60))
        return problems


def low_free_port():
    """A free port whose decimal text sorts before any ephemeral port's (the
    writer is the registry with the smallest URL, compared as text)."""
    for port in range(10000 + os.getpid() % 5000, 20000):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            sock.close()
    raise AssertionError("no free port in 10000-19999")


class RegistryStoreTest(harness.BrokerTestCase):

    broker_props = dict(REGISTRY_PROPS)

    def start(self, **props):
        broker = self.start_broker(**props)
        self.assertTrue(broker.registry_url)
        return broker, RegistryClient(broker.registry_url)

    def kcat_records(self, broker, topic="_schemas"):
        """(key, value length, value) of every record, oldest first."""
        proc = harness.run_process([KCAT, "-b", broker.bootstrap] + KCAT_COMMON +
                                   ["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%S\t%s\n"],
                                   TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode("utf-8", "replace"))
        out = []
        for line in proc.stdout.decode("utf-8").split("\n"):
            if not line:
                continue
            key, length, value = line.split("\t", 2)
            out.append((key, int(length), value))
        return out

    # -- restart -----------------------------------------------------------------

    def test_restart_keeps_everything(self):
        broker, c = self.start()
        c.register("keep-a", rec("KeepA", ("a", "int")))
        c.register("keep-a", rec("KeepA", ("a", "int"), ("b", "string", "")))
        c.register("keep-a", rec("KeepA", ("a", "int"), ("b", "string", ""), ("c", "int", 0)))
        c.register("keep-b", rec("KeepA", ("a", "int")))  # same id as keep-a v1
        c.register("keep-ref", json.dumps({"type": "record", "name": "Holder", "namespace": "e2e.store",
                                           "fields": [{"name": "k", "type": "e2e.store.KeepA"}]}),
                   references=[{"name": "e2e.store.KeepA", "subject": "keep-a", "version": 1}])
        c.register("keep-md", rec("KeepMd", ("a", "int")), metadata={"properties": {"owner": "me"}})
        c.ok("DELETE", "/subjects/keep-a/versions/2")
        c.register("keep-gone", rec("KeepGone", ("a", "int")))
        c.ok("DELETE", "/subjects/keep-gone")
        c.register("keep-hard", rec("KeepHard", ("a", "int")))
        c.ok("DELETE", "/subjects/keep-hard")
        c.ok("DELETE", "/subjects/keep-hard", params={"permanent": "true"})
        c.ok("PUT", "/config/keep-a", {"compatibility": "FULL"})
        c.ok("PUT", "/config", {"compatibility": "FORWARD_TRANSITIVE"})
        c.ok("PUT", "/mode/keep-b", {"mode": "READONLY"})
        c.ok("PUT", "/mode/keep-imp", {"mode": "IMPORT"})
        c.ok("POST", "/subjects/keep-imp/versions", {"schema": rec("KeepImp", ("a", "int")), "id": 5005, "version": 7})
        before = full_state(c)
        self.assertIn("keep-gone", before["subjects"])
        self.assertIsNone(before["subjects"]["keep-gone"]["live"])
        self.assertNotIn("keep-hard", before["subjects"])
        broker.restart()
        c = RegistryClient(broker.registry_url)
        after = full_state(c)
        self.assertEqual(before, after)
        # And it still works: the next id is past every id issued (5005 included).
        out = c.register("keep-new", rec("KeepNew", ("a", "int")))
        self.assertGreater(out["id"], 5005)

    # -- kill -9 -------------------------------------------------------------------

    def test_kill9_loses_no_acknowledged_registration(self):
        broker, c = self.start()
        c.ok("PUT", "/config", {"compatibility": "NONE"})
        acked = []  # (subject, version, id, schema)
        lock = threading.Lock()
        stop = threading.Event()
        errors = []

        def worker(t):
            client = RegistryClient(broker.registry_url, source="kill9")
            i = 0
            while not stop.is_set():
                i += 1
                # Own content in an own subject, and content shared by every thread.
                for subject, schema in (("kill-%d" % t, rec("Own%d" % t, ("f%d" % i, "int"))),
                                        ("kill-common-%d" % t, rec("Common", ("g%d" % i, "int")))):
                    body = {"schema": schema}
                    try:
                        r = client.request("POST", "/subjects/%s/versions" % subject, body)
                    except ConformanceError as e:
                        errors.append(str(e))
                        return
                    except requests.RequestException:
                        return  # the registry went away
                    if r.status != 200:
                        if r.status < 500 and not stop.is_set():
                            errors.append(repr(r))
                        return
                    version = r.json.get("version")
                    with lock:
                        acked.append((subject, version, r.json["id"], schema))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + 20
        while len(acked) < 60 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        broker.kill9()
        stop.set()
        for th in threads:
            th.join(timeout=TIMEOUT)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(acked), 20, "too few registrations before the kill")
        broker.start()
        c = RegistryClient(broker.registry_url)
        for subject, version, sid, schema in acked:
            found = c.ok("POST", "/subjects/%s" % subject, {"schema": schema})
            self.assertEqual(found["id"], sid, "acknowledged (%s, %s) lost its id" % (subject, version))
            if version is not None:
                self.assertEqual(found["version"], version)
                self.assertEqual(c.version(subject, version)["id"], sid)
        # Ids are unique per content: the same content has one id, two contents never share one.
        by_content, by_id = {}, {}
        for s in c.subjects():
            for v in c.versions(s):
                d = c.version(s, v)
                key = json.dumps(json.loads(d["schema"]), sort_keys=True)
                by_content.setdefault(key, set()).add(d["id"])
                by_id.setdefault(d["id"], set()).add(key)
        self.assertEqual({k: v for k, v in by_content.items() if len(v) > 1}, {}, "content with several ids")
        self.assertEqual({k: v for k, v in by_id.items() if len(v) > 1}, {}, "id with several contents")
        versions = {}
        for subject, version, sid, schema in acked:
            if version is not None:
                self.assertNotIn((subject, version), versions, "one version acknowledged twice")
                versions[(subject, version)] = sid

    # -- ids after a permanent delete ---------------------------------------------------

    def compact_away(self, broker, c, subject):
        """Compacts _schemas until no SCHEMA record of `subject` (permanently
        deleted before) is left in its segment files."""
        for name, value in (("segment.ms", "100"), ("min.cleanable.dirty.ratio", "0.01"),
                            ("delete.retention.ms", "0")):
            code, message = incremental_alter(broker, "_schemas", [(name, OP_SET, value)])
            self.assertEqual(code, 0, "altering _schemas %s: %s" % (name, message))
        prefix = '{"keytype":"SCHEMA","subject":%s,' % json.dumps(subject)
        deadline = time.monotonic() + 20
        level = 0
        while True:
            # Appends roll segments (segment.ms) so the cleaner has closed ones to work on.
            level += 1
            c.ok("PUT", "/config/compact-roll", {"compatibility": ("NONE", "FULL")[level % 2]})
            time.sleep(0.2)
            try:
                keys = [k for _, k, _ in segment_records(broker.data_dir)]
            except (OSError, IndexError, UnicodeDecodeError):
                continue  # a segment swapped by the cleaner while read
            left = [k for k in keys if k.startswith(prefix)]
            if not left:
                return
            if time.monotonic() > deadline:
                self.fail("the cleaner left the deleted schema's records in _schemas: %s" % left)

    def test_ids_not_reused_after_permanent_delete_compaction_and_restart(self):
        broker, c = self.start(log_cleaner_backoff_ms=100)
        keep = c.register("ids-keep", rec("IdsKeep", ("a", "int")))["id"]
        top = c.register("ids-top", rec("IdsTop", ("a", "int")))["id"]
        self.assertGreater(top, keep)
        c.ok("DELETE", "/subjects/ids-top")
        c.ok("DELETE", "/subjects/ids-top", params={"permanent": "true"})
        c.error("GET", "/schemas/ids/%d" % top, 404, 40403)
        self.compact_away(broker, c, "ids-top")
        broker.restart()
        c = RegistryClient(broker.registry_url)
        c.error("GET", "/schemas/ids/%d" % top, 404, 40403)
        self.assertEqual(c.version("ids-keep", 1)["id"], keep)
        new = c.register("ids-new", rec("IdsNew", ("a", "int")))["id"]
        self.assertGreater(new, top, "id %d reused after a permanent delete and a restart" % top)

    @unittest.skipIf(KCAT is None, "kcat is not installed")
    def test_compacted_schemas_topic_reads_with_kcat(self):
        """What a backup of _schemas with kcat sees after compaction: every
        record on disk, and no consumer error."""
        broker, c = self.start(log_cleaner_backoff_ms=100)
        c.register("kc-keep", rec("KcKeep", ("a", "int")))
        c.register("kc-gone", rec("KcGone", ("a", "int")))
        c.ok("DELETE", "/subjects/kc-gone")
        c.ok("DELETE", "/subjects/kc-gone", params={"permanent": "true"})
        self.compact_away(broker, c, "kc-gone")
        # A run of rewritten keys, each in a segment of its own, then cleaned.
        for i in range(16):
            c.ok("PUT", "/config/compact-roll", {"compatibility": ("NONE", "FULL")[i % 2]})
            time.sleep(0.15)
        time.sleep(1.0)
        c.ok("PUT", "/config/compact-roll", {"compatibility": "BACKWARD"})
        keep_id = c.version("kc-keep", 1)["id"]
        # The registry's own reader gets through it after a restart...
        broker.restart()
        c = RegistryClient(broker.registry_url)
        self.assertEqual(c.version("kc-keep", 1)["id"], keep_id)
        self.assertEqual(c.ok("GET", "/config/compact-roll")["compatibilityLevel"], "BACKWARD")
        c.error("GET", "/subjects/kc-gone/versions", 404, 40401, params={"deleted": "true"})
        # ...and so does kcat.
        on_disk = [k for _, k, _ in segment_records(broker.data_dir)]
        read = [k for k, _, _ in self.kcat_records(broker)]
        self.assertEqual(read, on_disk)

    # -- the topic -------------------------------------------------------------------

    @unittest.skipIf(KCAT is None, "kcat is not installed")
    def test_schemas_topic_records_are_confluents(self):
        broker, c = self.start()
        sid = c.register("topic-s", rec("TopicS", ("a", "int")))["id"]
        c.ok("PUT", "/config/topic-s", {"compatibility": "FULL"})
        c.ok("PUT", "/mode/topic-s", {"mode": "READONLY"})
        c.ok("PUT", "/config", {"compatibility": "NONE"})
        c.register("topic-del", rec("TopicDel", ("a", "int")))
        c.register("topic-del", rec("TopicDel", ("b", "int")))
        c.ok("DELETE", "/subjects/topic-del")
        c.ok("DELETE", "/subjects/topic-del", params={"permanent": "true"})
        records = self.kcat_records(broker)
        keys = [k for k, _, _ in records]
        self.assertIn('{"keytype":"SCHEMA","subject":"topic-s","version":1,"magic":1}', keys)
        self.assertIn('{"keytype":"CONFIG","subject":"topic-s","magic":0}', keys)
        self.assertIn('{"keytype":"MODE","subject":"topic-s","magic":0}', keys)
        self.assertIn('{"keytype":"DELETE_SUBJECT","subject":"topic-del","magic":0}', keys)
        self.assertTrue({'{"keytype":"CONFIG","magic":0}', '{"keytype":"CONFIG","subject":null,"magic":0}'}
                        & set(keys), "no global CONFIG key")
        for key in keys:
            self.assertTrue(SCHEMA_KEY.match(key) or SUBJECT_KEY.match(key) or key in GLOBAL_KEYS,
                            "not one of Confluent's keys: %r" % key)
        # The values.
        by_key = {}
        for key, length, value in records:
            by_key[key] = None if length < 0 else json.loads(value)
        v = by_key['{"keytype":"SCHEMA","subject":"topic-s","version":1,"magic":1}']
        self.assertEqual((v["subject"], v["version"], v["id"], v["deleted"]), ("topic-s", 1, sid, False))
        self.assertEqual(json.loads(v["schema"]), json.loads(rec("TopicS", ("a", "int"))))
        self.assertEqual(v.get("schemaType", "AVRO"), "AVRO")
        self.assertEqual(by_key['{"keytype":"CONFIG","subject":"topic-s","magic":0}']["compatibilityLevel"], "FULL")
        self.assertEqual(by_key['{"keytype":"MODE","subject":"topic-s","magic":0}']["mode"], "READONLY")
        self.assertEqual(by_key['{"keytype":"DELETE_SUBJECT","subject":"topic-del","magic":0}'],
                         {"subject": "topic-del", "version": 2})
        # The hard delete left a tombstone as the last record of each of its SCHEMA keys.
        for version in (1, 2):
            key = '{"keytype":"SCHEMA","subject":"topic-del","version":%d,"magic":1}' % version
            self.assertIsNone(by_key[key], "no tombstone for %s" % key)
        # One partition, compacted.
        from confluent_kafka.admin import ConfigResource
        admin = harness.admin(broker.bootstrap)
        meta = admin.list_topics(timeout=TIMEOUT)
        self.assertEqual(len(meta.topics["_schemas"].partitions), 1)
        res = ConfigResource("topic", "_schemas")
        configs = admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
        self.assertEqual(configs["cleanup.policy"].value, "compact")

    # -- two registries -----------------------------------------------------------------

    def test_two_registries_share_the_topic(self):
        broker, c1 = self.start()
        second = StandaloneRegistry(broker)
        self.addCleanup(lambda: self._stop_standalone(second))
        c2 = RegistryClient(second.url)
        clients = (c1, c2)

        def register(client, subject, schema):
            # While the two elect their writer, a write may find no leader (50004) or fail to forward (50003).
            deadline = time.monotonic() + TIMEOUT
            while True:
                r = client.request("POST", "/subjects/%s/versions" % subject, {"schema": schema})
                if r.status == 200:
                    return r.json["id"]
                if r.status < 500 or time.monotonic() > deadline:
                    self.fail("registration through %s: %r" % (client.base_url, r))
                time.sleep(0.2)

        def visible(client, subject, version, sid):
            r = client.request("GET", "/subjects/%s/versions/%d" % (subject, version))
            return r.status == 200 and r.json["id"] == sid

        # A write sent to each is visible on both.
        for i, client in enumerate(clients):
            subject = "two-%d" % i
            sid = register(client, subject, rec("Two%d" % i, ("a", "int")))
            self.assertTrue(visible(client, subject, 1, sid), "not readable where it was written")
            for other in clients:
                self.wait_until(lambda: visible(other, subject, 1, sid), TIMEOUT,
                                "%s v1 on %s" % (subject, other.base_url))
        # Concurrent writes through both: ids unique across them.
        ids = {}
        failures = []

        def writer(k, client):
            try:
                for j in range(8):
                    ids[(k, j)] = register(client, "two-many-%d-%d" % (k, j),
                                           rec("Many%d_%d" % (k, j), ("a", "int")))
            except Exception as e:  # reported below
                failures.append("writer %d: %s" % (k, e))

        threads = [threading.Thread(target=writer, args=(k, cl)) for k, cl in enumerate(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=2 * TIMEOUT)
        self.assertEqual(failures, [])
        self.assertEqual(len(ids), 16)
        self.assertEqual(len(set(ids.values())), 16, "an id issued twice: %s" % ids)
        for (k, j), sid in ids.items():
            for other in clients:
                self.wait_until(lambda: visible(other, "two-many-%d-%d" % (k, j), 1, sid), TIMEOUT,
                                "two-many-%d-%d on %s" % (k, j, other.base_url))
        # Errors come back the same from either (the follower passes on the writer's answer).
        register(c1, "two-errors", rec("TwoErr", ("a", "int")))
        for client in clients:
            client.error("POST", "/subjects/two-errors/versions", 409, (409, 40901),
                         {"schema": rec("TwoErr", ("a", "int"), ("b", "int"))})
            client.error("POST", "/subjects/two-errors/versions", 422, 42201, {"schema": '{"type": "nosuchtype"}'})
            client.error("DELETE", "/subjects/two-none", 404, 40401)
        # The standalone one leaves: the in-process one writes alone (taking over if it was not the writer).
        problems = second.stop()
        self.assertEqual(problems, [])
        last = register(c1, "two-after", rec("TwoAfter", ("a", "int")))
        self.assertGreater(last, max(ids.values()))

    def test_writer_killed_follower_takes_over(self):
        broker, c1 = self.start()
        port = low_free_port()
        second = StandaloneRegistry(broker, port=port)
        self.addCleanup(lambda: self._stop_standalone(second))
        self.assertTrue(second.url.endswith(":%d" % port))
        c2 = RegistryClient(second.url)
        # The standalone registry's URL sorts first, so it becomes the writer; writes through the
        # in-process one are forwarded to it.
        deadline = time.monotonic() + TIMEOUT
        while True:
            r = c1.request("POST", "/subjects/failover-a/versions", {"schema": rec("FailA", ("a", "int"))})
            if r.status == 200:
                break
            self.assertGreaterEqual(r.status, 500, r)
            self.assertLess(time.monotonic(), deadline, "no write through the in-process registry: %r" % r)
            time.sleep(0.2)
        first = r.json["id"]
        self.wait_until(lambda: c2.request("GET", "/subjects/failover-a/versions/1").status == 200, TIMEOUT,
                        "the write on the standalone registry")
        writer_line = "writer is %s" % second.url
        self.wait_until(lambda: writer_line in broker.log_text(), TIMEOUT, "the in-process registry to follow")
        # The writer dies without leaving the group: forwarding fails (50003) until the group notices
        # (then 50004 while no writer is known).
        second.proc.send_signal(signal.SIGKILL)
        second.proc.wait()
        r = c1.request("POST", "/subjects/failover-b/versions", {"schema": rec("FailB", ("a", "int"))})
        self.assertIn((r.status, r.error_code), ((500, 50003), (500, 50004)), r)
        deadline = time.monotonic() + 2 * TIMEOUT
        while True:
            r = c1.request("POST", "/subjects/failover-b/versions", {"schema": rec("FailB", ("a", "int"))})
            if r.status == 200:
                break
            self.assertIn((r.status, r.error_code), ((500, 50003), (500, 50004)), r)
            self.assertLess(time.monotonic(), deadline, "the in-process registry never took over: %r" % r)
            time.sleep(0.3)
        self.assertGreater(r.json["id"], first)
        self.assertEqual(c1.version("failover-a", 1)["id"], first)

    def _stop_standalone(self, registry):
        problems = registry.stop()
        if problems:
            self.fail("\n".join(problems))


if __name__ == "__main__":
    unittest.main()
