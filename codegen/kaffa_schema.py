"""The schema language of schema/*.ks (described in schema/README.md): its data model and parser.

Used by kaffa_codegen.py (C++ messages) and kaffa_testgen.py (test fillers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field

PRIMITIVES = {
    "bool": ("bool", 1), "int8": ("int8_t", 1), "int16": ("int16_t", 2),
    "uint16": ("uint16_t", 2), "int32": ("int32_t", 4), "uint32": ("uint32_t", 4),
    "int64": ("int64_t", 8), "float64": ("double", 8), "uuid": ("Uuid", 16),
}
VARIABLE = {"string": "std::string", "bytes": "std::string", "records": "Records"}
INT_LIMITS = {
    "int8_t": (-2**7, 2**7 - 1), "int16_t": (-2**15, 2**15 - 1), "uint16_t": (0, 2**16 - 1),
    "int32_t": (-2**31, 2**31 - 1), "uint32_t": (0, 2**32 - 1), "int64_t": (-2**63, 2**63 - 1),
}


class SchemaError(Exception):
    pass


@dataclass
class VRange:
    lo: int  # -1 with hi -1: no versions
    hi: int | None  # None: open-ended

    @staticmethod
    def parse(text: str, where: str) -> "VRange":
        if text == "none":
            return VRange(-1, -1)
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SchemaError(f"{where}: bad version range '{text}'")
        lo = int(m.group(1))
        if m.group(2) == "+":
            return VRange(lo, None)
        hi = int(m.group(3)) if m.group(3) else lo
        if hi < lo:
            raise SchemaError(f"{where}: empty version range '{text}'")
        return VRange(lo, hi)

    def empty(self) -> bool:
        return self.lo < 0

    def clip(self, outer: "VRange") -> "VRange":
        if self.empty() or outer.empty():
            return VRange(-1, -1)
        lo = max(self.lo, outer.lo)
        his = [h for h in (self.hi, outer.hi) if h is not None]
        hi = min(his) if his else None
        if hi is not None and hi < lo:
            return VRange(-1, -1)
        return VRange(lo, hi)

    def within(self, outer: "VRange") -> bool:
        if self.empty():
            return True
        if self.lo < outer.lo:
            return False
        # An open-ended field ("3+") is clipped to the message's range.
        return self.hi is None or outer.hi is None or self.hi <= outer.hi

    def cond(self, outer: "VRange", var: str = "version") -> str:
        """C++ condition for `var` in this range, knowing var lies in `outer`."""
        r = self.clip(outer)
        if r.empty():
            return "false"
        parts = []
        if r.lo > outer.lo:
            parts.append(f"{var} >= {r.lo}")
        if r.hi is not None and (outer.hi is None or r.hi < outer.hi):
            parts.append(f"{var} <= {r.hi}")
        return " && ".join(parts) if parts else "true"


@dataclass
class Field:
    name: str
    type: str  # as written, e.g. "[]Topic", "int32", "Cursor"
    versions: VRange
    line: int
    nullable: VRange = dc_field(default_factory=lambda: VRange(-1, -1))
    default: str | None = None
    tag: int | None = None
    compact_never: bool = False
    struct: "Struct | None" = None

    @property
    def is_array(self) -> bool:
        return self.type.startswith("[]")

    @property
    def elem(self) -> str:
        return self.type[2:] if self.is_array else self.type


@dataclass
class Struct:
    name: str
    fields: list[Field] = dc_field(default_factory=list)


@dataclass
class Message:
    cpp_name: str
    kind: str  # request | response | message
    api_key: int
    versions: VRange
    flexible: VRange
    root: Struct


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_file(path: str) -> list[Message]:
    lines = open(path, encoding="utf-8").read().split("\n")
    messages: list[Message] = []
    api_key, api_name, versions, flexible = -1, None, None, None
    kind = None
    stack: list[tuple[int, Struct]] = []  # (field indent of children, struct)
    structs: dict[str, Struct] = {}
    last_field: Field | None = None
    header_kind = None

    def where(i: int) -> str:
        return f"{path}:{i + 1}"

    def start_message(k: str, name: str, i: int):
        nonlocal stack, structs, last_field
        if versions is None or flexible is None:
            raise SchemaError(f"{where(i)}: 'versions' and 'flexible' must come before fields")
        root = Struct(name)
        messages.append(Message(name, k, api_key, versions, flexible, root))
        stack = [(2, root)]
        structs = {}
        last_field = None

    for i, raw in enumerate(lines):
        text = raw.split("#", 1)[0].rstrip()
        if not text.strip():
            continue
        if "\t" in raw:
            raise SchemaError(f"{where(i)}: tabs are not allowed")
        indent = len(text) - len(text.lstrip(" "))
        words = text.split()
        if indent == 0:
            head = words[0]
            if head == "api" and len(words) == 3:
                header_kind, api_key, api_name = "api", int(words[1]), words[2]
                versions = flexible = None
            elif head == "message" and len(words) == 2:
                header_kind, api_name = "message", words[1]
                versions = flexible = None
                api_key = -1
            elif head == "versions" and len(words) == 2:
                versions = VRange.parse(words[1], where(i))
                if versions.empty():
                    raise SchemaError(f"{where(i)}: a message needs versions")
            elif head == "flexible" and len(words) == 2:
                flexible = VRange.parse(words[1], where(i))
                if not flexible.empty() and flexible.hi is not None:
                    raise SchemaError(f"{where(i)}: flexible versions must be 'N+' or 'none'")
                if header_kind == "message":
                    start_message("message", api_name, i)
            elif head in ("request", "response") and len(words) == 1:
                if header_kind != "api":
                    raise SchemaError(f"{where(i)}: '{head}' outside an api file")
                start_message(head, api_name + head.capitalize(), i)
            else:
                raise SchemaError(f"{where(i)}: unexpected '{text.strip()}'")
            continue
        if not stack:
            raise SchemaError(f"{where(i)}: field outside a message")
        if indent % 2:
            raise SchemaError(f"{where(i)}: indentation must be a multiple of two spaces")
        # Close structs until the indentation matches.
        if last_field is not None and indent == stack[-1][0] + 2:
            st = last_field.struct
            if st is None or st.fields:
                raise SchemaError(f"{where(i)}: unexpected deeper indentation")
            stack.append((indent, st))
        while stack and indent < stack[-1][0]:
            stack.pop()
        if not stack or indent != stack[-1][0]:
            raise SchemaError(f"{where(i)}: inconsistent indentation")
        msg = messages[-1]
        f = parse_field(words, where(i), i + 1)
        if not f.versions.within(msg.versions):
            raise SchemaError(f"{where(i)}: versions of '{f.name}' lie outside {fmt_range(msg.versions)}")
        if f.tag is not None and not f.versions.within(msg.flexible):
            raise SchemaError(f"{where(i)}: tagged field '{f.name}' outside flexible versions")
        owner = stack[-1][1]
        if any(o.name == f.name for o in owner.fields):
            raise SchemaError(f"{where(i)}: duplicate field '{f.name}'")
        if f.tag is not None and any(o.tag == f.tag for o in owner.fields):
            raise SchemaError(f"{where(i)}: duplicate tag {f.tag}")
        elem = f.elem
        if elem not in PRIMITIVES and elem not in VARIABLE:
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", elem):
                raise SchemaError(f"{where(i)}: unknown type '{f.type}'")
            if elem in structs:
                f.struct = structs[elem]
            else:
                f.struct = Struct(elem)
                structs[elem] = f.struct
        elif f.is_array and elem == "records":
            raise SchemaError(f"{where(i)}: arrays of records are not supported")
        if not f.nullable.empty():
            if f.elem in PRIMITIVES and not f.is_array:
                raise SchemaError(f"{where(i)}: '{f.type}' cannot be nullable")
        owner.fields.append(f)
        last_field = f
    for m in messages:
        check_structs(m.root, path)
    return messages


def check_structs(s: Struct, path: str, seen=None):
    seen = seen if seen is not None else set()
    if id(s) in seen:
        return
    seen.add(id(s))
    for f in s.fields:
        if f.struct is not None:
            if not f.struct.fields:
                raise SchemaError(f"{path}:{f.line}: struct '{f.struct.name}' has no fields")
            check_structs(f.struct, path, seen)


def parse_field(words: list[str], where: str, line: int) -> Field:
    if len(words) < 3:
        raise SchemaError(f"{where}: a field needs 'name type versions'")
    name, typ, ver = words[0], words[1], words[2]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise SchemaError(f"{where}: field names are snake_case ('{name}')")
    f = Field(name, typ, VRange.parse(ver, where), line)
    for attr in words[3:]:
        k, _, v = attr.partition("=")
        if k == "nullable":
            f.nullable = VRange.parse(v, where)
        elif k == "default":
            f.default = v
        elif k == "tag":
            f.tag = int(v)
        elif k == "compact" and v == "never":
            f.compact_never = True
        else:
            raise SchemaError(f"{where}: unknown attribute '{attr}'")
    return f


def fmt_range(r: VRange) -> str:
    if r.empty():
        return "none"
    return f"{r.lo}+" if r.hi is None else f"{r.lo}-{r.hi}"
