# Strand: the one build. See README.md for the two commands that matter:
#   make run     build everything and start broker (+ registry) on ./data
#   make check   the whole test suite, under AddressSanitizer + UBSan
# Other targets: all (default), deps, unit, e2e, fuzz, bench, format, clean,
# install (PREFIX=/usr/local, DESTDIR=: libstrand-serde's headers, static and
# shared libraries and strand-serde.pc, and the strand-serde CLI).
#
# SANITIZE=address,undefined builds into build/sanitize/ instead of bin/ and
# lib/, so a sanitized test build never overwrites the release binaries.

CC ?= cc
PYTHON := /usr/bin/python3
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Wstrict-prototypes -fno-strict-aliasing -pthread -Iserde -Iserde/include -Icompat -Iregistry -Ibroker \
	-MMD -MP
LDLIBS_BASE := -lmicrohttpd -lrdkafka -lcurl -lsqlite3 -ljansson -lavro -lz -lsnappy -llz4 -lzstd -lpthread -lm

ifdef SANITIZE
OUT := build/sanitize
BINDIR := $(OUT)/bin
LIBDIR := $(OUT)/lib
OPT := -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN := -fsanitize=$(SANITIZE)
else
OUT := build/release
BINDIR := bin
LIBDIR := lib
OPT := -O2
LDSAN :=
endif
OBJDIR := $(OUT)/obj
CFLAGS := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := $(LDSAN) -pthread $(EXTRA_LDFLAGS)

