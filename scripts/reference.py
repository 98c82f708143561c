#!/usr/bin/env python3
"""Writes libcamb's C reference from doxygen's XML of include/camb.h (scripts/docs.sh runs it).

    scripts/reference.py --xml DIR --header include/camb.h --man DIR [--dox FILE] [--date DATE]

--man DIR   one man page per function of camb.h (camb_client_new.3 ...), one per type (the
            handles, enums, structs and callbacks: camb_client.3, camb_result.3 ...), and
            camb.3, the overview (the header's conventions, the workflow, the handles).
--dox FILE  the generated input of doxygen's HTML run: the main page (the index, in workflow
            order), the conventions page, one group per handle (and per type that has
            functions) holding that handle's functions, the documentation of camb.h itself and
            of its plain-commented macros. It also writes FILE with .doxyfile for its suffix:
            settings for that run (EXCLUDE_SYMBOLS: the include guards).

Nothing here restates the API: names, prototypes and text come from doxygen's XML of the
header (and, for what doxygen does not read, from the header's plain comments). What is
written here is the arrangement: which page a function goes to (by name prefix: the
longest type name it starts with) and the order of the workflow (WORKFLOW, by name
pattern). A function that no workflow step takes fails the run, naming it.
Python 3 standard library only.
"""

import argparse
import fnmatch
import os
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

# The index's order: how a program uses libcamb. Each function of camb.h goes to the first
# step with a pattern that matches its name (fnmatch); types likewise by "types".
WORKFLOW = [
    {
        "id": "build",
        "title": "Build a client",
        "text": "Set what you need on a builder and build the client, or take the defaults "
        "(and the key from `CAMB_API_KEY`) in one call. A client is immutable and "
        "shared by any number of threads.",
        "functions": ["camb_client_builder_*", "camb_client_new"],
        "types": ["camb_client_builder", "camb_client"],
    },
    {
        "id": "status",
        "title": "Ask a task's status",
        "text": "One task, or many at once; read the answer from the `camb_task` you get.",
        "functions": [
            "camb_client_get_task_status",
            "camb_task_*",
            "camb_status_*",
            "camb_client_get_task_statuses",
            "camb_task_list_*",
        ],
        "types": ["camb_task", "camb_task_list", "camb_status"],
    },
    {
        "id": "create",
        "title": "Create a task",
        "text": "A prompt and options make a task on the server, which starts generating.",
        "functions": ["camb_create_options_*", "camb_client_create_task"],
        "types": ["camb_create_options", "camb_audio_type"],
    },
    {
        "id": "wait",
        "title": "Wait for it (or cancel)",
        "text": "Poll until the status is final, with backoff and a deadline; a token "
        "cancels a blocking call from another thread.",
        "functions": [
            "camb_wait_options_*",
            "camb_client_wait_for_task",
            "camb_cancel_token_*",
        ],
        "types": [
            "camb_wait_options",
            "camb_wait_progress",
            "camb_progress_fn",
            "camb_cancel_token",
        ],
    },
    {
        "id": "audio",
        "title": "Download or save the audio",
        "text": "Fetch a successful run's audio: to a callback, to a file, or as URLs; or do "
        "create, wait and save in one call.",
        "functions": [
            "camb_client_download_audio",
            "camb_client_save_audio",
            "camb_client_get_audio_url",
            "camb_client_get_audio_urls",
            "camb_audio_url_list_*",
            "camb_client_generate",
        ],
        "types": ["camb_write_fn", "camb_audio_url_list"],
    },
    {
        "id": "speech",
        "title": "Speak: streaming text-to-speech",
        "text": "Text to speech that arrives while it is made: to a callback, to a file, or "
        "read on your own thread from a job; and the voices and languages to choose from.",
        "functions": [
            "camb_speech_options_*",
            "camb_client_speak*",
            "camb_client_job_speak*",
            "camb_job_read_audio",
            "camb_job_speech_info",
            "camb_client_list_voices",
            "camb_client_list_languages",
            "camb_client_job_list_*",
            "camb_job_voice_list",
            "camb_job_language_list",
            "camb_voice_*",
            "camb_language_*",
        ],
        "types": [
            "camb_speech_*",
            "camb_flag",
            "camb_voice*",
            "camb_language*",
        ],
    },
    {
        "id": "jobs",
        "title": "Jobs and the queue",
        "text": "Every blocking call has a job form that runs on the client's threads and comes "
        "back through a queue, for event loops and many tasks at once.",
        "functions": ["camb_client_job_*", "camb_job_*", "camb_queue_*"],
        "types": ["camb_job*", "camb_queue", "camb_event"],
    },
    {
        "id": "end",
        "title": "Logs, errors and freeing",
        "text": "Why a call failed, what a code is called, where log lines go, and the "
        "functions that free what libcamb gave.",
        "functions": [
            "camb_last_*",
            "camb_result_*",
            "camb_version",
            "camb_string_free",
            "camb_client_free",
        ],
        # Listed here too, from their own steps: where log lines go, and every _free.
        "also": ["camb_client_builder_set_log", "*_free"],
        "types": ["camb_result", "camb_log_*", "camb_finalizer_fn"],
    },
]

