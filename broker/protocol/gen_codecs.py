#!/usr/bin/env python3
"""Generates the Kafka protocol codecs (kp_messages.h / kp_messages.c) from
Apache Kafka's JSON message specs.

Usage: gen_codecs.py SPEC_DIR OUT_DIR

Every *Request.json / *Response.json in SPEC_DIR becomes a C struct per
message and per nested struct, an init function (spec defaults), and
decode/encode functions covering every valid version, flexible versions
(compact strings, bytes and arrays, tagged fields) included. Header specs are
not generated: the headers are hand-written in kp_types.c, and this script
only checks that RequestHeader.json / ResponseHeader.json still describe what
that code implements. Output is deterministic (sorted input, no timestamps).
Python 3 standard library only.
"""

import json
import os
import re
import sys

C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true", "false",
}

# type -> (C type, wire size or None when variable, read call, write call)
PRIMITIVES = {
    "int8": ("int8_t", 1, "sd_read_i8({r}, &{v})", "sd_write_i8(&o->w, {v})"),
    "int16": ("int16_t", 2, "sd_read_i16({r}, &{v})", "sd_write_i16(&o->w, {v})"),
    "uint16": ("uint16_t", 2, "sd_read_u16({r}, &{v})", "sd_write_i16(&o->w, (int16_t){v})"),
    "int32": ("int32_t", 4, "sd_read_i32({r}, &{v})", "sd_write_i32(&o->w, {v})"),
    "uint32": ("uint32_t", 4, "sd_read_u32({r}, &{v})", "sd_write_u32(&o->w, {v})"),
    "int64": ("int64_t", 8, "sd_read_i64({r}, &{v})", "sd_write_i64(&o->w, {v})"),
    "float64": ("double", 8, "sd_read_f64({r}, &{v})", "sd_write_f64(&o->w, {v})"),
    "bool": ("bool", 1, "kp__read_bool({r}, &{v})", "kp__write_bool(o, {v})"),
    "uuid": ("kp_uuid_t", 16, "kp__read_uuid({r}, &{v})", "kp__write_uuid(o, &{v})"),
}
# Variable-length types: C type, width of the non-compact length prefix.
VARIABLE = {
    "string": ("kp_str_t", 2),
    "bytes": ("kp_bytes_t", 4),
    "records": ("kp_records_t", 4),
}


class SpecError(Exception):
    pass


