"""Confluent's Python client against the registry: SchemaRegistryClient's
calls (Debian's python3-confluent-kafka), and its serializers producing to
and consuming from the broker in Confluent's wire format (magic byte 0, the
4-byte schema id, the payload). All of the client's traffic goes through
registry_client's recording proxy, so every response it got is checked
against openapi/openapi.yaml too.

Debian packages no fastavro, which confluent_kafka's AvroSerializer and
AvroDeserializer call for the Avro binary encoding. When it is missing, this
module supplies the three functions they use (parse_schema,
schemaless_writer, schemaless_reader), written here from the Avro
specification for the types the tests use, so that the serializers' own
code (registration, id lookup, framing) still runs; the bytes are then
checked against the encoding worked out by hand."""

import importlib.util
import io
import json
import struct
import sys
import time
import types
import unittest

try:
    from . import harness
    from .registry_client import RecordingProxy, SharedRegistryTestCase, avro_record
except ImportError:  # run from inside tests/e2e
    import harness
    from registry_client import RecordingProxy, SharedRegistryTestCase, avro_record


# -- a minimal Avro binary codec, for when fastavro is not installed ---------------------

_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")


def _write_long(fo, n):
    n = (n << 1) ^ (n >> 63)  # zig-zag
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            fo.write(bytes((b | 0x80,)))
        else:
            fo.write(bytes((b,)))
            return


def _read_long(fo):
    shift = result = 0
    while True:
        b = fo.read(1)
        if not b:
            raise EOFError("truncated Avro varint")
        result |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    return (result >> 1) ^ -(result & 1)



NOT_YET = ("JSON Schema and Protobuf formats are separate issues; until they land the registry "
           "refuses them with 42201 (test_other_schema_types_refused_clearly)")

class _Names(dict):
    def full(self, name, namespace):
        return name if "." in name or not namespace else namespace + "." + name

    def find(self, name, namespace):
        for candidate in (self.full(name, namespace), name):
            if candidate in self:
                return self[candidate]
        raise ValueError("unknown Avro type %r" % name)


def _collect(schema, names, namespace=None):
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, names, namespace)
    elif isinstance(schema, dict):
        t = schema.get("type")
        if t in ("record", "error", "enum", "fixed"):
            ns = schema.get("namespace", namespace)
            full = names.full(schema["name"], ns)
            names[full] = (schema, full.rpartition(".")[0] or None)
            if t in ("record", "error"):
                for f in schema["fields"]:
                    _collect(f["type"], names, full.rpartition(".")[0] or None)
        elif t == "array":
            _collect(schema["items"], names, namespace)
        elif t == "map":
            _collect(schema["values"], names, namespace)
        elif isinstance(t, (dict, list)):
            _collect(t, names, namespace)


def _parse_schema(schema):
    names = _Names()
    _collect(schema, names)
    parsed = {"__schema": schema, "__names": names}
    if isinstance(schema, dict):
        parsed.update({k: v for k, v in schema.items() if k in ("type", "name", "namespace")})
    return parsed


def _resolve(schema, names, namespace):
    """(schema node, its namespace) with named references and {"type": prim} unwrapped."""
    while True:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema, namespace
            schema, namespace = names.find(schema, namespace)
            continue
        if isinstance(schema, dict) and (isinstance(schema.get("type"), (dict, list)) or
                                         schema.get("type") in _PRIMITIVES):
            schema = schema["type"]
            continue
        return schema, namespace


def _branch_matches(schema, datum, names, namespace):
    s, _ = _resolve(schema, names, namespace)
    t = s if isinstance(s, str) else s.get("type") if isinstance(s, dict) else "union"
    return {"null": datum is None, "boolean": isinstance(datum, bool),
            "int": isinstance(datum, int) and not isinstance(datum, bool),
            "long": isinstance(datum, int) and not isinstance(datum, bool),
            "float": isinstance(datum, float), "double": isinstance(datum, float),
            "string": isinstance(datum, str), "bytes": isinstance(datum, bytes),
            "enum": isinstance(datum, str), "fixed": isinstance(datum, bytes),
            "array": isinstance(datum, list), "map": isinstance(datum, dict),
            "record": isinstance(datum, dict), "error": isinstance(datum, dict)}.get(t, False)