GENERAL_GROUP = "general"
GENERAL_TITLE = "Library-wide functions"
GENERAL_BRIEF = "The functions that belong to no handle: errors, names, strings, version."

MARKER = '.\\" Generated by scripts/reference.py from camb.h (doxygen XML): do not edit.'


# ---------------------------------------------------------------- the model


@dataclass
class Member:
    kind: str  # function, typedef, enum, define, struct
    name: str
    id: str
    line: int
    brief: ET.Element | None
    detailed: ET.Element | None
    type: str = ""
    argsstring: str = ""
    params: list = field(default_factory=list)  # [(type, name)]
    static: bool = False
    initializer: str = ""
    values: list = field(default_factory=list)  # enum: [(name, initializer, brief, detailed)]
    fields: list = field(default_factory=list)  # struct: [(type, name, argsstring, brief, detailed)]
    role: str = ""  # handle, enum, struct, callback (types)
    group: str = ""  # doxygen group id

    def has_doc(self):
        return bool(plain(self.brief) or plain(self.detailed))


def text_of(element):
    return "".join(element.itertext()) if element is not None else ""


def squash(text):
    return re.sub(r"\s+", " ", text).strip()


def plain(element):
    """The words of a description, without markup, on one line."""
    return squash(text_of(element))


def load(xml_dir):
    index = ET.parse(os.path.join(xml_dir, "index.xml")).getroot()
    refids = [
        c.get("refid")
        for c in index.findall("compound")
        if c.get("kind") == "file" and c.findtext("name") == "camb.h"
    ]
    if not refids:
        sys.exit(f"reference.py: no camb.h in {xml_dir}/index.xml")
    compound = ET.parse(os.path.join(xml_dir, refids[0] + ".xml")).getroot().find("compounddef")
    members = []
    for m in compound.iter("memberdef"):
        location = m.find("location")
        member = Member(
            kind=m.get("kind"),
            name=m.findtext("name"),
            id=m.get("id"),
            line=int(location.get("line")) if location is not None else 0,
            brief=m.find("briefdescription"),
            detailed=m.find("detaileddescription"),
            type=squash(text_of(m.find("type"))),
            argsstring=squash(m.findtext("argsstring") or ""),
            static=m.get("static") == "yes",
            initializer=squash(text_of(m.find("initializer"))),
        )
        for p in m.findall("param"):
            member.params.append((squash(text_of(p.find("type"))), p.findtext("declname") or ""))
        for v in m.findall("enumvalue"):
            member.values.append(
                (
                    v.findtext("name"),
                    squash(text_of(v.find("initializer"))).lstrip("= ").strip(),
                    v.find("briefdescription"),
                    v.find("detaileddescription"),
                )
            )
        members.append(member)
    for inner in compound.findall("innerclass"):
        root = ET.parse(os.path.join(xml_dir, inner.get("refid") + ".xml")).getroot()
        c = root.find("compounddef")
        if c.get("kind") != "struct":
            continue
        location = c.find("location")
        struct = Member(
            kind="struct",
            name=c.findtext("compoundname"),
            id=c.get("id"),
            line=int(location.get("line")) if location is not None else 0,
            brief=c.find("briefdescription"),
            detailed=c.find("detaileddescription"),
        )
        for v in c.iter("memberdef"):
            if v.get("kind") == "variable":
                struct.fields.append(
                    (
                        squash(text_of(v.find("type"))),
                        v.findtext("name"),
                        squash(v.findtext("argsstring") or ""),
                        v.find("briefdescription"),
                        v.find("detaileddescription"),
                    )
                )
        members.append(struct)
    members.sort(key=lambda m: m.line)
    return members