def strip_comments(text):
    """Drops whole `//` comment lines and trailing `// ...` outside strings."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("//"):
            continue
        in_string = False
        escaped = False
        cut = len(line)
        for i, ch in enumerate(line):
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "/" and line[i + 1:i + 2] == "/":
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = s.lower()
    return s + "_" if s in C_KEYWORDS else s


class Versions:
    """A spec version range: "none", "N", "N+" or "N-M"; hi None = open."""

    def __init__(self, text):
        text = text.strip()
        self.text = text
        if text == "none":
            self.lo, self.hi = None, None
            self.empty = True
            return
        self.empty = False
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SpecError("bad version range %r" % text)
        self.lo = int(m.group(1))
        if m.group(2) == "+":
            self.hi = None
        elif m.group(3) is not None:
            self.hi = int(m.group(3))
        else:
            self.hi = self.lo

    def contains(self, v):
        return not self.empty and v >= self.lo and (self.hi is None or v <= self.hi)

    def cond(self, valid):
        """C condition on `version` for this range, given version is in valid."""
        lo, hi = valid
        members = [v for v in range(lo, hi + 1) if self.contains(v)]
        if not members:
            return "0"
        if len(members) == hi - lo + 1:
            return "1"
        parts = []
        if members[0] > lo:
            parts.append("version >= %d" % members[0])
        if members[-1] < hi:
            parts.append("version <= %d" % members[-1])
        if len(members) != members[-1] - members[0] + 1:
            raise SpecError("non-contiguous range %s" % self.text)
        return " && ".join(parts)


def cond_over(members, domain, what):
    """C condition on `version` that is true for the versions in members,
    in code that only runs for the versions in domain (both sorted)."""
    if not members:
        return "0"
    if members == domain:
        return "1"
    if members != [v for v in domain if members[0] <= v <= members[-1]]:
        raise SpecError("%s: version ranges that are not contiguous" % what)
    parts = []
    if members[0] > domain[0]:
        parts.append("version >= %d" % members[0])
    if members[-1] < domain[-1]:
        parts.append("version <= %d" % members[-1])
    return " && ".join(parts)


def and_cond(a, b):
    if a == "0" or b == "0":
        return "0"
    if a == "1":
        return b
    if b == "1":
        return a
    return "%s && %s" % (a, b)


def wrap_if(cond, lines, indent):
    """Lines guarded by cond (C expression, "1" or "0") at the given indent."""
    if cond == "0":
        return []
    pad = " " * indent
    if cond == "1":
        return [pad + l if l else l for l in lines]
    out = [pad + "if (%s) {" % cond]
    out += [pad + "    " + l if l else l for l in lines]
    out.append(pad + "}")
    return out


def c_comment(text):
    return text.replace("*/", "* /")


class Field:
    def __init__(self, spec, message):
        self.spec = spec
        self.name = spec["name"]
        self.member = snake(self.name)
        t = spec["type"]
        self.is_array = t.startswith("[]")
        self.base = t[2:] if self.is_array else t
        self.versions = Versions(spec.get("versions", "none"))
        self.nullable = Versions(spec.get("nullableVersions", "none"))
        self.tag = spec.get("tag")
        self.tagged = Versions(spec.get("taggedVersions", "none"))
        if (self.tag is None) != self.tagged.empty:
            raise SpecError("%s.%s: tag and taggedVersions go together" % (message.name, self.name))
        self.flexible = Versions(spec["flexibleVersions"]) if "flexibleVersions" in spec else None
        self.default = spec.get("default")
        self.about = spec.get("about", "")
        self.struct = None  # Struct for struct-typed fields
        if self.base in PRIMITIVES or self.base in VARIABLE:
            self.kind = "primitive" if self.base in PRIMITIVES else "variable"
        elif self.base[:1].isupper():
            self.kind = "struct"
        else:
            raise SpecError("%s.%s: unknown type %s" % (message.name, self.name, t))
        if self.kind == "struct" and not self.is_array and not self.nullable.empty:
            raise SpecError("%s.%s: nullable struct fields are not supported" % (message.name, self.name))
        if self.kind == "primitive" and not self.is_array and not self.nullable.empty:
            raise SpecError("%s.%s: nullable %s" % (message.name, self.name, self.base))

    def null_default(self):
        return self.default == "null"


class Struct:
    def __init__(self, name, cname, fields_spec, message):
        self.name = name
        self.cname = cname  # without kp_ prefix and _t suffix
        self.message = message
        self.fields = [Field(f, message) for f in fields_spec]
        seen = set()
        for f in self.fields:
            for m in (f.member, f.member + "_count"):
                if m in seen:
                    raise SpecError("%s: member %s defined twice" % (name, m))
            seen.add(f.member)
            if f.is_array:
                seen.add(f.member + "_count")
        tags = [f.tag for f in self.fields if f.tag is not None]
        if len(tags) != len(set(tags)):
            raise SpecError("%s: duplicate tag" % name)
        self.is_top = False
        self.needs_min_size = False
        self.needs_is_default = False

    @property
    def type(self):
        return "kp_%s_t" % self.cname


class Message:
    def __init__(self, spec, filename):
        self.name = spec["name"]
        self.kind = spec["type"]
        self.api_key = spec["apiKey"]
        self.valid = Versions(spec["validVersions"])
        if self.valid.empty or self.valid.hi is None:
            raise SpecError("%s: validVersions must be a closed range" % self.name)
        self.valid_range = (self.valid.lo, self.valid.hi)
        self.flexible = Versions(spec["flexibleVersions"])
        self.snake = snake(self.name)
        self.filename = filename
        self.structs = {}  # spec name -> Struct
        self.order = []  # structs, children before parents
        common = {}
        for cs in spec.get("commonStructs", []):
            common[cs["name"]] = cs
        self.common_specs = common
        self.top = Struct(self.name, self.snake, spec.get("fields", []), self)
        self.top.is_top = True
        self.resolve(self.top)
        self.order.append(self.top)

    def resolve(self, struct):
        for f in struct.fields:
            if f.kind != "struct":
                continue
            if "fields" in f.spec:
                if f.base in self.structs or f.base in self.common_specs:
                    raise SpecError("%s: struct %s defined twice" % (self.name, f.base))
                s = Struct(f.base, "%s_%s" % (self.snake, snake(f.base).rstrip("_")), f.spec["fields"], self)
                self.structs[f.base] = s
                self.resolve(s)
                self.order.append(s)
            elif f.base in self.structs:
                s = self.structs[f.base]
            elif f.base in self.common_specs:
                cs = self.common_specs[f.base]
                s = Struct(f.base, "%s_%s" % (self.snake, snake(f.base).rstrip("_")), cs["fields"], self)
                self.structs[f.base] = s
                self.resolve(s)
                self.order.append(s)
            else:
                raise SpecError("%s: unknown struct type %s" % (self.name, f.base))
            f.struct = s

    def flex_cond(self):
        return self.flexible.cond(self.valid_range)


def parse_int(text, field):
    try:
        return int(str(text), 0)
    except ValueError:
        raise SpecError("%s: bad default %r" % (field.name, text))


def c_int_literal(ctype, value):
    limits = {
        "int8_t": (-(1 << 7), (1 << 7) - 1, "INT8"),
        "int16_t": (-(1 << 15), (1 << 15) - 1, "INT16"),
        "int32_t": (-(1 << 31), (1 << 31) - 1, "INT32"),
        "int64_t": (-(1 << 63), (1 << 63) - 1, "INT64"),
        "uint16_t": (0, (1 << 16) - 1, "UINT16"),
        "uint32_t": (0, (1 << 32) - 1, "UINT32"),
    }
    lo, hi, name = limits[ctype]
    if value < lo or value > hi:
        raise SpecError("default %d out of range for %s" % (value, ctype))
    if value == lo and lo < 0:
        return "%s_MIN" % name
    if value == hi:
        return "%s_MAX" % name
    if ctype == "int64_t":
        return "INT64_C(%d)" % value
    if ctype == "uint32_t":
        return "%dU" % value
    return "%d" % value


def c_string_literal(s):
    out = '"'
    for ch in s:
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            for b in ch.encode("utf-8"):
                out += "\\%03o" % b
    return out + '"'


class Generator:
    def __init__(self, messages):
        self.messages = messages

    # -- types ---------------------------------------------------------------

    def member_type(self, f):
        if f.kind == "struct":
            return f.struct.type
        if f.kind == "primitive":
            return PRIMITIVES[f.base][0]
        return VARIABLE[f.base][0]

    def field_doc(self, f):
        bits = ["v" + f.versions.text]
        if not f.nullable.empty:
            bits.append("nullable v" + f.nullable.text)
        if f.tag is not None:
            bits.append("tag %d v%s" % (f.tag, f.tagged.text))
        if f.default is not None:
            bits.append("default %s" % f.default)
        doc = ", ".join(bits)
        if f.about:
            doc += ": " + f.about
        return c_comment(doc)

    def struct_decl(self, s):
        out = []
        if s.is_top:
            out.append("/* %s (api key %d), versions %s, flexible %s. */" %
                       (s.name, s.message.api_key, s.message.valid.text, s.message.flexible.text))
        out.append("typedef struct kp_%s {" % s.cname)
        if not s.fields:
            out.append("    char unused_; /* no fields */")
        for f in s.fields:
            out.append("    /* %s */" % self.field_doc(f))
            t = self.member_type(f)
            if f.is_array:
                out.append("    %s *%s;" % (t, f.member))
                out.append("    int32_t %s_count; /* -1 = null */" % f.member)
            else:
                out.append("    %s %s;" % (t, f.member))
        out.append("} %s;" % s.type)
        return out

    # -- defaults ------------------------------------------------------------

    def default_assign(self, f, dst):
        """Lines setting dst (an lvalue) to f's default; [] when zero is right."""
        if f.is_array:
            return ["%s_count = -1;" % dst] if f.null_default() else []
        if f.kind == "struct":
            return ["kp_%s_init(&%s);" % (f.struct.cname, dst)]
        if f.base == "string":
            if f.null_default():
                if f.nullable.empty:
                    raise SpecError("%s: null default on a non-nullable string" % f.name)
                return ["%s = KP_STR_NULL;" % dst]
            text = "" if f.default is None else str(f.default)
            return ["%s = KP_STR(%s);" % (dst, c_string_literal(text))]
        if f.base in ("bytes", "records"):
            lines = []
            if f.null_default():
                lines.append("%s.len = -1;" % dst)
            elif f.default not in (None, ""):
                raise SpecError("%s: unsupported bytes default" % f.name)
            if f.base == "records":
                lines.append("%s.fd = -1;" % dst)
            return lines
        if f.base == "uuid":
            if f.default not in (None, "", "AAAAAAAAAAAAAAAAAAAAAA"):
                raise SpecError("%s: unsupported uuid default" % f.name)
            return []
        if f.base == "bool":
            if f.default is None or str(f.default) == "false":
                return []
            if str(f.default) == "true":
                return ["%s = true;" % dst]
            raise SpecError("%s: bad bool default" % f.name)
        if f.base == "float64":
            if f.default is None or float(f.default) == 0.0:
                return []
            return ["%s = %r;" % (dst, float(f.default))]
        if f.default is None:
            return []
        value = parse_int(f.default, f)
        if value == 0:
            return []
        return ["%s = %s;" % (dst, c_int_literal(PRIMITIVES[f.base][0], value))]

    def is_default_expr(self, f, v):
        """C expression true when v (an lvalue of f's type) holds f's default."""
        if f.is_array:
            return "%s_count == %d" % (v, -1 if f.null_default() else 0)
        if f.kind == "struct":
            return "%s_is_default(&%s)" % (f.struct.cname, v)
        if f.base == "string":
            if f.null_default():
                return "%s.len < 0" % v
            text = "" if f.default is None else str(f.default)
            lit = c_string_literal(text)
            return "kp__str_is(%s, %s, %d)" % (v, lit, len(text.encode("utf-8")))
        if f.base in ("bytes", "records"):
            return "%s.len == %d" % (v, -1 if f.null_default() else 0)
        if f.base == "uuid":
            return "kp__uuid_is_zero(&%s)" % v
        if f.base == "bool":
            return "%s == %s" % (v, "true" if str(f.default) == "true" else "false")
        if f.base == "float64":
            return "%s == %r" % (v, float(f.default or 0))
        value = parse_int(f.default if f.default is not None else 0, f)
        return "%s == %s" % (v, c_int_literal(PRIMITIVES[f.base][0], value))

    # -- conditions ----------------------------------------------------------

    def valid(self, s):
        return s.message.valid_range

    def versions_of(self, s):
        lo, hi = self.valid(s)
        return list(range(lo, hi + 1))

    def regular_versions(self, s, f):
        """Versions in which f is a regular (untagged) field."""
        return [v for v in self.versions_of(s)
                if f.versions.contains(v) and not (f.tag is not None and f.tagged.contains(v))]

    def tagged_versions(self, s, f):
        """Versions in which f is a tagged field."""
        if f.tag is None:
            return []
        return [v for v in self.versions_of(s)
                if f.versions.contains(v) and f.tagged.contains(v) and s.message.flexible.contains(v)]

    def regular(self, s, f):
        """Version condition for f as a regular field; the code runs for any valid version."""
        return cond_over(self.regular_versions(s, f), self.versions_of(s), f.name)

    def as_tag(self, s, f):
        """Version condition for f as a tagged field; the code runs only in
        flexible versions (tag sections exist only there)."""
        flexible = [v for v in self.versions_of(s) if s.message.flexible.contains(v)]
        return cond_over(self.tagged_versions(s, f), flexible, f.name)

    def compact(self, s, f, domain):
        """Compact-encoding condition for f, in code that runs for `domain`."""
        rng = f.flexible if f.flexible is not None else s.message.flexible
        return cond_over([v for v in domain if rng.contains(v)], domain, f.name)

    def nullable(self, s, f, domain):
        return cond_over([v for v in domain if f.nullable.contains(v)], domain, f.name)

    def min_size(self, s, v):
        """Smallest wire size of struct s at version v."""
        flexible = s.message.flexible.contains(v)
        total = 1 if flexible else 0
        for f in s.fields:
            if not f.versions.contains(v) or (f.tag is not None and f.tagged.contains(v)):
                continue
            fflex = f.flexible.contains(v) if f.flexible is not None else flexible
            if f.is_array:
                total += 1 if fflex else 4
            elif f.kind == "struct":
                total += self.min_size(f.struct, v)
            elif f.kind == "primitive":
                total += PRIMITIVES[f.base][1]
            else:
                total += 1 if fflex else VARIABLE[f.base][1]
        return total

    def elem_min_size(self, s, f, compact):
        if f.kind == "struct":
            lo = s.message.valid.lo
            return "%s_min_size[version%s]" % (f.struct.cname, " - %d" % lo if lo else "")
        if f.kind == "primitive":
            return "%d" % PRIMITIVES[f.base][1]
        wide = VARIABLE[f.base][1]
        if compact == "1":
            return "1"
        if compact == "0":
            return "%d" % wide
        return "((%s) ? 1 : %d)" % (compact, wide)

    # -- decode --------------------------------------------------------------

    def decode_value(self, s, f, rd, dst, compact, nullable):
        """Lines decoding one non-array value of f into lvalue dst."""
        if f.kind == "struct":
            return ["%s_decode(%s, version, arena, &%s);" % (f.struct.cname, rd, dst)]
        if f.kind == "primitive":
            return [PRIMITIVES[f.base][2].format(r=rd, v=dst) + ";"]
        return ["kp__read_%s(%s, %s, %s, &%s);" % (f.base, rd, compact, nullable, dst)]

    def decode_field(self, s, f, rd):
        dst = "m->" + f.member
        domain = self.tagged_versions(s, f) if rd != "r" else self.regular_versions(s, f)
        compact = self.compact(s, f, domain)
        nullable = self.nullable(s, f, domain)
        if not f.is_array:
            return self.decode_value(s, f, rd, dst, compact, nullable)
        if f.kind == "struct":
            f.struct.needs_min_size = True
        lines = ["%s = kp__read_array(%s, arena, %s, %s, %s, sizeof *%s, &%s_count);" %
                 (dst, rd, compact, nullable, self.elem_min_size(s, f, compact), dst, dst)]
        lines.append("for (int32_t i = 0; i < %s_count && !%s; i++)" % (dst, self.err_expr(rd)))
        lines += ["    " + l for l in self.decode_value(s, f, rd, dst + "[i]", compact, "0")]
        return lines

    def err_expr(self, rd):
        return rd[1:] + ".err" if rd.startswith("&") else rd + "->err"

    def decode_body(self, s):
        lines = []
        for f in s.fields:
            lines += wrap_if(self.regular(s, f), self.decode_field(s, f, "r"), 0)
        flex = s.message.flex_cond()
        tagged = [f for f in s.fields if self.as_tag(s, f) != "0"]
        tagged.sort(key=lambda f: f.tag)
        if not tagged:
            tag_lines = ["kp__skip_tagged_fields(r);"]
        else:
            tag_lines = [
                "uint32_t ntags = 0;",
                "sd_read_uvarint(r, &ntags);",
                "for (uint32_t t = 0; t < ntags && !r->err; t++) {",
                "    uint32_t tag;",
                "    sd_reader_t sub;",
                "    if (kp__read_tag(r, &tag, &sub))",
                "        break;",
                "    switch (tag) {",
            ]
            for f in tagged:
                body = wrap_if(self.as_tag(s, f), self.decode_field(s, f, "&sub") +
                               ["if (sub.err)", "    r->err = sub.err;"], 0)
                tag_lines.append("    case %d:" % f.tag)
                tag_lines += ["        " + l for l in body]
                tag_lines.append("        break;")
            tag_lines += [
                "    default:",
                "        break; /* unknown tag: skipped */",
                "    }",
                "}",
            ]
        lines += wrap_if(flex, tag_lines, 0)
        return lines

    # -- encode --------------------------------------------------------------

    def encode_value(self, s, f, src, compact, nullable):
        if f.kind == "struct":
            return ["%s_encode(o, version, &%s);" % (f.struct.cname, src)]
        if f.kind == "primitive":
            return [PRIMITIVES[f.base][3].format(v=src) + ";"]
        if f.base == "records":
            return ["kp__write_records(o, %s, %s, &%s);" % (compact, nullable, src)]
        return ["kp__write_%s(o, %s, %s, %s);" % (f.base, compact, nullable, src)]

    def encode_field(self, s, f, in_tag=False):
        src = "m->" + f.member
        domain = self.tagged_versions(s, f) if in_tag else self.regular_versions(s, f)
        compact = self.compact(s, f, domain)
        nullable = self.nullable(s, f, domain)
        if not f.is_array:
            return self.encode_value(s, f, src, compact, nullable)
        lines = ["if (kp__write_array_count(o, %s, %s, %s_count, %s))" % (compact, nullable, src, src)]
        lines.append("    for (int32_t i = 0; i < %s_count; i++)" % src)
        lines += ["        " + l for l in self.encode_value(s, f, src + "[i]", compact, "0")]
        return lines

    def encode_body(self, s):
        lines = []
        for f in s.fields:
            lines += wrap_if(self.regular(s, f), self.encode_field(s, f), 0)
        flex = s.message.flex_cond()
        tagged = [f for f in s.fields if self.as_tag(s, f) != "0"]
        tagged.sort(key=lambda f: f.tag)
        if not tagged:
            tag_lines = ["sd_write_uvarint(&o->w, 0);"]
        else:
            tag_lines = []
            for f in tagged:
                if self.contains_records(f):
                    raise SpecError("%s: records inside a tagged field" % f.name)
                if f.kind == "struct" and not f.is_array:
                    self.mark_is_default(f.struct)
                cond = and_cond(self.as_tag(s, f), "!(%s)" % self.is_default_expr(f, "m->" + f.member))
                tag_lines.append("bool tag%d = %s;" % (f.tag, cond))
            tag_lines.append("sd_write_uvarint(&o->w, (uint32_t)(%s));" %
                             " + ".join("tag%d" % f.tag for f in tagged))
            for f in tagged:
                tag_lines.append("if (tag%d) {" % f.tag)
                tag_lines.append("    size_t at = kp__tag_begin(o, %d);" % f.tag)
                tag_lines += ["    " + l for l in self.encode_field(s, f, True)]
                tag_lines.append("    kp__tag_end(o, at);")
                tag_lines.append("}")
        lines += wrap_if(flex, tag_lines, 0)
        return lines

    def contains_records(self, f):
        if f.base == "records":
            return True
        if f.kind == "struct":
            return any(self.contains_records(g) for g in f.struct.fields)
        return False

    def mark_is_default(self, s):
        if s.needs_is_default:
            return
        s.needs_is_default = True
        for f in s.fields:
            if f.kind == "struct" and not f.is_array:
                self.mark_is_default(f.struct)

    # -- functions -----------------------------------------------------------

    def func(self, proto, body, uses):
        """A function definition; silences unused version/arena parameters."""
        text = "\n".join(body)
        pre = []
        for name in uses:
            if not re.search(r"\b%s\b" % name, text):
                pre.append("    (void)%s;" % name)
        return [proto, "{"] + pre + ["    " + l if l else l for l in body] + ["}", ""]

    def struct_functions(self, s):
        out = []
        init = ["memset(m, 0, sizeof *m);"]
        for f in s.fields:
            init += self.default_assign(f, "m->" + f.member)
        out += self.func("void kp_%s_init(%s *m)" % (s.cname, s.type), init, [])

        lo, hi = self.valid(s)
        if s.is_top:
            dec = ["kp_%s_init(m);" % s.cname,
                   "if (r->err)",
                   "    return -1;",
                   "if (version < %d || version > %d) {" % (lo, hi),
                   "    r->err = SD_ERR_INVALID;",
                   "    return -1;",
                   "}"]
            dec += self.decode_body(s)
            dec.append("return r->err ? -1 : 0;")
            out += self.func("int kp_%s_decode(sd_reader_t *r, int16_t version, kp_arena_t *arena, %s *m)"
                             % (s.cname, s.type), dec, ["version", "arena"])
            enc = ["if (version < %d || version > %d) {" % (lo, hi),
                   "    if (!o->err)",
                   "        o->err = SD_ERR_INVALID;",
                   "    return;",
                   "}"]
            enc += self.encode_body(s)
            out += self.func("void kp_%s_encode(kp_out_t *o, int16_t version, const %s *m)"
                             % (s.cname, s.type), enc, ["version"])
        else:
            dec = ["kp_%s_init(m);" % s.cname] + self.decode_body(s)
            out += self.func("static void %s_decode(sd_reader_t *r, int16_t version, kp_arena_t *arena, %s *m)"
                             % (s.cname, s.type), dec, ["version", "arena"])
            out += self.func("static void %s_encode(kp_out_t *o, int16_t version, const %s *m)"
                             % (s.cname, s.type), self.encode_body(s), ["version"])
        return out

    def min_size_table(self, s):
        lo, hi = self.valid(s)
        sizes = [self.min_size(s, v) for v in range(lo, hi + 1)]
        if max(sizes) > 65535:
            raise SpecError("%s: minimum size too large" % s.name)
        return ["/* Smallest encoding of one %s, by version from %d. */" % (s.name, lo),
                "static const uint16_t %s_min_size[] = {%s};" % (s.cname, ", ".join(str(x) for x in sizes)),
                ""]

    def is_default_function(self, s):
        exprs = [self.is_default_expr(f, "m->" + f.member) for f in s.fields] or ["true"]
        body = ["return " + ("\n    && ".join(exprs)) + ";"]
        return self.func("static bool %s_is_default(const %s *m)" % (s.cname, s.type), body, [])

    # -- output --------------------------------------------------------------

    def generate(self):
        h = []
        c = []
        banner = [
            "/*",
            " * %s - Kafka protocol message codecs.",
            " *",
            " * GENERATED by broker/protocol/gen_codecs.py from the Apache Kafka message",
            " * specs in broker/protocol/specs/. Do not edit: change the generator or the",
            " * specs and run `make broker/protocol/kp_messages.c`.",
            " */",
        ]
        h += [l % "kp_messages.h" if "%s" in l else l for l in banner]
        h += [
            "#ifndef STRAND_KP_MESSAGES_H",
            "#define STRAND_KP_MESSAGES_H",
            "",
            "#include <stdbool.h>",
            "#include <stddef.h>",
            "#include <stdint.h>",
            "",
            '#include "base/bytes.h"',
            '#include "protocol/kp_types.h"',
            "",
            "/*",
            " * For every message: a struct (nested structs are kp_<message>_<struct>_t),",
            " *   void kp_<message>_init(m)     zero, then every field's spec default;",
            " *   int  kp_<message>_decode(r, version, arena, m)   0, or -1 with r->err set;",
            " *        strings/bytes/records borrow from r's buffer, arrays come from arena;",
            " *   void kp_<message>_encode(o, version, m)   fields absent in version are",
            " *        skipped; errors are sticky in o->w.err / o->err.",
            " * Arrays are (T *x, int32_t x_count) with x_count -1 for a null array.",
            " */",
            "",
        ]
        c += [l % "kp_messages.c" if "%s" in l else l for l in banner]
        c += [
            '#include "protocol/kp_messages.h"',
            "",
            "#include <string.h>",
            "",
            '#include "base/error.h"',
            "",
        ]

        # Functions first (they decide which tables and predicates are needed).
        bodies = {}
        for msg in self.messages:
            for s in msg.order:
                bodies[(msg.name, s.cname)] = self.struct_functions(s)

        for msg in self.messages:
            h.append("/* ---- %s (%s) ---- */" % (msg.name, msg.filename))
            h.append("")
            for s in msg.order:
                h += self.struct_decl(s)
                h.append("")
            for s in msg.order:
                h.append("void kp_%s_init(%s *m);" % (s.cname, s.type))
            t = msg.top
            h.append("int kp_%s_decode(sd_reader_t *r, int16_t version, kp_arena_t *arena, %s *m);" % (t.cname, t.type))
            h.append("void kp_%s_encode(kp_out_t *o, int16_t version, const %s *m);" % (t.cname, t.type))
            h.append("")

            c.append("/* ---- %s ---- */" % msg.name)
            c.append("")
            for s in msg.order:
                if s.needs_min_size:
                    c += self.min_size_table(s)
            for s in msg.order:
                if s.needs_is_default:
                    c += self.is_default_function(s)
            for s in msg.order:
                c += bodies[(msg.name, s.cname)]

        h += self.api_table_decls()
        c += self.api_table()
        h += ["#endif", ""]
        return "\n".join(h), "\n".join(c) + "\n"

    def api_pairs(self):
        requests = {m.api_key: m for m in self.messages if m.kind == "request"}
        responses = {m.api_key: m for m in self.messages if m.kind == "response"}
        if set(requests) != set(responses):
            raise SpecError("requests and responses do not pair up")
        return [(requests[k], responses[k]) for k in sorted(requests)]

    def api_table_decls(self):
        return [
            "/* The APIs generated here, by ascending api_key. */",
            "extern const kp_api_t kp_apis[];",
            "extern const size_t kp_apis_count;",
            "/* The table entry for api_key, or NULL. */",
            "const kp_api_t *kp_api_find(int16_t api_key);",
            "",
            "/* Generic forms over the table: the message struct for (api_key, version)",
            " * is allocated from arena (decode) or passed as msg (encode). Decoding",
            " * returns -1 with r->err = SD_ERR_INVALID for an unknown key or version;",
            " * encoding sets o->err. */",
            "int kp_request_decode_any(int16_t api_key, int16_t version, sd_reader_t *r, kp_arena_t *arena, void **out);",
            "int kp_response_decode_any(int16_t api_key, int16_t version, sd_reader_t *r, kp_arena_t *arena, void **out);",
            "void kp_request_encode_any(int16_t api_key, int16_t version, kp_out_t *o, const void *msg);",
            "void kp_response_encode_any(int16_t api_key, int16_t version, kp_out_t *o, const void *msg);",
            "/* The message struct for api_key from arena, initialised with the spec",
            " * defaults; NULL for an unknown key or when the arena refuses. */",
            "void *kp_request_alloc_any(int16_t api_key, kp_arena_t *arena);",
            "void *kp_response_alloc_any(int16_t api_key, kp_arena_t *arena);",
            "",
        ]

    def api_table(self):
        pairs = self.api_pairs()
        out = ["/* ---- API table ---- */", ""]
        out.append("const kp_api_t kp_apis[] = {")
        for req, resp in pairs:
            if req.valid.text != resp.valid.text:
                raise SpecError("%s: request and response versions differ" % req.name)
            if req.flexible.text != resp.flexible.text:
                raise SpecError("%s: request and response flexible versions differ" % req.name)
            if req.flexible.empty:
                flex_from = -1
            elif req.flexible.hi is None:
                flex_from = req.flexible.lo
            else:
                raise SpecError("%s: flexibleVersions must be N+ or none" % req.name)
            name = req.name[:-len("Request")]
            out.append('    {%d, "%s", %d, %d, %d},' % (req.api_key, name, req.valid.lo, req.valid.hi, flex_from))
        out.append("};")
        out.append("const size_t kp_apis_count = sizeof kp_apis / sizeof kp_apis[0];")
        out.append("")
        out += self.func("const kp_api_t *kp_api_find(int16_t api_key)", [
            "for (size_t i = 0; i < kp_apis_count; i++)",
            "    if (kp_apis[i].api_key == api_key)",
            "        return &kp_apis[i];",
            "return NULL;",
        ], [])

        out.append("typedef void (*any_init_fn)(void *m);")
        out.append("typedef int (*any_decode_fn)(sd_reader_t *r, int16_t version, kp_arena_t *arena, void *m);")
        out.append("typedef void (*any_encode_fn)(kp_out_t *o, int16_t version, const void *m);")
        out.append("")
        for pair in pairs:
            for m in pair:
                t = m.top
                out += self.func("static void any_init_%s(void *m)" % t.cname,
                                 ["kp_%s_init(m);" % t.cname], [])
                out += self.func("static int any_decode_%s(sd_reader_t *r, int16_t version, kp_arena_t *arena, void *m)" % t.cname,
                                 ["return kp_%s_decode(r, version, arena, m);" % t.cname], [])
                out += self.func("static void any_encode_%s(kp_out_t *o, int16_t version, const void *m)" % t.cname,
                                 ["kp_%s_encode(o, version, m);" % t.cname], [])
        out.append("typedef struct any_codec {")
        out.append("    int16_t api_key;")
        out.append("    size_t size;")
        out.append("    any_init_fn init;")
        out.append("    any_decode_fn decode;")
        out.append("    any_encode_fn encode;")
        out.append("} any_codec_t;")
        out.append("")
        for kind, idx in (("request", 0), ("response", 1)):
            out.append("static const any_codec_t %s_codecs[] = {" % kind)
            for pair in pairs:
                t = pair[idx].top
                out.append("    {%d, sizeof(%s), any_init_%s, any_decode_%s, any_encode_%s}," % (pair[idx].api_key, t.type, t.cname, t.cname, t.cname))
            out.append("};")
            out.append("")
        out += self.func("static const any_codec_t *find_codec(const any_codec_t *codecs, int16_t api_key, int16_t version)", [
            "const kp_api_t *api = kp_api_find(api_key);",
            "if (!api || version < api->min_version || version > api->max_version)",
            "    return NULL;",
            "return &codecs[api - kp_apis];",
        ], [])
        out += self.func("static void *alloc_any(const any_codec_t *codecs, int16_t api_key, kp_arena_t *arena)", [
            "const kp_api_t *api = kp_api_find(api_key);",
            "if (!api)",
            "    return NULL;",
            "const any_codec_t *codec = &codecs[api - kp_apis];",
            "void *m = kp_arena_alloc(arena, codec->size);",
            "if (m)",
            "    codec->init(m);",
            "return m;",
        ], [])
        out += self.func("static int decode_any(const any_codec_t *codecs, int16_t api_key, int16_t version, sd_reader_t *r, kp_arena_t *arena, void **out)", [
            "const any_codec_t *codec = find_codec(codecs, api_key, version);",
            "*out = NULL;",
            "if (!codec) {",
            "    if (!r->err)",
            "        r->err = SD_ERR_INVALID;",
            "    return -1;",
            "}",
            "void *m = kp_arena_alloc(arena, codec->size);",
            "if (!m) {",
            "    if (!r->err)",
            "        r->err = SD_ERR_NOMEM;",
            "    return -1;",
            "}",
            "*out = m;",
            "return codec->decode(r, version, arena, m);",
        ], [])
        out += self.func("static void encode_any(const any_codec_t *codecs, int16_t api_key, int16_t version, kp_out_t *o, const void *msg)", [
            "const any_codec_t *codec = find_codec(codecs, api_key, version);",
            "if (!codec) {",
            "    if (!o->err)",
            "        o->err = SD_ERR_INVALID;",
            "    return;",
            "}",
            "codec->encode(o, version, msg);",
        ], [])
        for kind in ("request", "response"):
            out += self.func("int kp_%s_decode_any(int16_t api_key, int16_t version, sd_reader_t *r, kp_arena_t *arena, void **out)" % kind,
                             ["return decode_any(%s_codecs, api_key, version, r, arena, out);" % kind], [])
            out += self.func("void *kp_%s_alloc_any(int16_t api_key, kp_arena_t *arena)" % kind,
                             ["return alloc_any(%s_codecs, api_key, arena);" % kind], [])
            out += self.func("void kp_%s_encode_any(int16_t api_key, int16_t version, kp_out_t *o, const void *msg)" % kind,
                             ["encode_any(%s_codecs, api_key, version, o, msg);" % kind], [])
        return out


