"""The example programs in serde/examples/ against bin/strand: avro_producer
writes Payment records through libstrand-serde and librdkafka, avro_consumer
reads them back (as written, and projected onto a newer reader schema), and
other clients see Confluent-framed records: confluent-kafka reads the bytes,
strand-serde decodes them, and the consumer reads records framed by
strand-serde's produce."""

import json
import os
import shutil
import tempfile
import unittest

import requests

try:
    from . import harness
    from . import test_serde_common as common
except ImportError:  # run from inside tests/e2e
    import harness
    import test_serde_common as common

CURRENCIES = ["EUR", "USD", "GBP"]

# The producer's schema (avro_producer.c), with a field added that has a
# default: what a consumer upgraded before its producers reads with.
READER_SCHEMA = {
    "type": "record", "name": "Payment", "namespace": "com.example.payments",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD", "GBP", "JPY"]}},
        {"name": "channel", "type": "string", "default": "web"},
    ],
}
WRITER_SCHEMA = {
    "type": "record", "name": "Payment", "namespace": "com.example.payments",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD", "GBP"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


def payment(i):
    """Record i as avro_producer.c writes it, in Avro's JSON encoding."""
    return {"id": "pay-%d" % i, "amount": i * 1.25, "currency": CURRENCIES[i % 3],
            "note": {"string": "note %d" % i} if i % 3 == 0 else None}


class SerdeExamplesTest(harness.BrokerTestCase):
    broker_props = common.BROKER_PROPS

    def setUp(self):
        for name in ("avro_producer", "avro_consumer"):
            if not os.access(common.example_binary(name), os.X_OK):
                self.fail("%s is not built" % common.example_binary(name))
        self.tmp = tempfile.mkdtemp(prefix="strand-serde-examples-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.broker = self.start_broker()

    def run_example(self, name, *args):
        proc = harness.run_process([common.example_binary(name)] + [str(a) for a in args], common.TIMEOUT,
                                   env=harness.sanitizer_env())
        self.assertEqual(common.sanitizer_problems(proc.stderr), [], proc.stderr.decode(errors="replace"))
        self.assertEqual(proc.returncode, 0, "%s: %s" % (name, proc.stderr.decode(errors="replace")[-3000:]))
        return proc.stdout.decode()

    def consumer_lines(self, topic, count, *extra):
        """avro_consumer's lines as (partition, offset, key, schema id, value)."""
        out = self.run_example("avro_consumer", self.broker.bootstrap, self.broker.registry_url, topic, count, *extra)
        rows = []
        for line in out.splitlines():
            partition, offset, key, schema_id, value = line.split(" ", 4)
            rows.append((int(partition), int(offset), key, int(schema_id), json.loads(value)))
        return rows

    def test_producer_then_consumer(self):
        count = 60
        out = self.run_example("avro_producer", self.broker.bootstrap, self.broker.registry_url, "payments", count)
        self.assertRegex(out, r"^delivered %d records with schema id \d+\n$" % count)
        schema_id = int(out.split()[-1])
        latest = self.registry_get("/subjects/payments-value/versions/latest")
        self.assertEqual(latest["id"], schema_id)
        self.assertEqual(json.loads(latest["schema"]), WRITER_SCHEMA)

        rows = self.consumer_lines("payments", count)
        self.assertEqual([r[1] for r in rows], list(range(count)))
        self.assertEqual([r[2] for r in rows], ["payment-%d" % i for i in range(count)])
        self.assertEqual({r[3] for r in rows}, {schema_id})
        self.assertEqual([r[4] for r in rows], [payment(i) for i in range(count)])

        # Another client sees Confluent-framed records that strand-serde decodes.
        records = harness.consume(self.broker.bootstrap, "payments", 0, min_count=count, timeout=30)
        self.assertEqual(len(records), count)
        for i in (0, 1, count - 1):
            data = records[i].value
            self.assertEqual(data[:5], b"\x00" + schema_id.to_bytes(4, "big"))
            proc = common.run_cli(["decode", "--registry", self.broker.registry_url], data)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(json.loads(proc.stdout), payment(i))

    def test_consumer_projects_onto_a_reader_schema(self):
        self.run_example("avro_producer", self.broker.bootstrap, self.broker.registry_url, "upgraded", 6)
        reader = common.write_file(self.tmp, "reader.avsc", READER_SCHEMA)
        rows = self.consumer_lines("upgraded", 6, reader)
        expected = [{"id": "pay-%d" % i, "amount": i * 1.25, "currency": CURRENCIES[i % 3], "channel": "web"}
                    for i in range(6)]
        self.assertEqual([r[4] for r in rows], expected)

    def test_consumer_reads_what_strand_serde_produced(self):
        schema = common.write_file(self.tmp, "payment.avsc", WRITER_SCHEMA)
        lines = ["cli-%d|%s" % (i, json.dumps(payment(i))) for i in range(5)]
        proc = common.run_cli(["produce", "--bootstrap-servers", self.broker.bootstrap,
                               "--registry", self.broker.registry_url, "--topic", "mixed", "--type", "avro",
                               "--schema", schema, "--key-separator", "|"], "\n".join(lines) + "\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.run_example("avro_producer", self.broker.bootstrap, self.broker.registry_url, "mixed", 3)
        rows = self.consumer_lines("mixed", 8)
        self.assertEqual([r[2] for r in rows], ["cli-%d" % i for i in range(5)] + ["payment-%d" % i for i in range(3)])
        self.assertEqual([r[4] for r in rows], [payment(i) for i in range(5)] + [payment(i) for i in range(3)])
        # The same schema text: one id for both writers.
        self.assertEqual(len({r[3] for r in rows}), 1)

    def registry_get(self, path):
        r = requests.get(self.broker.registry_url + path, timeout=10)
        r.raise_for_status()
        return r.json()


if __name__ == "__main__":
    unittest.main()