class Api:
    """camb.h as the pages need it: functions, types and which page each goes to."""

    def __init__(self, members, header_text):
        self.header = header_text
        self.functions = [m for m in members if m.kind == "function"]
        self.defines = [m for m in members if m.kind == "define"]
        structs = {m.name: m for m in members if m.kind == "struct"}
        self.types = []
        seen = set()
        for m in members:
            if m.kind == "enum":
                m.role = "enum"
            elif m.kind == "struct":
                m.role = "struct"
            elif m.kind == "typedef" and m.name in structs:
                # typedef struct X {...} X: the struct stands for both; its doc is the typedef's.
                struct = structs[m.name]
                if not struct.has_doc():
                    struct.brief, struct.detailed = m.brief, m.detailed
                continue
            elif m.kind == "typedef" and m.type == f"struct {m.name}":
                m.role = "handle"
            elif m.kind == "typedef" and "(*" in m.type:
                m.role = "callback"
            elif m.kind == "typedef":
                m.role = "typedef"
            else:
                continue
            if m.name not in seen:
                seen.add(m.name)
                self.types.append(m)
        self.by_name = {m.name: m for m in self.functions + self.types}
        self.handles = [t for t in self.types if t.role == "handle"]
        clash = {f.name for f in self.functions} & {t.name for t in self.types}
        if clash:
            sys.exit(f"reference.py: a function and a type share a name: {sorted(clash)}")
        self._assign_groups()
        self._assign_steps()

    # A function's page: the longest type name it starts with (camb_client_builder_new is
    # camb_client_builder's, camb_client_job_create_task camb_client's), else the general one.
    def owner(self, function_name):
        best = None
        for t in self.types:
            if function_name.startswith(t.name + "_") and (best is None or len(t.name) > len(best.name)):
                best = t
        return best

    def _assign_groups(self):
        self.groups = {}  # id -> {"type": Member|None, "functions": [], "types": []}
        for f in self.functions:
            t = self.owner(f.name)
            gid = group_id(t) if t else GENERAL_GROUP
            f.group = gid
            group = self.groups.setdefault(gid, {"type": t, "functions": [], "types": []})
            group["functions"].append(f)
        for t in self.types:
            if group_id(t) in self.groups or t.role == "handle":
                t.group = group_id(t)
                self.groups.setdefault(t.group, {"type": t, "functions": [], "types": []})
        # A type with no functions of its own goes to the page of the first function (or
        # placed type) whose declaration names it: camb_job_kind to camb_job's page.
        changed = True
        while changed:
            changed = False
            for t in self.types:
                if t.group:
                    continue
                for user in self.functions + [u for u in self.types if u.group]:
                    if user is not t and mentions(declaration_words(user), t.name):
                        t.group = user.group
                        self.groups[t.group]["types"].append(t)
                        changed = True
                        break
        self.defines_group = GENERAL_GROUP if GENERAL_GROUP in self.groups else None

    def _assign_steps(self):
        self.steps = []
        placed = set()
        for step in WORKFLOW:
            self.steps.append({**step, "function_list": [], "type_list": []})
        # A function goes to the step with the most specific pattern that matches it
        # (camb_task_list_* before camb_task_*), and within its step comes in the order of
        # the patterns, then of the header.
        for f in self.functions:
            best = None
            for n, step in enumerate(self.steps):
                for k, p in enumerate(step["functions"]):
                    if fnmatch.fnmatchcase(f.name, p):
                        rank = (-specificity(p), n, k)
                        best = min(best, rank) if best else rank
            if best:
                _, n, k = best
                self.steps[n]["function_list"].append((k, f.line, f))
                placed.add(f.name)
        for step in self.steps:
            step["function_list"] = [f for _, _, f in sorted(step["function_list"], key=lambda e: e[:2])]
            step["also_list"] = [
                f
                for f in self.functions
                if f not in step["function_list"]
                and any(fnmatch.fnmatchcase(f.name, p) for p in step.get("also", []))
            ]
        missing = [f.name for f in self.functions if f.name not in placed]
        if missing:
            sys.exit(
                "reference.py: no workflow step takes "
                + ", ".join(missing)
                + ": add a pattern for it to WORKFLOW in scripts/reference.py"
            )
        self.unplaced_types = []
        for t in self.types:
            for step in self.steps:
                k = next((k for k, p in enumerate(step["types"]) if fnmatch.fnmatchcase(t.name, p)), None)
                if k is not None:
                    step["type_list"].append((k, t.line, t))
                    break
            else:
                self.unplaced_types.append(t)
        for step in self.steps:
            step["type_list"] = [t for _, _, t in sorted(step["type_list"], key=lambda e: e[:2])]

    def group_order(self):
        """Groups in the order the workflow first meets them; the general one last."""

        walk = [f.group for step in self.steps for f in step["function_list"]]
        order = sorted(
            (g for g in self.groups if g != GENERAL_GROUP),
            key=lambda g: walk.index(g) if g in walk else len(walk),
        )
        if GENERAL_GROUP in self.groups:
            order.append(GENERAL_GROUP)
        return order

    def returned_by(self, t):
        """Functions of other pages that give a `t`: as their value or through an out-parameter."""
        found = []
        for f in self.functions:
            if f.group == t.group and f.group:
                continue
            outs = [ty for ty, _ in f.params if re.search(rf"\b{re.escape(t.name)}\b\s*\*\s*\*", ty)]
            if outs or mentions(f.type, t.name):
                found.append(f)
        return found

    def taken_by(self, t):
        found = []
        for f in self.functions:
            if (f.group == t.group and f.group) or f in self.returned_by(t):
                continue
            if any(mentions(ty, t.name) for ty, _ in f.params):
                found.append(f)
        return found

    def is_exported(self, f):
        return not f.static

    def c_typedef(self, name):
        """`typedef uint32_t camb_result;`: how C before C23 declares an enum's type (camb.h's
        `#else` branch, which the C++ view doxygen reads does not show)."""
        m = re.search(rf"^typedef\s+(\w+)\s+{re.escape(name)}\s*;", self.header, re.M)
        return m.group(1) if m else None


def specificity(pattern):
    literal = len(re.sub(r"[*?\[\]]", "", pattern))
    return literal + (1000 if literal == len(pattern) else 0)


def group_id(t):
    return ("handle_" if t.role == "handle" else "type_") + t.name