def check_headers(specs):
    """The request/response headers are hand-written in kp_types.c; fail if
    the specs no longer describe what that code does."""
    req = specs.get("RequestHeader")
    resp = specs.get("ResponseHeader")
    if req is None or resp is None:
        raise SpecError("RequestHeader.json and ResponseHeader.json are required")
    fields = [(f["name"], f["type"], f["versions"]) for f in req["fields"]]
    expected = [("RequestApiKey", "int16", "0+"), ("RequestApiVersion", "int16", "0+"),
                ("CorrelationId", "int32", "0+"), ("ClientId", "string", "1+")]
    client = req["fields"][-1] if req["fields"] else {}
    if (fields != expected or req["validVersions"] != "0-2" or req["flexibleVersions"] != "2+"
            or client.get("flexibleVersions") != "none" or client.get("nullableVersions") != "1+"):
        raise SpecError("RequestHeader.json changed: update kp_request_header_decode")
    fields = [(f["name"], f["type"], f["versions"]) for f in resp["fields"]]
    if (fields != [("CorrelationId", "int32", "0+")] or resp["validVersions"] != "0-1"
            or resp["flexibleVersions"] != "1+"):
        raise SpecError("ResponseHeader.json changed: update kp_response_header_encode")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: gen_codecs.py SPEC_DIR OUT_DIR\n")
        return 2
    spec_dir, out_dir = argv[1], argv[2]
    specs = {}
    messages = []
    for name in sorted(os.listdir(spec_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(spec_dir, name), encoding="utf-8") as fh:
            try:
                spec = json.loads(strip_comments(fh.read()))
            except json.JSONDecodeError as e:
                raise SpecError("%s: %s" % (name, e))
        specs[spec["name"]] = spec
        if spec["type"] in ("request", "response"):
            messages.append(Message(spec, name))
        elif spec["type"] != "header":
            raise SpecError("%s: unknown spec type %s" % (name, spec["type"]))
    check_headers(specs)
    messages.sort(key=lambda m: (m.api_key, m.kind != "request"))
    header, source = Generator(messages).generate()
    for name, text in (("kp_messages.h", header), ("kp_messages.c", source)):
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SpecError as e:
        sys.stderr.write("gen_codecs.py: %s\n" % e)
        sys.exit(1)