def _write(fo, schema, datum, names, namespace):
    schema, namespace = _resolve(schema, names, namespace)
    if isinstance(schema, list):
        for i, branch in enumerate(schema):
            if _branch_matches(branch, datum, names, namespace):
                _write_long(fo, i)
                return _write(fo, branch, datum, names, namespace)
        raise ValueError("%r matches no branch of %r" % (datum, schema))
    t = schema if isinstance(schema, str) else schema["type"]
    if t == "null":
        return
    if t == "boolean":
        fo.write(b"\x01" if datum else b"\x00")
    elif t in ("int", "long"):
        _write_long(fo, datum)
    elif t == "float":
        fo.write(struct.pack("<f", datum))
    elif t == "double":
        fo.write(struct.pack("<d", datum))
    elif t in ("bytes", "string"):
        raw = datum.encode("utf-8") if t == "string" else datum
        _write_long(fo, len(raw))
        fo.write(raw)
    elif t in ("record", "error"):
        ns = names.full(schema["name"], schema.get("namespace", namespace)).rpartition(".")[0] or None
        for f in schema["fields"]:
            _write(fo, f["type"], datum.get(f["name"], f.get("default")), names, ns)
    elif t == "enum":
        _write_long(fo, schema["symbols"].index(datum))
    elif t == "fixed":
        fo.write(datum)
    elif t == "array":
        if datum:
            _write_long(fo, len(datum))
            for item in datum:
                _write(fo, schema["items"], item, names, namespace)
        _write_long(fo, 0)
    elif t == "map":
        if datum:
            _write_long(fo, len(datum))
            for k, v in datum.items():
                _write(fo, "string", k, names, namespace)
                _write(fo, schema["values"], v, names, namespace)
        _write_long(fo, 0)
    else:
        raise ValueError("unsupported Avro type %r" % t)


def _read(fo, schema, names, namespace):
    schema, namespace = _resolve(schema, names, namespace)
    if isinstance(schema, list):
        return _read(fo, schema[_read_long(fo)], names, namespace)
    t = schema if isinstance(schema, str) else schema["type"]
    if t == "null":
        return None
    if t == "boolean":
        return fo.read(1) == b"\x01"
    if t in ("int", "long"):
        return _read_long(fo)
    if t == "float":
        return struct.unpack("<f", fo.read(4))[0]
    if t == "double":
        return struct.unpack("<d", fo.read(8))[0]
    if t in ("bytes", "string"):
        raw = fo.read(_read_long(fo))
        return raw.decode("utf-8") if t == "string" else raw
    if t in ("record", "error"):
        ns = names.full(schema["name"], schema.get("namespace", namespace)).rpartition(".")[0] or None
        return {f["name"]: _read(fo, f["type"], names, ns) for f in schema["fields"]}
    if t == "enum":
        return schema["symbols"][_read_long(fo)]
    if t == "fixed":
        return fo.read(schema["size"])
    if t in ("array", "map"):
        out = [] if t == "array" else {}
        while True:
            n = _read_long(fo)
            if n == 0:
                return out
            if n < 0:
                n = -n
                _read_long(fo)  # block size in bytes
            for _ in range(n):
                if t == "array":
                    out.append(_read(fo, schema["items"], names, namespace))
                else:
                    k = _read(fo, "string", names, namespace)
                    out[k] = _read(fo, schema["values"], names, namespace)
    raise ValueError("unsupported Avro type %r" % t)


def _schemaless_writer(fo, parsed, datum):
    _write(fo, parsed["__schema"], datum, parsed["__names"], None)


def _schemaless_reader(fo, writer_schema, reader_schema=None, return_record_name=False):
    return _read(fo, writer_schema["__schema"], writer_schema["__names"], None)


def _install_fastavro_shim():
    if importlib.util.find_spec("fastavro") is not None:
        return False
    shim = types.ModuleType("fastavro")
    shim.parse_schema = _parse_schema
    shim.schemaless_writer = _schemaless_writer
    shim.schemaless_reader = _schemaless_reader
    sys.modules["fastavro"] = shim
    return True


FASTAVRO_SHIM = _install_fastavro_shim()


def zigzag_bytes(n):
    out = io.BytesIO()
    _write_long(out, n)
    return out.getvalue()


# -- the tests ------------------------------------------------------------------