def mentions(text, name):
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def declaration_words(m):
    if m.kind == "function":
        return m.type + " " + " ".join(ty for ty, _ in m.params)
    if m.role == "callback":
        return m.argsstring
    if m.role == "struct":
        return " ".join(ty for ty, *_ in m.fields)
    return ""


def prototype(f, width=78):
    """The declaration as camb.h writes it: one parameter per line, aligned after the '('."""
    head = ("static inline " if f.static else "") + join_type(f.type, f.name) + "("
    params = [join_type(ty, name) if name else ty for ty, name in f.params] or ["void"]
    lines, indent = [head + params[0]], " " * len(head)
    if len(indent) + max(len(p) for p in params) + 2 > width:
        indent = " " * 4
    for p in params[1:]:
        lines[-1] += ","
        lines.append(indent + p)
    lines[-1] += ");"
    return lines


def join_type(ty, name):
    return ty + name if ty.endswith("*") else f"{ty} {name}"


def callback_declaration(t):
    ret = t.type.replace("(*", "").strip()
    params = t.argsstring.lstrip(")").strip()
    return f"typedef {ret} (*{t.name}){params};"


# ---------------------------------------------------------------- the header's plain comments


def header_top_comment(header):
    """The header's first comment, as blocks: ("p", text) and ("li", text)."""
    m = re.match(r"\s*/\*(.*?)\*/", header, re.S)
    if not m:
        return []
    lines = [re.sub(r"^\s*\* ?", "", line) for line in m.group(1).splitlines()]
    blocks = []
    for line in lines:
        if not line.strip():
            blocks.append(None)
        elif line.startswith("- "):
            blocks.append(["li", line[2:].strip()])
        elif line.startswith("  ") and blocks and blocks[-1] and blocks[-1][0] == "li":
            blocks[-1][1] += " " + line.strip()
        elif blocks and blocks[-1] and blocks[-1][0] == "p":
            blocks[-1][1] += " " + line.strip()
        else:
            blocks.append(["p", line.strip()])
    return [tuple(b) for b in blocks if b]


def macro_comments(header):
    """{MACRO: text} for the #defines that follow a plain /* comment */ (doxygen reads only
    /** comments): a comment stands for the #defines right after it."""
    found, comment = {}, None
    for line in header.splitlines():
        c = re.match(r"\s*/\*\s*(.*?)\s*\*/\s*$", line)
        d = re.match(r"#define\s+(\w+)", line)
        if c and not line.lstrip().startswith("/**"):
            comment = c.group(1)
        elif d and comment:
            found[d.group(1)] = comment
        else:
            comment = None
    return found


def include_guards(header):
    return re.findall(r"^#ifndef\s+(\w+)\s*\n#define\s+\1\s*$", header, re.M)


# ---------------------------------------------------------------- roff


def roff_escape(text, code=False):
    text = text.replace("\\", "\\e")
    if code:
        text = text.replace("-", "\\-").replace("'", "\\(aq").replace("`", "\\(ga")
    return "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)


