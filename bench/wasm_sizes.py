#!/usr/bin/env python3
r"""Where the bytes of a wasm module go: code size per function, grouped by crate and by the
innermost item of the demangled path, from the module's name section.

The module must keep its names: cargo-leptos's output (stripped, then wasm-opt) does not, even
with `--wasm-debug`. Build the release wasm the way cargo-leptos does, names kept, then:

    CARGO_PROFILE_WASM_RELEASE_STRIP=false RUSTFLAGS="--cfg erase_components" \
        CARGO_TARGET_DIR=target/erase cargo build -p frontend --lib \
        --target wasm32-unknown-unknown --profile wasm-release
    python3 bench/wasm_sizes.py \
        target/erase/wasm32-unknown-unknown/wasm-release/frontend.wasm [--top 40] [--depth 2]

Prints the sections by size, then the heaviest groups of functions. Needs no packages.
"""

import argparse
import re
import sys
from collections import Counter


def leb(data, pos):
    """Reads an unsigned LEB128 integer; returns (value, next position)."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory",
    6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data",
    12: "datacount",
}


def read_module(data):
    if data[:4] != b"\0asm":
        sys.exit("not a wasm module")
    pos, sections = 8, []
    while pos < len(data):
        kind = data[pos]
        size, body = leb(data, pos + 1)
        sections.append((kind, body, size))
        pos = body + size
    return sections


def imported_functions(data, body):
    count, pos = leb(data, body)
    functions = 0
    for _ in range(count):
        for _ in range(2):  # module name, field name
            length, pos = leb(data, pos)
            pos += length
        kind = data[pos]
        pos += 1
        if kind == 0:
            functions += 1
            _, pos = leb(data, pos)
        elif kind == 1:  # table: reftype, limits
            pos += 1
            flags, pos = leb(data, pos)
            _, pos = leb(data, pos)
            if flags & 1:
                _, pos = leb(data, pos)
        elif kind == 2:  # memory: limits
            flags, pos = leb(data, pos)
            _, pos = leb(data, pos)
            if flags & 1:
                _, pos = leb(data, pos)
        elif kind == 3:  # global: type, mutability
            pos += 2
    return functions


def function_names(data, body, end):
    count_name, pos = leb(data, body)
    if data[pos:pos + count_name] != b"name":
        return None
    pos += count_name
    names = {}
    while pos < end:
        sub = data[pos]
        size, pos = leb(data, pos + 1)
        if sub == 1:
            count, inner = leb(data, pos)
            for _ in range(count):
                index, inner = leb(data, inner)
                length, inner = leb(data, inner)
                names[index] = data[inner:inner + length].decode("utf-8", "replace")
                inner += length
        pos += size
    return names


HASH = re.compile(r"::h[0-9a-f]{16}$")
ESCAPES = {"$LT$": "<", "$GT$": ">", "$LP$": "(", "$RP$": ")", "$C$": ",", "$RF$": "&",
           "$BP$": "*", "$SP$": "@", "$u20$": " ", "$u27$": "'", "$u5b$": "[", "$u5d$": "]",
           "$u7b$": "{", "$u7d$": "}", "$u7e$": "~", "$u3b$": ";", "$u2b$": "+", "$u22$": '"'}


def demangle(name):
    """Legacy Rust mangling (`_ZN 3app 4ipxe … E`) to `app::ipxe::…`; other names unchanged."""
    body = name[3:] if name.startswith("_ZN") else name
    parts, pos = [], 0
    while pos < len(body) and body[pos].isdigit():
        digits = re.match(r"\d+", body[pos:]).group()
        pos += len(digits)
        parts.append(body[pos:pos + int(digits)])
        pos += int(digits)
    if not parts or body[pos:] not in ("", "E"):
        return name
    text = "::".join(parts)
    for code, char in ESCAPES.items():
        text = text.replace(code, char)
    return text.replace("..", "::").lstrip("_")


def simplify(name, depth):
    """A demangled `<a::B as c::D>::e` → its path up to `depth` segments (`a::B`)."""
    plain = name.lstrip("<")
    parts = re.split(r"::", re.split(r"[<( ]", plain)[0])
    return "::".join(parts[:depth]) or name


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wasm")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--functions", action="store_true", help="list single functions")
    parser.add_argument("--grep", action="append", default=[],
                        help="also total the functions whose name holds this text")
    args = parser.parse_args()

    data = open(args.wasm, "rb").read()
    sections = read_module(data)
    print(f"{len(data):>10,} bytes in all")
    for kind, body, size in sorted(sections, key=lambda s: -s[2]):
        print(f"{size:>10,}  {SECTION_NAMES.get(kind, kind)}")

    imports = 0
    names = {}
    for kind, body, size in sections:
        if kind == 2:
            imports = imported_functions(data, body)
        if kind == 0:
            found = function_names(data, body, body + size)
            if found is not None:
                names = found
    code = next(((body, size) for kind, body, size in sections if kind == 10), None)
    if code is None or not names:
        sys.exit("no code or no name section: build the wasm with names (see --help)")

    count, pos = leb(data, code[0])
    groups, single = Counter(), Counter()
    for index in range(count):
        size, start = leb(data, pos)
        pos = start + size
        name = HASH.sub("", demangle(names.get(imports + index, f"<function {imports + index}>")))
        groups[simplify(name, args.depth)] += size
        single[name] += size
    print(f"\nheaviest groups (code bytes, depth {args.depth}):")
    for name, size in groups.most_common(args.top):
        print(f"{size:>10,}  {name}")
    for text in args.grep:
        matching = [size for name, size in single.items() if text in name]
        print(f"{sum(matching):>10,}  in {len(matching)} functions naming {text!r}")
    if args.functions:
        print("\nheaviest functions:")
        for name, size in single.most_common(args.top):
            print(f"{size:>10,}  {name[:160]}")


if __name__ == "__main__":
    main()
