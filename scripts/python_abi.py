#!/usr/bin/env python3
"""scripts/python_abi.py: the C prototypes of include/camb.h, for the Python binding.

examples/python/camb.py declares no function by hand: it holds a block, between
the two marker lines below, that this script writes from camb.h (each function's
return type and parameter types, spelled as camb.h spells them), and maps those
spellings to ctypes itself. Run it after changing the C ABI:

    python3 scripts/python_abi.py           # rewrites the block in camb.py
    python3 scripts/python_abi.py --check   # exit 1 if the block is not camb.h's

`tests/python.rs` runs the check, so a block that differs from the header fails
`make test`. tests/python/test_ctypes.py parses the header with the functions
here too.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADER = ROOT / "include" / "camb.h"
MODULE = ROOT / "examples" / "python" / "camb.py"
BEGIN = "# BEGIN camb.h's prototypes: written by scripts/python_abi.py, do not edit.\n"
END = "# END camb.h's prototypes\n"


def strip_c_comments(text):
    """The header without comments, so names in doc comments are not taken for declarations."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def library_part(header):
    """The header without its static inline helpers (camb_*_options_default),
    which are the header's, not the library's."""
    return header.split("#ifndef CAMB_H_DEFAULTS")[0]


def normalize_c_type(spelling):
    """'struct camb_client  * *' -> 'struct camb_client **'."""
    spelling = " ".join(spelling.split())
    spelling = re.sub(r"\s*\*\s*", "*", spelling)
    return re.sub(r"(\w)\*", r"\1 *", spelling)


def header_declarations(header):
    """{name: (return type, [parameter types])} for every function prototype in camb.h, in order."""
    code = strip_c_comments(header)
    # Preprocessor lines (#define, #if ...) hold no prototypes.
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    declarations = {}
    # Each prototype ends at a ";" and starts after the previous ";", "{" or "}".
    for statement in code.split(";"):
        statement = re.split(r"[{}]", statement)[-1]
        match = re.fullmatch(r"\s*([^()]*?)\b(camb_\w+)\s*\(([^()]*)\)\s*", statement)
        if match is None:
            continue
        return_type = normalize_c_type(match.group(1))
        params = [p for p in (p.strip() for p in match.group(3).split(",")) if p]
        if params == ["void"]:
            params = []
        # Each parameter is "<type> <name>": drop the trailing name.
        param_types = [normalize_c_type(re.sub(r"\w+$", "", p)) for p in params]
        declarations[match.group(2)] = (return_type, param_types)
    return declarations


def block(header):
    """The block camb.py holds: a dict literal of every prototype."""
    lines = [BEGIN, "_PROTOTYPES = {\n"]
    for name, (returned, params) in header_declarations(library_part(header)).items():
        lines.append(f"    {name!r}: ({returned!r}, {params!r}),\n".replace("'", '"'))
    lines += ["}\n", END]
    return "".join(lines)


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] not in ([], ["--check"]):
        print("usage: python_abi.py [--check]", file=sys.stderr)
        return 2
    module = MODULE.read_text(encoding="utf-8")
    start, end = module.find(BEGIN), module.find(END)
    if start < 0 or end < start:
        print(f"{MODULE}: no block between the marker lines", file=sys.stderr)
        return 1
    wanted = block(HEADER.read_text(encoding="utf-8"))
    current = module[start : end + len(END)]
    if current == wanted:
        return 0
    if check:
        print(f"{MODULE}: its prototypes differ from {HEADER}: run scripts/python_abi.py", file=sys.stderr)
        return 1
    MODULE.write_text(module[:start] + wanted + module[end + len(END) :], encoding="utf-8")
    print(f"{MODULE}: prototypes written from {HEADER}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