def roff_lines(text, width=78):
    """Filled text as input lines: none starts with a control character."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return ["\\&" + l if l[0] in ".'" else l for l in lines]


class Roff:
    """Doxygen's description markup as man(7) requests. `new_para` starts each paragraph
    after the first: .PP, or .IP in the body of a .TP (it keeps that indentation)."""

    def __init__(self, new_para=".PP"):
        self.new_para = new_para

    def inline(self, element, code=False):
        out = [roff_escape(squash_keep(element.text or ""), code)]
        for child in element:
            out.append(self.inline_child(child, code))
            out.append(roff_escape(squash_keep(child.tail or ""), code))
        return "".join(out)

    def inline_child(self, child, code):
        tag = child.tag
        if tag == "computeroutput":
            return "\\fB" + self.inline(child, True) + "\\fR"
        if tag == "ref":
            inner = self.inline(child, code)
            return inner if code else "\\fB" + inner.replace("()", "\\fR()") + "\\fR"
        if tag == "emphasis":
            return "\\fI" + self.inline(child, code) + "\\fR"
        if tag == "bold":
            return "\\fB" + self.inline(child, code) + "\\fR"
        if tag == "ulink":
            inner = self.inline(child, code)
            url = roff_escape(child.get("url", ""), True)
            return inner if url in inner else f"{inner} <{url}>"
        if tag in ("ndash", "mdash"):
            return "\\(en" if tag == "ndash" else "\\(em"
        if tag == "nonbreakablespace":
            return "\\ "
        if tag == "linebreak":
            return "\n.br\n"
        return self.inline(child, code)

    def blocks(self, element, out, lead=".PP"):
        """Appends the paragraphs and lists of a description to out; returns the next lead."""
        if element is None:
            return lead
        for para in element.findall("para"):
            lead = self.para(para, out, lead)
        return lead

    def para(self, para, out, lead):
        pending = [roff_escape(squash_keep(para.text or ""))]

        def flush(lead):
            text = "".join(pending).strip()
            pending.clear()
            if text:
                if lead:
                    out.append(lead)
                for chunk in text.split("\n"):
                    out.extend(roff_lines(chunk) if not chunk.startswith(".") else [chunk])
                return self.new_para
            return lead

        for child in para:
            if child.tag in ("itemizedlist", "orderedlist"):
                lead = flush(lead)
                self.list(child, out)
                lead = self.new_para
            elif child.tag == "programlisting":
                lead = flush(lead)
                out.append(".PP")
                out.append(".RS 4")
                out.append(".nf")
                for codeline in child.findall("codeline"):
                    out.append(roff_escape(code_text(codeline), True) or ".sp 0")
                out.append(".fi")
                out.append(".RE")
                lead = self.new_para
            elif child.tag in ("simplesect", "parameterlist"):
                lead = flush(lead)
                lead = self.blocks(child, out, lead)
            else:
                pending.append(self.inline_child(child, False))
            pending.append(roff_escape(squash_keep(child.tail or "")))
        return flush(lead)

    def list(self, element, out):
        ordered = element.tag == "orderedlist"
        for n, item in enumerate(element.findall("listitem"), 1):
            tag = f"{n}." if ordered else "\\(bu"
            first = True
            for para in item.findall("para"):
                self.para(para, out, f".IP {tag} 4" if first else '.IP "" 4')
                first = False


def squash_keep(text):
    """Whitespace runs become one space, keeping a leading and a trailing one."""
    return re.sub(r"\s+", " ", text)


def code_text(element):
    parts = []
    for node in element.iter():
        if node.tag == "sp":
            parts.append(" ")
        if node.text and node.tag != "sp":
            parts.append(node.text)
        if node.tail and node is not element:
            parts.append(node.tail)
    return "".join(parts)


def first_para(m):
    """The first paragraph of a description (the XML run has no automatic brief, so that
    the paragraphs stay as the header writes them)."""
    for element in (m.brief, m.detailed):
        if element is not None and plain(element):
            return element.find("para")
    return None


def first_sentence(text):
    """Up to the first full stop followed by a space (as doxygen's automatic brief), out of
    backquoted code."""
    ticks = 0
    for i, c in enumerate(text):
        if c == "`":
            ticks += 1
        elif c == "." and ticks % 2 == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1]
    return text


def summary(m):
    """The NAME line's words: the first sentence, cut at a clause when it is long."""
    text = first_sentence(plain(first_para(m))).rstrip(".")
    if len(text) > 70:
        cuts, depth, quoted = {}, 0, False
        for i, c in enumerate(text):
            quoted ^= c == '"'
            if depth == 0 and not quoted:
                for mark in (": ", "; ", " (", ", "):
                    if text.startswith(mark, i) and i > 15:
                        cuts.setdefault(mark, i)
            depth += {"(": 1, ")": -1}.get(c, 0)
        # The first clause: up to the first colon, semicolon, comma or parenthesis.
        text = text[: min(cuts.values(), default=len(text))]
    # "Creates a builder" -> "creates a builder"; names and acronyms stay as they are.
    if re.match(r"[A-Z][a-z]*\b(?!_)", text) and not re.match(r"[A-Z]\w*_", text):
        text = text[:1].lower() + text[1:]
    return text


def is_errors_para(para):
    return plain(para).startswith("Errors")


class Page:
    def __init__(self, name, version, date):
        self.name = name
        self.lines = [
            MARKER,
            f'.TH {name.upper()} 3 "{date}" "libcamb {version}" "libcamb Manual"',
            ".nh",
            ".ad l",
        ]

    def section(self, title):
        self.lines.append(f".SH {title}")

    def add(self, *lines):
        self.lines.extend(lines)

    def text(self, text):
        self.lines.append(".PP")
        self.lines.extend(roff_lines(text))

    def synopsis(self, code_lines, include=True):
        self.section("SYNOPSIS")
        self.add(".nf")
        if include:
            self.add("\\fB#include <camb.h>\\fR", "")
        self.lines.extend(code_lines)
        self.add(".fi")

    def see_also(self, names):
        names = list(dict.fromkeys(n for n in names if n != self.name))
        if not names:
            return
        self.section("SEE ALSO")
        for i, n in enumerate(names):
            self.add(f".BR {roff_escape(n, True)} (3)" + ("," if i < len(names) - 1 else ""))

    def write(self, directory):
        path = os.path.join(directory, self.name + ".3")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.lines) + "\n")


def bold_name(name):
    return "\\fB" + roff_escape(name, True) + "\\fR"


def roff_prototype(lines, name, param_names):
    """Code lines with the function's name in bold and its parameters in italics."""
    out = []
    for line in lines:
        escaped = roff_escape(line, True)
        bold = bold_name(name) + "("
        escaped = re.sub(rf"\b{re.escape(roff_escape(name, True))}\(", lambda _: bold, escaped, 1)
        for p in param_names:
            if p:
                italic = f"\\fI{roff_escape(p, True)}\\fR"
                escaped = re.sub(rf"(?<![\w\\]){re.escape(p)}(?=[,)])", lambda _: italic, escaped)
        out.append(escaped)
    return out


def referenced_functions(api, *elements):
    names = []
    for element in elements:
        if element is None:
            continue
        for ref in element.iter("ref"):
            name = (ref.text or "").rstrip("()")
            if name in api.by_name and api.by_name[name].kind == "function":
                names.append(name)
    return names