class RegistryClientsTest(SharedRegistryTestCase):

    def setUp(self):
        self.proxy = RecordingProxy(self.registry.broker.registry_url)
        self.addCleanup(self.proxy.close)

    def tearDown(self):
        self.proxy.assert_clean()

    def sr(self):
        from confluent_kafka.schema_registry import SchemaRegistryClient
        return SchemaRegistryClient({"url": self.proxy.url})

    def test_schema_registry_client_calls(self):
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError
        sr = self.sr()
        subject = "client-value"
        v1 = Schema(avro_record("Client", ("a", "int"), namespace="e2e"), "AVRO")
        v2 = Schema(avro_record("Client", ("a", "int"), ("b", "string", ""), namespace="e2e"), "AVRO")
        bad = Schema(avro_record("Client", ("a", "int"), ("c", "string"), namespace="e2e"), "AVRO")
        id1 = sr.register_schema(subject, v1)
        self.assertIsInstance(id1, int)
        fresh = self.sr()  # no cache: these go over the wire
        got = fresh.get_schema(id1)
        self.assertEqual(json.loads(got.schema_str), json.loads(v1.schema_str))
        self.assertEqual(got.schema_type, "AVRO")
        latest = fresh.get_latest_version(subject)
        self.assertEqual((latest.schema_id, latest.version, latest.subject), (id1, 1, subject))
        self.assertEqual(fresh.get_version(subject, 1).schema_id, id1)
        self.assertTrue(sr.test_compatibility(subject, v2))
        self.assertFalse(sr.test_compatibility(subject, bad))
        self.assertFalse(sr.test_compatibility(subject, bad, version=1))
        id2 = sr.register_schema(subject, v2)
        self.assertNotEqual(id1, id2)
        self.assertEqual(sr.get_versions(subject), [1, 2])
        self.assertIn(subject, sr.get_subjects())
        found = fresh.lookup_schema(subject, v1)
        self.assertEqual((found.schema_id, found.version), (id1, 1))
        with self.assertRaises(SchemaRegistryError) as cm:
            sr.register_schema(subject, bad)
        self.assertEqual(cm.exception.http_status_code, 409)
        self.assertIn(cm.exception.error_code, (409, 40901))
        with self.assertRaises(SchemaRegistryError) as cm:
            fresh.lookup_schema(subject, bad)
        self.assertEqual((cm.exception.http_status_code, cm.exception.error_code), (404, 40403))
        with self.assertRaises(SchemaRegistryError) as cm:
            fresh.get_latest_version("client-missing")
        self.assertEqual((cm.exception.http_status_code, cm.exception.error_code), (404, 40401))
        # Compatibility levels.
        self.assertEqual(sr.set_compatibility(subject, "FULL"), {"compatibility": "FULL"})
        self.assertEqual(sr.get_compatibility(subject), "FULL")
        self.assertEqual(sr.get_compatibility(), "BACKWARD")
        try:
            self.assertEqual(sr.set_compatibility(level="FORWARD"), {"compatibility": "FORWARD"})
            self.assertEqual(sr.get_compatibility(), "FORWARD")
        finally:
            sr.set_compatibility(level="BACKWARD")
        # Deletes.
        self.assertEqual(sr.delete_version(subject, 2), 2)
        self.assertEqual(sr.get_versions(subject), [1])
        self.assertEqual(sr.delete_subject(subject), [1])
        self.assertNotIn(subject, sr.get_subjects())
        self.assertIn(subject, self.c.subjects({"deleted": "true"}))
        other = Schema(avro_record("ClientGone", ("a", "int"), namespace="e2e"), "AVRO")
        sr.register_schema("client-gone", other)
        self.assertEqual(sr.delete_subject("client-gone", permanent=True), [1])
        self.assertNotIn("client-gone", self.c.subjects({"deleted": "true"}))
        with self.assertRaises(SchemaRegistryError) as cm:
            sr.delete_subject("client-gone")
        self.assertEqual((cm.exception.http_status_code, cm.exception.error_code), (404, 40401))
        self.assertTrue(self.proxy.exchanges)

    @unittest.skip(NOT_YET)
    def test_schema_registry_client_other_schema_types(self):
        from confluent_kafka.schema_registry import Schema
        sr = self.sr()
        js = Schema(json.dumps({"type": "object", "properties": {"x": {"type": "integer"}}}), "JSON")
        jid = sr.register_schema("client-json", js)
        self.assertEqual(self.sr().get_schema(jid).schema_type, "JSON")
        proto = Schema('syntax = "proto3";\npackage e2e.client;\n\nmessage P {\n  string a = 1;\n}\n', "PROTOBUF")
        pid = sr.register_schema("client-proto", proto)
        got = self.sr().get_schema(pid)
        self.assertEqual(got.schema_type, "PROTOBUF")
        self.assertIn("message P", got.schema_str)

    def test_avro_serializer_round_trip(self):
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext
        broker = self.registry.broker
        topic = "avro-round-trip"
        harness.create_topic(broker.bootstrap, topic)
        schema = avro_record("Reading", ("name", "string"), ("n", "long"), ("tag", ["null", "string"], None),
                             namespace="e2e")
        ctx = SerializationContext(topic, MessageField.VALUE)
        ser = AvroSerializer(self.sr(), schema)
        values = [{"name": "ab", "n": 3, "tag": None}, {"name": "\u00e9t\u00e9", "n": -70000, "tag": "x"}]
        payloads = [ser(v, ctx) for v in values]
        sid = self.c.version("%s-value" % topic)["id"]
        for p in payloads:
            self.assertEqual(p[0], 0, "magic byte")
            self.assertEqual(struct.unpack(">I", p[1:5])[0], sid)
        # name "ab" (length 2), n 3, the union's branch 0 (null).
        self.assertEqual(payloads[0][5:], b"\x04ab" + zigzag_bytes(3) + b"\x00")
        harness.produce(broker.bootstrap, topic, [{"value": p} for p in payloads])
        records = harness.consume(broker.bootstrap, topic, min_count=2)
        self.assertEqual([r.value for r in records], payloads)
        deser = AvroDeserializer(self.sr())
        self.assertEqual([deser(r.value, ctx) for r in records], values)

    def test_serializing_producer_and_deserializing_consumer(self):
        from confluent_kafka import OFFSET_BEGINNING, DeserializingConsumer, SerializingProducer, TopicPartition
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
        from confluent_kafka.serialization import StringDeserializer, StringSerializer
        broker = self.registry.broker
        topic = "avro-producer"
        harness.create_topic(broker.bootstrap, topic)
        schema = avro_record("Event", ("kind", "string"), ("at", "long"), namespace="e2e")
        producer = SerializingProducer(harness.client_config(broker.bootstrap, **{
            "key.serializer": StringSerializer("utf_8"), "value.serializer": AvroSerializer(self.sr(), schema),
            "acks": "all"}))
        sent = [{"kind": "k%d" % i, "at": 1000 * i} for i in range(5)]
        for i, v in enumerate(sent):
            producer.produce(topic, key="key-%d" % i, value=v)
        self.assertEqual(producer.flush(30), 0)
        consumer = DeserializingConsumer(harness.client_config(broker.bootstrap, **{
            "group.id": "strand-e2e-avro", "enable.auto.commit": False,
            "key.deserializer": StringDeserializer("utf_8"), "value.deserializer": AvroDeserializer(self.sr())}))
        got = []
        try:
            consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            deadline = time.monotonic() + 30
            while len(got) < len(sent) and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None:
                    got.append((msg.key(), msg.value()))
        finally:
            consumer.close()
        self.assertEqual(got, [("key-%d" % i, v) for i, v in enumerate(sent)])
        self.assertEqual(self.c.versions("%s-value" % topic), [1])

    @unittest.skip(NOT_YET)
    def test_json_serializer_round_trip(self):
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext
        broker = self.registry.broker
        topic = "json-round-trip"
        harness.create_topic(broker.bootstrap, topic)
        schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Point",
                             "type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                             "required": ["x"]})
        ctx = SerializationContext(topic, MessageField.VALUE)
        ser = JSONSerializer(schema, self.sr())
        value = {"x": 1, "y": 2}
        payload = ser(value, ctx)
        v = self.c.version("%s-value" % topic)
        self.assertEqual(v.get("schemaType"), "JSON")
        self.assertEqual(payload[0], 0)
        self.assertEqual(struct.unpack(">I", payload[1:5])[0], v["id"])
        self.assertEqual(json.loads(payload[5:]), value)
        harness.produce(broker.bootstrap, topic, [{"value": payload}])
        records = harness.consume(broker.bootstrap, topic, min_count=1)
        self.assertEqual(records[0].value, payload)
        self.assertEqual(JSONDeserializer(schema)(records[0].value, ctx), value)


if __name__ == "__main__":
    unittest.main()
