"""Consumer groups with real clients: two confluent-kafka consumers share a
topic and one takes over when the other leaves; committed offsets survive a
clean restart and a kill -9; kcat -G, kafka-python and kafkajs read as
group members; the admin APIs list, describe and delete groups."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

try:
    from . import harness
    from .test_protocol_errors import Connection, i32, request, string
except ImportError:  # run from inside tests/e2e
    import harness
    from test_protocol_errors import Connection, i32, request, string

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
NODE = shutil.which("node") or shutil.which("nodejs")
KAFKAJS_SCRIPT = os.path.join(harness.E2E_DIR, "kafkajs_consume.js")
KAFKAJS = os.path.join(harness.E2E_DIR, "node_modules", "kafkajs")
WAIT = 30  # bound on every wait for a client

GROUP_PROPS = {
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
}


def group_consumer(bootstrap, group, **extra):
    from confluent_kafka import Consumer
    conf = harness.client_config(bootstrap, **{
        "group.id": group,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 200,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 1000,
    })
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Consumer(conf)


class Member:
    """A subscribed confluent-kafka consumer that records its assignment."""

    def __init__(self, bootstrap, group, topic, **extra):
        self.consumer = group_consumer(bootstrap, group, **extra)
        self.assigned = set()
        self.records = []
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer, partitions):
        self.assigned = {p.partition for p in partitions}

    def _on_revoke(self, consumer, partitions):
        self.assigned = set()

    def poll(self, timeout=0.1):
        msg = self.consumer.poll(timeout)
        if msg is None:
            return
        err = msg.error()
        if err is not None:
            if err.fatal():
                raise AssertionError("consumer error: %s" % err)
            return
        self.records.append((msg.partition(), msg.offset(), msg.value()))

    def close(self):
        self.consumer.close()


def poll_until(members, predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s; assignments %s, records %s"
                                 % (timeout, what, [sorted(m.assigned) for m in members],
                                    [len(m.records) for m in members]))
        for m in members:
            m.poll(0.05)


def produce_spread(bootstrap, topic, partitions, start, count):
    """count records valued b"r<i>" for i in start.., round-robin over partitions."""
    records = [{"value": b"r%d" % i, "partition": i % partitions} for i in range(start, start + count)]
    harness.produce(bootstrap, topic, records)
    return {b"r%d" % i for i in range(start, start + count)}


def read_group(bootstrap, group, topic, count, timeout=WAIT, **extra):
    """Joins `group`, reads at least `count` records, commits synchronously and
    leaves; returns the records, then polls briefly to catch extra ones."""
    extra.setdefault("enable_auto_commit", False)
    m = Member(bootstrap, group, topic, **extra)
    try:
        poll_until([m], lambda: len(m.records) >= count, timeout, "%d records" % count)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            m.poll(0.1)
        if m.records:
            m.consumer.commit(asynchronous=False)
        return m.records
    finally:
        m.close()


class GroupTest(harness.BrokerTestCase):

    broker_props = GROUP_PROPS

    def test_two_members_share_then_one_takes_over(self):
        broker = self.start_broker()
        topic = "grp-share"
        harness.create_topic(broker.bootstrap, topic, partitions=4)
        a = Member(broker.bootstrap, "share", topic)
        b = None
        try:
            poll_until([a], lambda: len(a.assigned) == 4, WAIT, "the first member to get all partitions")
            b = Member(broker.bootstrap, "share", topic)
            poll_until([a, b], lambda: len(a.assigned) == 2 and len(b.assigned) == 2, WAIT,
                       "two partitions each")
            self.assertEqual(a.assigned | b.assigned, {0, 1, 2, 3})
            sent = produce_spread(broker.bootstrap, topic, 4, 0, 40)
            poll_until([a, b], lambda: len(a.records) + len(b.records) >= 40, WAIT, "40 records")
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                a.poll(0.05)
                b.poll(0.05)
            got = [r[2] for r in a.records + b.records]
            self.assertEqual(len(got), 40, "a record was read twice")
            self.assertEqual(set(got), sent)
            self.assertEqual({r[0] for r in a.records}, a.assigned)
            self.assertEqual({r[0] for r in b.records}, b.assigned)

            # b leaves (committing what it read); a takes over all four.
            b.close()
            b = None
            poll_until([a], lambda: len(a.assigned) == 4, WAIT, "the remaining member to take over")
            before = len(a.records)
            sent = produce_spread(broker.bootstrap, topic, 4, 40, 20)
            poll_until([a], lambda: len(a.records) >= before + 20, WAIT, "20 new records")
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                a.poll(0.05)
            new = [r[2] for r in a.records[before:]]
            self.assertEqual(sorted(new), sorted(sent), "the new records exactly once, nothing re-read")
            self.assertEqual({r[0] for r in a.records[before:]}, {0, 1, 2, 3})
        finally:
            a.close()
            if b is not None:
                b.close()

    def test_killed_member_expires_and_the_other_takes_over(self):
        broker = self.start_broker()
        topic = "grp-expire"
        harness.create_topic(broker.bootstrap, topic, partitions=4)
        # The second member runs in its own process, which is then killed:
        # no LeaveGroup, no more heartbeats.
        script = (
            "import sys, time\n"
            "from confluent_kafka import Consumer\n"
            "c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'expire',"
            " 'session.timeout.ms': 3000, 'heartbeat.interval.ms': 300})\n"
            "c.subscribe([sys.argv[2]], on_assign=lambda c, p: print('assigned', len(p), flush=True))\n"
            "while True:\n"
            "    c.poll(0.1)\n")
        a = Member(broker.bootstrap, "expire", topic, session_timeout_ms=3000)
        proc = subprocess.Popen([harness.PYTHON, "-c", script, broker.bootstrap, topic],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            poll_until([a], lambda: len(a.assigned) == 2, WAIT, "the partitions to be shared")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed = time.monotonic()
            poll_until([a], lambda: len(a.assigned) == 4, WAIT, "the survivor to take over")
            # One session timeout (3 s), then a heartbeat and a rejoin.
            self.assertLess(time.monotonic() - killed, 10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            a.close()

    def test_committed_offsets_survive_restart_and_kill9(self):
        from confluent_kafka import TopicPartition
        broker = self.start_broker()
        topic = "grp-durable"
        harness.create_topic(broker.bootstrap, topic, partitions=2)
        produce_spread(broker.bootstrap, topic, 2, 0, 30)
        got = read_group(broker.bootstrap, "durable", topic, 30)
        self.assertEqual(len(got), 30)

        broker.restart()
        c = group_consumer(broker.bootstrap, "durable")
        try:
            committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
            self.assertEqual(sorted(tp.offset for tp in committed), [15, 15])
        finally:
            c.close()
        sent = produce_spread(broker.bootstrap, topic, 2, 30, 10)
        got = read_group(broker.bootstrap, "durable", topic, 10)
        self.assertEqual(sorted(r[2] for r in got), sorted(sent), "resumed after the committed offsets")

        broker.kill9()
        broker.start()
        sent = produce_spread(broker.bootstrap, topic, 2, 40, 6)
        got = read_group(broker.bootstrap, "durable", topic, 6)
        self.assertEqual(sorted(r[2] for r in got), sorted(sent), "resumed after a kill -9")

    def test_standalone_commit_and_metadata(self):
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
        from kafka.structs import OffsetAndMetadata
        broker = self.start_broker()
        topic = "grp-standalone"
        harness.create_topic(broker.bootstrap, topic, partitions=2)
        # assign(), never subscribe(): generation -1 and no member id.
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="solo",
                                 enable_auto_commit=False, request_timeout_ms=20000)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
            consumer.assign([tp0, tp1])
            consumer.commit({tp0: OffsetAndMetadata(7, "checkpoint-7")})
            self.assertEqual(consumer.committed(tp0), 7)
            self.assertIsNone(consumer.committed(tp1))  # -1 on the wire: nothing committed
            consumer.commit({tp0: OffsetAndMetadata(9, None), tp1: OffsetAndMetadata(3, "x" * 100)})
            offsets = admin.list_consumer_group_offsets("solo")
            self.assertEqual({tp.partition: (om.offset, om.metadata) for tp, om in offsets.items()},
                             {0: (9, ""), 1: (3, "x" * 100)})
        finally:
            consumer.close()
            admin.close()

    @unittest.skipIf(KCAT is None, "kcat is not installed")
    def test_kcat_reads_as_group(self):
        broker = self.start_broker()
        topic = "grp-kcat"
        harness.create_topic(broker.bootstrap, topic, partitions=3)
        sent = produce_spread(broker.bootstrap, topic, 3, 0, 30)
        args = [KCAT, "-b", broker.bootstrap, "-G", "kcat-group", topic, "-e", "-q", "-f", "%s\n",
                "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
                "-X", "heartbeat.interval.ms=300"]
        proc = harness.run_process(args, WAIT)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace")[-2000:])
        self.assertEqual(set(proc.stdout.split()), sent)
        self.assertEqual(len(proc.stdout.split()), 30)
        # The group committed: a second run starts after what was read.
        sent = produce_spread(broker.bootstrap, topic, 3, 30, 6)
        proc = harness.run_process(args, WAIT)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace")[-2000:])
        self.assertEqual(sorted(proc.stdout.split()), sorted(sent))

    def test_kafka_python_group_consumer(self):
        from kafka import KafkaConsumer, TopicPartition
        broker = self.start_broker()
        topic = "grp-kpy"
        harness.create_topic(broker.bootstrap, topic, partitions=2)
        sent = produce_spread(broker.bootstrap, topic, 2, 0, 20)
        consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id="kpy",
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 session_timeout_ms=6000, heartbeat_interval_ms=300,
                                 consumer_timeout_ms=WAIT * 1000, request_timeout_ms=20000)
        try:
            got = []
            deadline = time.monotonic() + WAIT
            while len(got) < 20 and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200).values():
                    got.extend(m.value for m in batch)
            self.assertEqual(sorted(got), sorted(sent))
            consumer.commit()
            committed = [consumer.committed(TopicPartition(topic, p)) for p in (0, 1)]
            self.assertEqual(committed, [10, 10])
        finally:
            consumer.close()

    @unittest.skipIf(NODE is None, "node is not installed")
    def test_kafkajs_group_consumer(self):
        if not os.path.isdir(KAFKAJS):
            self.fail("kafkajs is not installed: run `npm ci` in tests/e2e")
        broker = self.start_broker()
        topic = "grp-kjs"
        harness.create_topic(broker.bootstrap, topic, partitions=2)
        sent = produce_spread(broker.bootstrap, topic, 2, 0, 20)
        proc = harness.run_process([NODE, KAFKAJS_SCRIPT, "--brokers", broker.bootstrap, "--topic", topic,
                                    "--group", "kjs", "--count", "20", "--timeout", str(WAIT * 1000)],
                                   WAIT + 15, cwd=harness.E2E_DIR)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace")[-3000:])
        out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        values = sorted(r[2].encode() for r in out["records"])
        self.assertEqual(values, sorted(sent))
        # The commits landed: kafka-python sees them.
        from kafka import KafkaAdminClient
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            offsets = admin.list_consumer_group_offsets("kjs")
            self.assertEqual({tp.partition: om.offset for tp, om in offsets.items()}, {0: 10, 1: 10})
        finally:
            admin.close()

    def test_admin_list_describe_delete(self):
        from kafka import KafkaAdminClient
        from kafka.errors import GroupIdNotFoundError, NoError, NonEmptyGroupError
        broker = self.start_broker()
        topic = "grp-admin"
        harness.create_topic(broker.bootstrap, topic, partitions=2)
        produce_spread(broker.bootstrap, topic, 2, 0, 4)
        read_group(broker.bootstrap, "finished", topic, 4)
        live = Member(broker.bootstrap, "live", topic)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            poll_until([live], lambda: len(live.assigned) == 2, WAIT, "the live member's assignment")
            groups = dict(admin.list_consumer_groups())
            self.assertEqual(groups.get("live"), "consumer")
            self.assertIn("finished", groups)
            described = {d.group: d for d in admin.describe_consumer_groups(["live", "finished"])}
            self.assertEqual(described["live"].state, "Stable")
            self.assertEqual(described["live"].protocol, "range")
            self.assertEqual(len(described["live"].members), 1)
            self.assertEqual(described["finished"].state, "Empty")
            results = dict(admin.delete_consumer_groups(["finished", "live", "never-was"]))
            self.assertIs(results["finished"], NoError)
            self.assertIs(results["live"], NonEmptyGroupError)
            self.assertIs(results["never-was"], GroupIdNotFoundError)
            self.assertNotIn("finished", dict(admin.list_consumer_groups()))
            self.assertEqual(admin.list_consumer_group_offsets("finished"), {})
        finally:
            admin.close()
            live.close()


# -- the group protocol by hand ------------------------------------------------------

API_JOIN, API_HEARTBEAT, API_LEAVE, API_SYNC, API_DESCRIBE = 11, 12, 13, 14, 15
ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID = 22, 23, 25
INVALID_SESSION_TIMEOUT, REBALANCE_IN_PROGRESS = 26, 27


def nbytes(b):
    return i32(len(b)) + b


class RawMember:
    """One member speaking JoinGroup v2, SyncGroup/Heartbeat/LeaveGroup v1."""

    def __init__(self, broker, group=b"raw", session_ms=3000, protocol=b"range"):
        self.conn = Connection(broker)
        self.group, self.session_ms, self.protocol = group, session_ms, protocol
        self.member_id, self.generation, self.cid = b"", -1, 0

    def send_join(self):
        self.cid += 1
        body = (string(self.group) + i32(self.session_ms) + i32(self.session_ms) + string(self.member_id)
                + string(b"consumer") + i32(1) + string(self.protocol) + nbytes(b"meta-" + self.protocol))
        self.conn.send(request(API_JOIN, 2, self.cid, body))

    def read_join(self):
        r = self.conn.read_response(self.cid)
        r.i32()
        error, generation = r.i16(), r.i32()
        protocol, leader, member_id = r.string(), r.string(), r.string()
        members = [(r.string(), r.take(r.i32())) for _ in range(r.i32())]
        if error == 0:
            self.member_id, self.generation = member_id, generation
        return error, generation, protocol, leader, members

    def join(self):
        self.send_join()
        return self.read_join()

    def sync(self, assignments=()):
        self.cid += 1
        body = string(self.group) + i32(self.generation) + string(self.member_id) + i32(len(assignments))
        body += b"".join(string(m) + nbytes(a) for m, a in assignments)
        self.conn.send(request(API_SYNC, 1, self.cid, body))
        r = self.conn.read_response(self.cid)
        r.i32()
        return r.i16(), r.take(r.i32())

    def heartbeat(self, generation=None):
        self.cid += 1
        gen = self.generation if generation is None else generation
        self.conn.send(request(API_HEARTBEAT, 1, self.cid, string(self.group) + i32(gen) + string(self.member_id)))
        r = self.conn.read_response(self.cid)
        r.i32()
        return r.i16()

    def leave(self):
        self.cid += 1
        self.conn.send(request(API_LEAVE, 1, self.cid, string(self.group) + string(self.member_id)))
        r = self.conn.read_response(self.cid)
        r.i32()
        return r.i16()

    def close(self):
        self.conn.close()


class GroupProtocolTest(harness.BrokerTestCase):

    broker_props = GROUP_PROPS

    def test_errors_and_a_member_whose_connection_died_while_parked(self):
        broker = self.start_broker()
        a = RawMember(broker)
        self.addCleanup(a.close)
        error, generation, protocol, leader, members = a.join()
        self.assertEqual((error, generation, protocol), (0, 1, b"range"))
        self.assertEqual(leader, a.member_id)
        self.assertEqual([m for m, _ in members], [a.member_id])
        self.assertEqual(a.sync([(a.member_id, b"all of it")]), (0, b"all of it"))
        self.assertEqual(a.heartbeat(), 0)
        self.assertEqual(a.heartbeat(generation=0), ILLEGAL_GENERATION)

        # Errors a join can get.
        bad = RawMember(broker, session_ms=100)
        self.addCleanup(bad.close)
        self.assertEqual(bad.join()[0], INVALID_SESSION_TIMEOUT)
        other = RawMember(broker, protocol=b"RoundRobinAssigner")
        self.addCleanup(other.close)
        self.assertEqual(other.join()[0], INCONSISTENT_GROUP_PROTOCOL)
        other.member_id = b"made-up"
        self.assertEqual(other.heartbeat(generation=1), UNKNOWN_MEMBER_ID)

        # b's join parks (a has not rejoined yet); then b's connection dies.
        b = RawMember(broker)
        b.send_join()
        time.sleep(0.3)
        b.close()
        self.assertEqual(a.heartbeat(), REBALANCE_IN_PROGRESS)
        # a rejoins: the rebalance completes with b, whose answer is lost...
        error, generation, _, leader, members = a.join()
        self.assertEqual((error, generation, leader), (0, 2, a.member_id))
        self.assertEqual(len(members), 2)
        self.assertEqual(a.sync([(m, b"half") for m, _ in members]), (0, b"half"))
        # ...and b, never heard from again, expires one session later.
        deadline = time.monotonic() + 10
        while a.heartbeat() == 0:
            self.assertLess(time.monotonic(), deadline, "the dead member was never removed")
            time.sleep(0.2)
        error, generation, _, _, members = a.join()
        self.assertEqual((error, generation, len(members)), (0, 3, 1))
        self.assertEqual(a.sync([(a.member_id, b"all again")]), (0, b"all again"))

        # A follower's SyncGroup parks until the leader's arrives.
        c = RawMember(broker)
        self.addCleanup(c.close)
        c.send_join()
        time.sleep(0.2)
        self.assertEqual(a.heartbeat(), REBALANCE_IN_PROGRESS)
        self.assertEqual(a.join()[1], 4)
        self.assertEqual(c.read_join()[1], 4)
        c.cid += 1
        c.conn.send(request(API_SYNC, 1, c.cid, string(c.group) + i32(4) + string(c.member_id) + i32(0)))
        time.sleep(0.3)
        self.assertEqual(a.sync([(a.member_id, b"A"), (c.member_id, b"C")]), (0, b"A"))
        r = c.conn.read_response(c.cid)
        r.i32()
        self.assertEqual((r.i16(), r.take(r.i32())), (0, b"C"))
        self.assertEqual(c.leave(), 0)
        self.assertEqual(c.leave(), UNKNOWN_MEMBER_ID)
        self.assertEqual(a.heartbeat(), REBALANCE_IN_PROGRESS)


if __name__ == "__main__":
    unittest.main()
