"""camb.h's function prototypes, read the way tests/python/test_ctypes.py needs
them: {name: (return type, [parameter types])}, each type spelled as camb.h
spells it, normalized ("struct camb_client **"). A reading for tests only: the
package declares the ABI through cffi, which parses camb.h at build time.
"""

import re


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
        # CAMB_API: how the function is linked (dllimport on Windows), not its type.
        return_type = normalize_c_type(re.sub(r"\bCAMB_API\b", "", match.group(1)))
        params = [p for p in (p.strip() for p in match.group(3).split(",")) if p]
        if params == ["void"]:
            params = []
        # Each parameter is "<type> <name>": drop the trailing name.
        param_types = [normalize_c_type(re.sub(r"\w+$", "", p)) for p in params]
        declarations[match.group(2)] = (return_type, param_types)
    return declarations