SERDE_SRCS := $(sort $(wildcard serde/base/*.c serde/avro/*.c serde/wire/*.c serde/client/*.c serde/core/*.c))
SERDE_OBJS := $(SERDE_SRCS:%.c=$(OUT)/pic/%.o)
# compat/strand_compat.c is the CLI's main; the rest is libstrand-compat.
COMPAT_SRCS := $(sort $(filter-out compat/strand_compat.c,$(wildcard compat/*.c)))
# registry/main.c is strand-registry's main; the rest is libstrand-registry.
REGISTRY_SRCS := $(sort $(filter-out registry/main.c,$(wildcard registry/*.c)))
BROKER_SRCS := $(sort $(filter-out broker/main.c,$(wildcard broker/*.c broker/*/*.c)))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRCS := $(sort $(wildcard tests/bench/*.c))

SERDE_LIB := $(LIBDIR)/libstrand-serde.a
# The shared library: libstrand-serde.so.$(SERDE_VERSION) with the soname
# libstrand-serde.so.$(SERDE_SOVERSION) and a libstrand-serde.so symlink for
# the linker. It exports the public API (strand_*) only.
SERDE_VERSION := 0.1.0
SERDE_SOVERSION := 0
SERDE_SONAME := libstrand-serde.so.$(SERDE_SOVERSION)
SERDE_SHARED := $(LIBDIR)/libstrand-serde.so
SERDE_SHARED_REAL := $(LIBDIR)/libstrand-serde.so.$(SERDE_VERSION)
SERDE_HEADERS := $(sort $(wildcard serde/include/strand/*.h))
# serde/cli/ is the strand-serde command; serde/examples/ are librdkafka
# programs using the library, one program per file.
SERDE_CLI_SRCS := $(sort $(wildcard serde/cli/*.c))
STRAND_SERDE := $(if $(SERDE_CLI_SRCS),$(BINDIR)/strand-serde)
EXAMPLE_SRCS := $(sort $(wildcard serde/examples/*.c))
EXAMPLE_BINS := $(patsubst serde/examples/%.c,$(OUT)/examples/%,$(EXAMPLE_SRCS))
COMPAT_LIB := $(LIBDIR)/libstrand-compat.a
STRAND_COMPAT := $(if $(wildcard compat/strand_compat.c),$(BINDIR)/strand-compat)
REGISTRY_LIB := $(LIBDIR)/libstrand-registry.a
STRAND_REGISTRY := $(if $(wildcard registry/main.c),$(BINDIR)/strand-registry)
BROKER_LIB := $(LIBDIR)/libstrand-broker.a
STRAND := $(BINDIR)/strand
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))

CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

.PHONY: all deps run check unit e2e build-tests fuzz bench format clean install
all: $(STRAND) $(STRAND_COMPAT) $(STRAND_REGISTRY) $(SERDE_LIB) $(SERDE_SHARED) $(STRAND_SERDE) \
	$(EXAMPLE_BINS) $(COMPAT_LIB) $(REGISTRY_LIB) $(BROKER_LIB)

deps:
	@sh scripts/deps.sh

# Starts the broker on the default ports with its data under the checkout.
run: deps
	@$(MAKE) --no-print-directory all
	$(STRAND) --log.dirs=data

build-tests: $(STRAND) $(STRAND_COMPAT) $(STRAND_REGISTRY) $(UNIT_BINS) $(SERDE_LIB) $(SERDE_SHARED) \
	$(STRAND_SERDE) $(EXAMPLE_BINS)

check: deps
	@sh scripts/deps.sh --tests
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build-tests
	@$(PYTHON) tests/run_all.py --out build/sanitize

unit:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build-tests
	@$(PYTHON) tests/run_all.py --out build/sanitize --only unit

e2e:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build-tests
	@$(PYTHON) tests/run_all.py --out build/sanitize --only e2e

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(SERDE_LIB): $(SERDE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The library's objects are position-independent (in a directory of their
# own, so objects built before without -fPIC are never reused), and one set
# serves both the archive and the shared library.
$(OUT)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(OUT)/strand-serde.map:
	@mkdir -p $(dir $@)
	printf '{\n  global: strand_*;\n  local: *;\n};\n' > $@

$(SERDE_SHARED_REAL): $(SERDE_OBJS) $(OUT)/strand-serde.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SERDE_SONAME) -Wl,--version-script=$(OUT)/strand-serde.map \
		-Wl,--no-undefined -o $@ $(SERDE_OBJS) -lcurl -ljansson -lavro -lpthread -lm

$(SERDE_SHARED): $(SERDE_SHARED_REAL)
	ln -sf $(notdir $<) $(LIBDIR)/$(SERDE_SONAME)
	ln -sf $(notdir $<) $@

$(BINDIR)/strand-serde: $(SERDE_CLI_SRCS:%.c=$(OBJDIR)/%.o) $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(OUT)/examples/%: $(OBJDIR)/serde/examples/%.o $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

# make install [PREFIX=/usr/local] [DESTDIR=]: the serde library for
# applications (headers under include/strand/, the static and shared
# libraries, pkg-config's strand-serde.pc) and the strand-serde command.
PREFIX ?= /usr/local
INSTALL_LIBDIR := $(PREFIX)/lib
INSTALL_INCLUDEDIR := $(PREFIX)/include
install: $(SERDE_LIB) $(SERDE_SHARED) $(STRAND_SERDE)
	install -d $(DESTDIR)$(INSTALL_INCLUDEDIR)/strand $(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(SERDE_HEADERS) $(DESTDIR)$(INSTALL_INCLUDEDIR)/strand/
	install -m 644 $(SERDE_LIB) $(DESTDIR)$(INSTALL_LIBDIR)/
	install -m 755 $(SERDE_SHARED_REAL) $(DESTDIR)$(INSTALL_LIBDIR)/
	ln -sf $(notdir $(SERDE_SHARED_REAL)) $(DESTDIR)$(INSTALL_LIBDIR)/$(SERDE_SONAME)
	ln -sf $(notdir $(SERDE_SHARED_REAL)) $(DESTDIR)$(INSTALL_LIBDIR)/libstrand-serde.so
	$(if $(STRAND_SERDE),install -m 755 $(STRAND_SERDE) $(DESTDIR)$(PREFIX)/bin/)
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
		'Name: strand-serde' \
		'Description: Confluent wire-format serializers and deserializers with a schema registry client' \
		'Version: $(SERDE_VERSION)' \
		'Requires: jansson avro-c' \
		'Requires.private: libcurl' \
		'Cflags: -I$${includedir}' \
		'Libs: -L$${libdir} -lstrand-serde' \
		'Libs.private: -lpthread -lm' > $(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig/strand-serde.pc

$(COMPAT_LIB): $(COMPAT_SRCS:%.c=$(OBJDIR)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BINDIR)/strand-compat: $(OBJDIR)/compat/strand_compat.o $(COMPAT_LIB) $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(REGISTRY_LIB): $(REGISTRY_SRCS:%.c=$(OBJDIR)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BINDIR)/strand-registry: $(OBJDIR)/registry/main.o $(REGISTRY_LIB) $(COMPAT_LIB) $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(BROKER_LIB): $(BROKER_SRCS:%.c=$(OBJDIR)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(STRAND): $(OBJDIR)/broker/main.o $(BROKER_LIB) $(REGISTRY_LIB) $(COMPAT_LIB) $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(OUT)/tests/%: $(OBJDIR)/tests/unit/%.o $(BROKER_LIB) $(REGISTRY_LIB) $(COMPAT_LIB) $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_BASE)

# Kafka protocol codecs are generated from the message specs kept in
# broker/protocol/specs/; the generated C is committed.
broker/protocol/kp_messages.c broker/protocol/kp_messages.h &: broker/protocol/gen_codecs.py $(wildcard broker/protocol/specs/*.json)
	$(PYTHON) broker/protocol/gen_codecs.py broker/protocol/specs broker/protocol

# Fuzz targets: libFuzzer via clang, each run briefly from its seed corpus.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
# The libraries are compiled once with clang's fuzzing instrumentation into
# one archive; each target links only the objects it needs from it (a target
# that needs a registry defines a stand-in of its own).
FUZZ_LIB_SRCS := $(SERDE_SRCS) $(COMPAT_SRCS) $(REGISTRY_SRCS) $(BROKER_SRCS)
FUZZ_CFLAGS := $(CFLAGS_BASE) -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB := build/fuzz/libstrand-fuzz.a
FUZZ_SECONDS ?= 20
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_LIB): $(FUZZ_LIB_SRCS:%.c=build/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^
build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_BASE)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		name=$$(basename $$f); mkdir -p build/fuzz/corpus/$$name; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

$(OUT)/bench/%: $(OBJDIR)/tests/bench/%.o $(BROKER_LIB) $(REGISTRY_LIB) $(COMPAT_LIB) $(SERDE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@$(PYTHON) tests/bench/run_bench.py --bin $(BINDIR) --bench $(OUT)/bench

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v kp_messages)

clean:
	rm -rf build bin lib

-include $(shell find build -name '*.d' 2>/dev/null)
