"""`make install` of libstrand-serde, then a program built only from what
was installed, the way an application would: `pkg-config --cflags --libs
strand-serde` with PKG_CONFIG_PATH pointing at the install. The program
registers a schema with the registry client, encodes a value with the Avro
codec and frames it; it is linked once against the shared library (run with
LD_LIBRARY_PATH) and once against the static one.

The install comes from the build the tests run against: build/sanitize
(SANITIZE=address,undefined, as `make check` builds) when STRAND_BIN is
there, else the release build; the program is compiled with the same
sanitizers."""

import os
import shutil
import subprocess
import tempfile
import unittest

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strand/avro.h>
#include <strand/avro_value.h>
#include <strand/registry_client.h>
#include <strand/wire.h>

static const char SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"Point\",\"fields\":"
    "[{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"label\",\"type\":\"string\"}]}";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: installed REGISTRY_URL\n");
        return 2;
    }
    const char *keys[] = {"schema.registry.url"};
    const char *values[] = {argv[1]};
    strand_registry_client_t *client = NULL;
    strand_registry_error_t rerr;
    if (strand_registry_client_new(keys, values, 1, &client, &rerr) != 0) {
        fprintf(stderr, "client: %s\n", rerr.message);
        return 1;
    }
    strand_registry_schema_input_t input = {"AVRO", SCHEMA, strlen(SCHEMA), NULL, 0};
    const strand_registry_schema_t *registered = NULL;
    if (strand_registry_register(client, "points-value", &input, 0, &registered, &rerr) != 0) {
        fprintf(stderr, "register: %s\n", rerr.message);
        return 1;
    }
    strand_avro_schema_t *schema = NULL;
    strand_avro_codec_t *codec = NULL;
    strand_avro_error_t aerr;
    if (strand_avro_schema_parse(SCHEMA, strlen(SCHEMA), &schema, &aerr) != 0 ||
        strand_avro_codec_new(schema, &codec, &aerr) != 0) {
        fprintf(stderr, "schema: %s\n", aerr.message);
        return 1;
    }
    const char value[] = "{\"x\": 7, \"label\": \"seven\"}";
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    if (strand_avro_encode_json_text(codec, value, strlen(value), 0, &payload, &payload_len, &aerr) != 0) {
        fprintf(stderr, "encode: %s\n", aerr.message);
        return 1;
    }
    uint8_t prefix[STRAND_WIRE_PREFIX_MAX];
    int n = strand_wire_encode_id(registered->id, NULL, 0, prefix, sizeof prefix, NULL);
    if (n < 0)
        return 1;
    printf("id %d:", (int)registered->id);
    for (int i = 0; i < n; i++)
        printf(" %02x", prefix[i]);
    for (size_t i = 0; i < payload_len; i++)
        printf(" %02x", payload[i]);
    printf("\n");
    strand_avro_free(payload);
    strand_avro_codec_free(codec);
    strand_avro_schema_free(schema);
    strand_registry_schema_release(registered);
    strand_registry_client_free(client);
    return 0;
}
"""

# 0, id 1, then the Avro record: zig-zag 7 = 0e, "seven" = 0a 73 65 76 65 6e.
EXPECTED = "id 1: 00 00 00 00 01 0e 0a 73 65 76 65 6e"

TIMEOUT = 300


def build_settings():
    """(make arguments, compiler flags) matching the build under test."""
    strand = harness.strand_binary()
    if os.path.normpath(strand).endswith(os.path.join("build", "sanitize", "bin", "strand")):
        return ["SANITIZE=address,undefined"], ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    return [], []


@unittest.skipIf(shutil.which("pkg-config") is None or shutil.which("make") is None, "pkg-config or make missing")
class InstallTest(harness.BrokerTestCase):
    broker_props = {"schema.registry.listeners": "http://127.0.0.1:0"}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strand-serde-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.make_args, self.cflags = build_settings()

    def make_install(self, **variables):
        cmd = ["make", "--no-print-directory", "-s", "install"] + self.make_args
        cmd += ["%s=%s" % kv for kv in variables.items()]
        # Under `make check` the parent make's flags and variables are in the
        # environment; this make must see only its own.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZE")}
        proc = harness.run_process(cmd, TIMEOUT, cwd=harness.REPO_ROOT, env=env)
        self.assertEqual(proc.returncode, 0, "make install failed:\n%s" % proc.stderr.decode(errors="replace"))

    def pkg_config(self, prefix, *args):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        proc = subprocess.run(["pkg-config"] + list(args) + ["strand-serde"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        return proc.stdout.decode().split()

    def compile(self, argv):
        proc = harness.run_process(argv, TIMEOUT, cwd=self.tmp)
        self.assertEqual(proc.returncode, 0, "%s\n%s" % (" ".join(argv), proc.stderr.decode(errors="replace")))

    def run_program(self, path, url, env):
        proc = harness.run_process([path, url], 60, env=harness.sanitizer_env(env))
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        self.assertEqual(proc.stdout.decode().strip(), EXPECTED)

    def test_destdir_staging(self):
        stage = os.path.join(self.tmp, "stage")
        self.make_install(DESTDIR=stage, PREFIX="/opt/strand")
        root = os.path.join(stage, "opt", "strand")
        for rel in ("include/strand/wire.h", "include/strand/avro.h", "include/strand/avro_value.h",
                    "include/strand/registry_client.h", "lib/libstrand-serde.a", "lib/libstrand-serde.so",
                    "lib/pkgconfig/strand-serde.pc"):
            self.assertTrue(os.path.exists(os.path.join(root, rel)), rel)
        so = os.path.realpath(os.path.join(root, "lib", "libstrand-serde.so"))
        self.assertTrue(so.startswith(os.path.join(root, "lib") + os.sep), so)
        with open(os.path.join(root, "lib", "pkgconfig", "strand-serde.pc")) as f:
            pc = f.read()
        # The .pc names the final prefix, not the staging directory.
        self.assertIn("prefix=/opt/strand\n", pc)
        self.assertNotIn(stage, pc)
        for word in ("libcurl", "jansson", "avro-c"):
            self.assertIn(word, pc)
        # Only the public API is exported by the shared library.
        proc = subprocess.run(["nm", "-D", "--defined-only", so], stdout=subprocess.PIPE, timeout=30)
        names = [line.split()[-1] for line in proc.stdout.decode().splitlines() if line.strip()]
        self.assertTrue(names)
        self.assertEqual([n for n in names if not n.startswith("strand_")], [])

    def test_program_built_with_pkg_config(self):
        broker = self.start_broker()
        prefix = os.path.join(self.tmp, "prefix")
        self.make_install(PREFIX=prefix)
        source = os.path.join(self.tmp, "installed.c")
        with open(source, "w") as f:
            f.write(PROGRAM)
        cflags = self.pkg_config(prefix, "--cflags")
        libs = self.pkg_config(prefix, "--libs")
        self.assertIn("-I" + os.path.join(prefix, "include"), cflags)
        self.assertIn("-lstrand-serde", libs)

        # Shared: found through LD_LIBRARY_PATH at run time.
        shared = os.path.join(self.tmp, "installed-shared")
        self.compile(["cc", "-std=c11", "-Wall", "-Werror"] + self.cflags + cflags + [source, "-o", shared] + libs)
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib"))
        self.run_program(shared, broker.registry_url, env)
        ldd = subprocess.run(["ldd", shared], env=env, stdout=subprocess.PIPE, timeout=30).stdout.decode()
        self.assertIn(os.path.join(prefix, "lib", "libstrand-serde.so.0"), ldd)

        # Static: the archive, its private requirement libcurl linked as a
        # shared library (`--static` would ask for curl's own static
        # dependencies, which Debian installs no linker names for).
        static_libs = self.pkg_config(prefix, "--libs") + ["-lcurl", "-lpthread", "-lm"]
        static_libs = [w if w != "-lstrand-serde" else "-l:libstrand-serde.a" for w in static_libs]
        static = os.path.join(self.tmp, "installed-static")
        self.compile(["cc", "-std=c11", "-Wall", "-Werror"] + self.cflags + cflags + [source, "-o", static]
                     + static_libs)
        ldd = subprocess.run(["ldd", static], stdout=subprocess.PIPE, timeout=30).stdout.decode()
        self.assertNotIn("libstrand-serde", ldd)
        self.run_program(static, broker.registry_url, dict(os.environ))


if __name__ == "__main__":
    unittest.main()