def function_list(page, api, functions):
    for f in functions:
        page.add(".TP", f".BR {roff_escape(f.name, True)} (3)")
        page.lines.extend(roff_lines(roff_escape(summary(f))))


def function_page(api, f, version, date):
    page = Page(f.name, version, date)
    page.section("NAME")
    page.add(f"{roff_escape(f.name, True)} \\- {roff_escape(summary(f))}")
    page.synopsis(roff_prototype(prototype(f), f.name, [n for _, n in f.params]))
    if not api.is_exported(f):
        page.add(".PP", "Defined in camb.h as a static inline function: libcamb does not export it.")
    page.section("DESCRIPTION")
    roff, body, errors = Roff(), [], []
    lead = roff.blocks(f.brief, body)
    if f.detailed is not None:
        for para in f.detailed.findall("para"):
            if is_errors_para(para) and f.type == "camb_result":
                roff.para(para, errors, ".PP")
            else:
                lead = roff.para(para, body, lead)
    page.lines.extend(body)
    if errors:
        page.section("RETURN VALUE")
        page.text(
            "\\fBCAMB_RESULT_OK\\fR (0) on success. Otherwise a failure code, and "
            "\\fBcamb_last_error\\fR() has the reason in words."
        )
        page.lines.extend(errors)
    group = api.groups[f.group]
    related = [g.name for g in group["functions"] if g is not f]
    owner = [group["type"].name] if group["type"] else []
    page.see_also(referenced_functions(api, f.brief, f.detailed) + owner + related + ["camb"])
    return page


def type_page(api, t, version, date):
    page = Page(t.name, version, date)
    page.section("NAME")
    page.add(f"{roff_escape(t.name, True)} \\- {roff_escape(summary(t))}")
    if t.role == "handle":
        code = [f"typedef struct {t.name} {t.name};"]
    elif t.role == "callback":
        code = [callback_declaration(t)]
    elif t.role == "enum":
        code = [f"enum {t.name} {{"]
        code += [f"    {n} = {v}," if v else f"    {n}," for n, v, _, _ in t.values]
        code += ["};"]
        c_type = api.c_typedef(t.name)
        if c_type:
            code += [f"typedef {c_type} {t.name};   /* before C23; C23, C++: the enum, of {c_type} */"]
    elif t.role == "struct":
        code = [f"typedef struct {t.name} {{"]
        code += [f"    {join_type(ty, n)}{a};" for ty, n, a, _, _ in t.fields]
        code += [f"}} {t.name};"]
    else:
        code = [f"typedef {t.type} {t.name};"]
    page.synopsis([roff_escape(line, True) for line in code])
    page.section("DESCRIPTION")
    roff = Roff()
    lead = roff.blocks(t.brief, page.lines)
    roff.blocks(t.detailed, page.lines, lead)
    body = Roff(new_para=".IP")
    if t.role == "enum":
        page.section("VALUES")
        for n, v, brief, detailed in t.values:
            page.add(".TP", bold_name(n) + (f" = {roff_escape(v, True)}" if v else ""))
            body.blocks(detailed, page.lines, body.blocks(brief, page.lines, ""))
    if t.role == "struct":
        page.section("FIELDS")
        for ty, n, a, brief, detailed in t.fields:
            tag = roff_escape(join_type(ty, "\x00"), True).replace("\x00", f"\\fI{roff_escape(n + a, True)}\\fR")
            page.add(".TP", tag)
            body.blocks(detailed, page.lines, body.blocks(brief, page.lines, ""))
    own = api.groups.get(group_id(t), {}).get("functions", []) if t.group == group_id(t) else []
    if own:
        page.section("FUNCTIONS")
        function_list(page, api, own)
    returned, taken = api.returned_by(t), api.taken_by(t)
    if returned:
        page.section("RETURNED BY")
        function_list(page, api, returned)
    if taken:
        page.section("TAKEN BY")
        function_list(page, api, taken)
    page.see_also([f.name for f in own + returned + taken] + ["camb"])
    return page


