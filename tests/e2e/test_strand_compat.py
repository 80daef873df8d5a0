"""strand-compat end to end: the real binary on schema files in a fresh
temporary directory, and against Strand's own schema registry (bin/strand
with the registry in-process). Checks the exit codes (0 compatible, 1 incompatible, 2 error), the
text, JSON and JUnit reports, error messages that name the file, type
inference from the extension, and --help.

The binary sits beside STRAND_BIN (the sanitized build by default); any
sanitizer report on its stderr fails the test.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from tests.e2e.harness import SANITIZER_MARKERS, Broker, keep_tmp_requested, sanitizer_env, strand_binary


def compat_binary():
    return os.path.join(os.path.dirname(strand_binary()), "strand-compat")


def record(name, fields, **extra):
    schema = {"type": "record", "name": name, "fields": fields}
    schema.update(extra)
    return schema


def field(name, type_, **extra):
    f = {"name": name, "type": type_}
    f.update(extra)
    return f


V1 = record("User", [field("id", "long")])
V2 = record("User", [field("id", "long"), field("email", "string", default="")])
# Compatible with V2 (email exists there) but not with V1 (no email, no default).
V3 = record("User", [field("id", "long"), field("email", "string")])


class Registry:
    """Strand's own schema registry (bin/strand with the registry in-process),
    shared by the registry tests of this module; each test uses subjects of
    its own."""

    broker = None

    @classmethod
    def start(cls):
        if cls.broker is None:
            cls.broker = Broker({"schema.registry.listeners": "http://127.0.0.1:0",
                                 "group.initial.rebalance.delay.ms": "0"})
            cls.broker.start()
        return cls.broker.registry_url

    @classmethod
    def stop(cls):
        if cls.broker is not None:
            broker, cls.broker = cls.broker, None
            problems = broker.close()
            if problems:
                raise AssertionError("registry broker problems (kept %s): %s"
                                     % (broker.tmp_dir, "; ".join(problems)))
            broker.remove_tmp()

    @staticmethod
    def call(method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    @classmethod
    def register(cls, url, subject, schema, references=None):
        body = {"schema": json.dumps(schema)}
        if references:
            body["references"] = references
        return cls.call("POST", "%s/subjects/%s/versions" % (url, urllib.parse.quote(subject, safe="")), body)

    @classmethod
    def set_level(cls, url, subject, level):
        cls.call("PUT", "%s/config/%s" % (url, urllib.parse.quote(subject, safe="")),
                 {"compatibility": level})


def tearDownModule():
    Registry.stop()


class StrandCompatTest(unittest.TestCase):
    def setUp(self):
        self.binary = compat_binary()
        if not os.access(self.binary, os.X_OK):
            self.fail("%s does not exist; build it with make" % self.binary)
        self.dir = tempfile.mkdtemp(prefix="strand-compat-e2e-")

    def tearDown(self):
        failed = not getattr(self._outcome, "success", True)
        if keep_tmp_requested() or failed:
            print("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        return path

    def run_compat(self, *args, expect=None):
        proc = subprocess.run([self.binary] + list(args), capture_output=True, text=True, timeout=60,
                              env=sanitizer_env(), cwd=self.dir)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, proc.stderr, "sanitizer report:\n" + proc.stderr)
        if expect is not None:
            self.assertEqual(proc.returncode, expect,
                             "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                             % (proc.returncode, expect, proc.stdout, proc.stderr))
        return proc

    def versions(self):
        return [self.write("v1.avsc", V1), self.write("v2.avsc", V2)]

    # -- exit codes and text -------------------------------------------------

    def test_compatible_exits_0(self):
        new = self.write("new.avsc", V3)
        proc = self.run_compat("check", "--level", "BACKWARD", new, *self.versions(), expect=0)
        self.assertIn("compatible", proc.stdout)
        self.assertNotIn("NOT", proc.stdout)

    def test_transitive_incompatible_exits_1_with_one_line_per_finding(self):
        new = self.write("new.avsc", V3)
        proc = self.run_compat("check", "--level", "backward_transitive", new, *self.versions(), expect=1)
        lines = [l for l in proc.stdout.splitlines() if "READER_FIELD_MISSING_DEFAULT_VALUE" in l]
        self.assertEqual(len(lines), 1, proc.stdout)
        self.assertIn("/fields/1", lines[0])
        self.assertIn("User.email", lines[0])
        self.assertIn("version 1", lines[0])
        self.assertIn("v1.avsc", lines[0])
        self.assertIn("BACKWARD", lines[0])

    def test_default_level_is_backward(self):
        new = self.write("new.avsc", record("User", [field("id", "int")]))
        proc = self.run_compat("check", new, self.write("old.avsc", V1), expect=1)
        self.assertIn("TYPE_MISMATCH", proc.stdout)
        self.assertIn("BACKWARD", proc.stdout)

    def test_every_level(self):
        new = self.write("new.avsc", record("R", [field("a", "long")]))
        old = [self.write("o1.avsc", record("R", [field("a", "int")])),
               self.write("o2.avsc", record("R", [field("a", "long")]))]
        expected = {"NONE": 0, "BACKWARD": 0, "BACKWARD_TRANSITIVE": 0, "FORWARD": 0,
                    "FORWARD_TRANSITIVE": 1, "FULL": 0, "FULL_TRANSITIVE": 1}
        for level, code in expected.items():
            with self.subTest(level=level):
                self.run_compat("check", "--level", level, new, *old, expect=code)

    # -- JSON and JUnit --------------------------------------------------------

    def test_json_output(self):
        new = self.write("new.avsc", record("User", [field("id", "int"), field("email", "string")]))
        proc = self.run_compat("check", "--level", "FULL_TRANSITIVE", "--format", "json", new,
                               *self.versions(), expect=1)
        doc = json.loads(proc.stdout)
        self.assertFalse(doc["compatible"])
        self.assertEqual(doc["level"], "FULL_TRANSITIVE")
        self.assertEqual(doc["schemaType"], "AVRO")
        rules = sorted(f["rule"] for f in doc["findings"])
        self.assertIn("TYPE_MISMATCH", rules)
        self.assertIn("READER_FIELD_MISSING_DEFAULT_VALUE", rules)
        for f in doc["findings"]:
            self.assertIn(f["version"], (1, 2))
            self.assertIn(f["direction"], ("BACKWARD", "FORWARD"))
            self.assertTrue(f["location"].startswith("/"))
            self.assertTrue(f["message"])
        self.assertEqual(len(doc["comparisons"]), 4)
        self.assertEqual([v["version"] for v in doc["versions"]], [1, 2])

    def test_json_output_when_compatible(self):
        new = self.write("new.avsc", V2)
        proc = self.run_compat("check", "--format", "json", new, self.write("old.avsc", V1), expect=0)
        doc = json.loads(proc.stdout)
        self.assertTrue(doc["compatible"])
        self.assertEqual(doc["findings"], [])

    def test_junit_output(self):
        new = self.write("new.avsc", record("User", [field("id", "int"), field("email", "string")]))
        proc = self.run_compat("check", "--level", "BACKWARD_TRANSITIVE", "--format", "junit", new,
                               *self.versions(), expect=1)
        root = ET.fromstring(proc.stdout)
        self.assertEqual(root.tag, "testsuites")
        cases = root.findall("./testsuite/testcase")
        self.assertEqual(len(cases), 2)  # one per earlier version compared
        failures = root.findall(".//failure")
        types = sorted(f.get("type") for f in failures)
        # Both versions: id int cannot read long; version 1 also lacks email.
        self.assertEqual(types, ["READER_FIELD_MISSING_DEFAULT_VALUE", "TYPE_MISMATCH", "TYPE_MISMATCH"])
        self.assertEqual(root.get("failures"), "2")
        for f in failures:
            self.assertTrue(f.get("message"))
            self.assertIn("/fields/", f.text)

    def test_junit_output_when_compatible(self):
        new = self.write("new.avsc", V2)
        proc = self.run_compat("check", "--format", "junit", new, self.write("old.avsc", V1), expect=0)
        root = ET.fromstring(proc.stdout)
        self.assertEqual(len(root.findall(".//testcase")), 1)
        self.assertEqual(root.findall(".//failure"), [])

    # -- errors ----------------------------------------------------------------

    def test_missing_file(self):
        new = self.write("new.avsc", V2)
        missing = os.path.join(self.dir, "nope.avsc")
        proc = self.run_compat("check", new, missing, expect=2)
        self.assertIn("nope.avsc", proc.stderr)
        self.assertEqual(proc.stdout, "")

    def test_bad_json(self):
        new = self.write("new.avsc", '{"type": "record", "name": ')
        proc = self.run_compat("check", new, self.write("old.avsc", V1), expect=2)
        self.assertIn("new.avsc", proc.stderr)

    def test_invalid_schema_names_the_file_and_where(self):
        bad = self.write("bad.avsc", record("User", [field("id", "long"),
                                                     field("zip", {"type": "fixed", "name": "Zip"})]))
        proc = self.run_compat("check", self.write("new.avsc", V1), bad, expect=2)
        self.assertIn("bad.avsc", proc.stderr)
        self.assertIn("invalid AVRO schema", proc.stderr)
        self.assertIn("zip", proc.stderr.lower())

    def test_bad_usage(self):
        new = self.write("new.avsc", V1)
        self.assertIn("level", self.run_compat("check", "--level", "SIDEWAYS", new, new, expect=2).stderr)
        self.run_compat("check", new, expect=2)
        self.run_compat("check", "--format", "yaml", new, new, expect=2)
        self.run_compat("frobnicate", expect=2)
        self.run_compat(expect=2)

    # -- references ----------------------------------------------------------------

    def test_references_from_files(self):
        address = self.write("address.avsc", record("Address", [field("zip", "string")], namespace="com.acme"))
        old = self.write("old.avsc", record("User", [field("home", "com.acme.Address")]))
        new = self.write("new.avsc", record("User", [field("home", "com.acme.Address"), field("note", "string")]))
        proc = self.run_compat("check", "-R", address, new, old, expect=1)
        self.assertIn("READER_FIELD_MISSING_DEFAULT_VALUE", proc.stdout)
        self.assertIn("User.note", proc.stdout)
        self.run_compat("check", "--reference", address, old, old, expect=0)
        # Without the reference the type is unknown: an error naming the file.
        proc = self.run_compat("check", new, old, expect=2)
        self.assertIn("new.avsc", proc.stderr)
        self.assertIn("com.acme.Address", proc.stderr)
        proc = self.run_compat("check", "--reference", os.path.join(self.dir, "nope.avsc"), new, old, expect=2)
        self.assertIn("nope.avsc", proc.stderr)

    # -- schema types ------------------------------------------------------------

    def test_type_from_extension(self):
        proto = self.write("new.proto", 'syntax = "proto3";\nmessage M { int32 a = 1; }\n')
        proc = self.run_compat("check", proto, proto, expect=2)
        self.assertIn("PROTOBUF schemas are not supported yet", proc.stderr)
        js = self.write("new.json", '{"type": "object"}')
        proc = self.run_compat("check", js, js, expect=2)
        self.assertIn("JSON schemas are not supported yet", proc.stderr)
        txt = self.write("new.txt", json.dumps(V1))
        proc = self.run_compat("check", txt, txt, expect=2)
        self.assertIn("new.txt", proc.stderr)
        self.assertIn("--type", proc.stderr)
        self.run_compat("check", "--type", "avro", txt, txt, expect=0)
        self.run_compat("check", "--type", "AVRO", self.write("a.json", V2), self.write("b.json", V1), expect=0)
        proc = self.run_compat("check", "--type", "protobuf", txt, txt, expect=2)
        self.assertIn("PROTOBUF schemas are not supported yet", proc.stderr)

    def test_help(self):
        for args in (["--help"], ["check", "--help"], ["-h"]):
            proc = self.run_compat(*args, expect=0)
            for word in ("BACKWARD_TRANSITIVE", "FULL_TRANSITIVE", "--format", "junit", "--registry",
                         "Exit status", ".avsc"):
                self.assertIn(word, proc.stdout)

    # -- registry ------------------------------------------------------------------

    def start_registry(self, subjects, level="BACKWARD"):
        """The shared registry with `subjects` (name -> versions, oldest
        first) registered under names unique to this test, each at `level`
        (compatibility NONE while registering). Returns (url, name map)."""
        url = Registry.start()
        names = {}
        for subject, versions in subjects.items():
            name = "%s-%s" % (self.id().rsplit(".", 1)[-1], subject)
            names[subject] = name
            Registry.set_level(url, name, "NONE")
            for entry in versions:
                if isinstance(entry, dict) and "references" in entry and "schema" in entry:
                    refs = [dict(r, subject=names[r["subject"]]) for r in entry["references"]]
                    Registry.register(url, name, entry["schema"], refs)
                else:
                    Registry.register(url, name, entry)
            Registry.set_level(url, name, level)
        return url, names

    def test_registry_uses_the_subject_level(self):
        url, names = self.start_registry({"users-value": [V1, V2]}, level="BACKWARD_TRANSITIVE")
        new = self.write("new.avsc", V3)
        proc = self.run_compat("check", "--registry", url, "--subject", names["users-value"],
                               "--format", "json", new, expect=1)
        doc = json.loads(proc.stdout)
        self.assertEqual(doc["level"], "BACKWARD_TRANSITIVE")
        self.assertEqual([f["rule"] for f in doc["findings"]], ["READER_FIELD_MISSING_DEFAULT_VALUE"])
        self.assertEqual(doc["findings"][0]["version"], 1)

    def test_registry_level_option_wins(self):
        url, names = self.start_registry({"users-value": [V1, V2]}, level="BACKWARD_TRANSITIVE")
        new = self.write("new.avsc", V3)
        # BACKWARD compares with the latest version only, which V3 can read.
        self.run_compat("check", "--registry", url + "/", "--subject", names["users-value"],
                        "--level", "BACKWARD", new, expect=0)

    def test_registry_new_subject_is_compatible(self):
        url, _ = self.start_registry({})
        self.run_compat("check", "--registry", url, "--subject", "new-subject",
                        self.write("new.avsc", V1), expect=0)

    def test_registry_unreachable(self):
        # A port nothing listens on: bind one, note it, close it.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % sock.getsockname()[1]
        sock.close()
        proc = self.run_compat("check", "--registry", url, "--subject", "s", self.write("new.avsc", V1), expect=2)
        self.assertIn("registry", proc.stderr)

    def test_registry_follows_references(self):
        address_v1 = record("Address", [field("zip", "int")], namespace="com.acme")
        address_v2 = record("Address", [field("zip", "string")], namespace="com.acme")
        user = record("User", [field("home", "com.acme.Address")])
        url, names = self.start_registry({
            "address": [address_v1, address_v2],
            "users-value": [{"schema": user, "references": [
                {"name": "com.acme.Address", "subject": "address", "version": 1}]}],
        })
        new = self.write("user.avsc", user)
        ref = self.write("address.avsc", address_v2)
        proc = self.run_compat("check", "--registry", url, "--subject", names["users-value"],
                               "--reference", ref, "--format", "json", new, expect=1)
        doc = json.loads(proc.stdout)
        self.assertEqual([(f["rule"], f["path"]) for f in doc["findings"]], [("TYPE_MISMATCH", "User.home.zip")])

    def test_registry_needs_subject_and_one_file(self):
        new = self.write("new.avsc", V1)
        self.run_compat("check", "--registry", "http://127.0.0.1:9", new, expect=2)
        self.run_compat("check", "--registry", "http://127.0.0.1:9", "--subject", "s", new, new, expect=2)


if __name__ == "__main__":
    unittest.main()