def overview_page(api, version, date):
    page = Page("camb", version, date)
    blocks = header_top_comment(api.header)
    title = blocks[0][1] if blocks else "the C API of libcamb"
    title = re.sub(r"^camb\.h:\s*", "", title).rstrip(".")
    page.section("NAME")
    page.add(f"camb \\- {roff_escape(title)}")
    page.section("SYNOPSIS")
    page.add(
        ".nf",
        "\\fB#include <camb.h>\\fR",
        "",
        "cc prog.c $(pkg\\-config \\-\\-cflags \\-\\-libs camb)",
        ".fi",
    )
    page.section("DESCRIPTION")
    page.text(
        f"libcamb {version}: every function of camb.h has a page of its own "
        "(\\fBman 3 camb_client_new\\fR), as has each handle and type "
        "(\\fBman 3 camb_client\\fR). This page has the rules that hold for every "
        "function, the order in which a program uses them, and the handles."
    )
    page.section("CONVENTIONS")
    for kind, text in blocks[1:]:
        page.add(".IP \\(bu 2" if kind == "li" else ".PP")
        page.lines.extend(roff_lines(link_functions_roff(roff_escape(text))))
    page.section("WORKFLOW")
    for n, step in enumerate(api.steps, 1):
        page.add(".SS " + f"{n}. {roff_escape(step['title'])}")
        page.lines.extend(roff_lines(roff_escape(strip_ticks(step["text"]))))
        function_list(page, api, step["function_list"])
        if step["also_list"]:
            page.add(".PP")
            page.lines.extend(roff_lines("Also: " + ", ".join(bold_name(f.name) + "()" for f in step["also_list"]) + "."))
    page.section("HANDLES")
    page.text("Each handle has a page with its functions:")
    for t in api.handles:
        page.add(".TP", f".BR {roff_escape(t.name, True)} (3)")
        page.lines.extend(roff_lines(roff_escape(summary(t))))
    others = [t for t in api.types if t.role != "handle"]
    if others:
        page.section("TYPES")
        typedefs = {}
        for t in others:
            if t.role == "enum" and api.c_typedef(t.name):
                typedefs.setdefault(api.c_typedef(t.name), []).append(t.name)
        for c_type, names in typedefs.items():
            page.text(
                ", ".join(bold_name(n) for n in names)
                + f": in C before C23, each is a typedef of {c_type}, which holds the values "
                f"of the enum of the same name; in C23 and C++, the enum itself (of type {c_type})."
            )
        for t in others:
            page.add(".TP", f".BR {roff_escape(t.name, True)} (3)")
            page.lines.extend(roff_lines(roff_escape(summary(t))))
    comments = macro_comments(api.header)
    defines = [d for d in api.defines if d.name in comments]
    if defines:
        page.section("MACROS")
        for d in defines:
            page.add(".TP", f"{bold_name(d.name)} {roff_escape(d.initializer, True)}")
            page.lines.extend(roff_lines(roff_escape(comments[d.name])))
    page.see_also([t.name for t in api.handles])
    return page


def strip_ticks(text):
    return text.replace("`", "")


def link_functions_roff(text):
    return re.sub(r"\b(camb_\w+)\(\)", lambda m: bold_name(m.group(1)) + "()", text)


# ---------------------------------------------------------------- doxygen input


def md_escape(text):
    return re.sub(r"([\\@&$#<>%|*])", r"\\\1", text)


def md_inline(element, code=False):
    if element is None:
        return ""
    out = [md_text(element.text, code)]
    for child in element:
        if child.tag == "computeroutput":
            inner = md_code(squash(text_of(child)))
            out.append(inner if code else f"`{inner}`")
        elif child.tag == "ref":
            inner = squash(text_of(child))
            out.append(md_code(inner) if code else md_escape(inner))
        elif child.tag == "para":
            out.append(md_inline(child, code))
        else:
            out.append(md_inline(child, code))
        out.append(md_text(child.tail, code))
    return squash("".join(out)) if not code else "".join(out)


def md_text(text, code):
    text = squash_keep(text or "")
    return md_code(text) if code else md_escape(text)


def md_code(text):
    """Code-span text for doxygen, which drops a % before a word even there (%% is one)."""
    return re.sub(r"%(?=\w)", "%%", text)


def md_brief(m):
    return first_sentence(md_inline(first_para(m)))


def table(rows):
    lines = ["| Function | What it does |", "|:--|:--|"]
    for f in rows:
        lines.append(f"| {f.name}() | {md_brief(f)} |")
    return lines


def dox(api, version):
    out = []
    blocks = header_top_comment(api.header)
    title = re.sub(r"^camb\.h:\s*", "", blocks[0][1]) if blocks else "The C API of libcamb."
    title = title[:1].upper() + title[1:]

    # camb.h itself: a documented file, so that its members are listed and checked.
    out += ["/**", "\\file camb.h", f"\\brief {md_escape(title)}", "",
            "Read the \\ref conventions first; the \\ref index \"index\" goes through the API "
            "in the order a program uses it.", "*/", ""]

    # The main page: the workflow.
    out += ["/**", f"\\mainpage libcamb {version}: the C reference", ""]
    out += [
        md_escape(title),
        "",
        "Everything here is generated from `camb.h` (`#include <camb.h>`, link with "
        "`pkg-config --cflags --libs camb`); every function also has a man page "
        "(`man 3 camb_client_new`), and `man 3 camb` has this overview.",
        "",
        "The rules that hold for every function (results, ownership, threads, NULL): "
        "\\subpage conventions.",
        "",
    ]
    for n, step in enumerate(api.steps, 1):
        out += [f"\\section step_{step['id']} {n}. {step['title']}", "", step["text"], ""]
        out += table(step["function_list"])
        if step["also_list"]:
            out += ["", "Also: " + ", ".join(f"{f.name}()" for f in step["also_list"]) + "."]
        types = step["type_list"]
        if types:
            out += ["", "Types: " + ", ".join(type_link(t) for t in types) + "."]
        out.append("")
    if api.unplaced_types:
        out += ["Other types: " + ", ".join(type_link(t) for t in api.unplaced_types) + ".", ""]
    out += ["\\section handles Handles", "",
            "A page per handle: what it is, who makes it, and every function on it.", "",
            "| Handle | What it is |", "|:--|:--|"]
    handles = [api.groups[g]["type"] for g in api.group_order() if g.startswith("handle_")]
    for t in handles:
        out.append(f"| \\ref {group_id(t)} \"{t.name}\" | {md_brief(t)} |")
    out += ["", "More pages: " + ", ".join(
        f"\\ref {gid} \"{group_title(api, gid)}\"" for gid in api.group_order()
        if not api.groups[gid]["type"] or api.groups[gid]["type"].role != "handle") + ".", ""]
    out += ["*/", ""]

    # The conventions: the header's top comment.
    out += ["/**", "\\page conventions Conventions", ""]
    for kind, text in blocks[1:]:
        out += [("- " if kind == "li" else "") + md_escape(text), ""]
    out += ["*/", ""]

    # A group per handle (and per type with functions), in workflow order.
    for gid in api.group_order():
        group = api.groups[gid]
        t = group["type"]
        title = group_title(api, gid)
        out += ["/**", f"\\defgroup {gid} {title}"]
        if t:
            out += [f"\\brief {md_brief(t)}"]
            returned, taken = api.returned_by(t), api.taken_by(t)
            if returned:
                out += ["", "Returned by: " + ", ".join(f"{f.name}()" for f in returned) + "."]
            if taken:
                out += ["", "Taken by: " + ", ".join(f"{f.name}()" for f in taken) + "."]
        else:
            out += [f"\\brief {GENERAL_BRIEF}"]
        out += ["*/", ""]
        members = ([t] if t else []) + group["types"]
        for m in members:
            out += ["/**", f"{type_command(m)} {m.name}", f"\\ingroup {gid}", "*/"]
        for f in group["functions"]:
            decl = ("static " if f.static else "") + join_type(f.type, f.name) + f.argsstring
            out += ["/**", f"\\fn {decl}", f"\\ingroup {gid}", "*/"]
        out.append("")

    # Macros with a plain comment: that comment as their documentation.
    comments = macro_comments(api.header)
    for d in api.defines:
        if d.name in comments and not d.has_doc():
            out += ["/**", f"\\def {d.name}", md_escape(comments[d.name])]
            if api.defines_group:
                out.append(f"\\ingroup {api.defines_group}")
            out += ["*/", ""]
    return "\n".join(out) + "\n"


def type_command(m):
    # \typedef for the enums too: doxygen 1.9.4 does not find camb.h's enums with \enum
    # (their `: uint32_t` sits in an #if), and finds them by name with \typedef.
    return "\\struct" if m.role == "struct" else "\\typedef"


def type_link(t):
    return f"{t.name}" if t.role == "struct" else f"\\ref {t.name} \"{t.name}\""


def group_title(api, gid):
    group = api.groups[gid]
    return group["type"].name if group["type"] else GENERAL_TITLE


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--filter", metavar="FILE", help="print FILE as doxygen should read it")
    parser.add_argument("--xml", help="doxygen's XML output of camb.h")
    parser.add_argument("--header", help="include/camb.h")
    parser.add_argument("--man", help="where the man pages go (man3)")
    parser.add_argument("--dox", help="the doxygen input to write for the HTML run")
    parser.add_argument("--date", default="", help="the pages' date (.TH)")
    args = parser.parse_args()
    if args.filter:
        # doxygen's INPUT_FILTER for camb.h: doxygen drops a % that comes before a word
        # (its "do not link this word"), even in `code`, and `%XX` would show as XX: %% is
        # one %. The header has % in comments only.
        with open(args.filter, encoding="utf-8") as f:
            sys.stdout.write(re.sub(r"%(?=\w)", "%%", f.read()))
        return
    if not (args.xml and args.header and args.man):
        parser.error("--xml, --header and --man are required")

    with open(args.header, encoding="utf-8") as f:
        header = f.read()
    api = Api(load(args.xml), header)
    version_define = next((d for d in api.defines if d.name == "CAMB_VERSION_STRING"), None)
    version = version_define.initializer.strip('"') if version_define else "unknown"

    os.makedirs(args.man, exist_ok=True)
    pages = [function_page(api, f, version, args.date) for f in api.functions]
    pages += [type_page(api, t, version, args.date) for t in api.types]
    pages.append(overview_page(api, version, args.date))
    for page in pages:
        page.write(args.man)
    undocumented = [f.name for f in api.functions if not f.has_doc()]
    if undocumented:
        sys.exit("reference.py: functions without documentation: " + ", ".join(undocumented))

    if args.dox:
        with open(args.dox, "w", encoding="utf-8") as f:
            f.write(dox(api, version))
        with open(args.dox + ".doxyfile", "w", encoding="utf-8") as f:
            f.write("EXCLUDE_SYMBOLS = " + " ".join(include_guards(header)) + "\n")
    print(
        f"reference.py: {len(api.functions)} function pages, {len(api.types)} type pages "
        f"and camb.3 in {args.man}; {len(api.groups)} handle and type groups"
    )


if __name__ == "__main__":
    main()
