#!/usr/bin/env bash
# Builds libcamb's C reference from include/camb.h with doxygen: what `make docs` runs.
#
#   scripts/docs.sh [--man-only] [OUT]
#
# OUT (default <target>/docs, <target> being cargo's target directory) receives:
#   OUT/html/index.html   the HTML reference: the index in the order a program uses the API,
#                         the conventions, a page per handle with its functions, camb.h
#   OUT/man/man3/*.3      a man page per function of camb.h (man 3 camb_client_new), per
#                         handle and type (man 3 camb_client), and camb.3, the overview
#   OUT/build/            doxygen's XML and the generated doxygen input, kept for a look
# --man-only builds the man pages only (what `make install` needs): no HTML run.
#
# How: doxygen (settings in docs/Doxyfile) reads camb.h into XML; scripts/reference.py
# writes the man pages from it, and the doxygen input for the HTML (main page, one group
# per handle); doxygen then writes the HTML from camb.h and that input. Nothing is
# copied by hand: a function added to camb.h gets its pages on the next run. A doxygen
# warning (an undocumented member, a malformed comment) fails the build.
#
# Needs doxygen (Debian: apt-get install doxygen) and python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."

man_only=
if [ "${1:-}" = --man-only ]; then
    man_only=1
    shift
fi
if [ $# -gt 1 ]; then
    echo "usage: $0 [--man-only] [OUT]" >&2
    exit 2
fi
for tool in doxygen python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "docs: $tool is not installed (Debian: apt-get install $tool; scripts/setup.sh)" >&2
        exit 1
    }
done

if [ $# -eq 1 ]; then
    out=$1
else
    # shellcheck source=scripts/lib/target-dir.sh
    . scripts/lib/target-dir.sh # TARGET_DIR: where cargo builds (asks "$CARGO")
    out=$TARGET_DIR/docs
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=$out/build
rm -rf "$build" "$out/man"
[ -n "$man_only" ] || rm -rf "$out/html"
mkdir -p "$build" "$out/man/man3"

root=$PWD
version=$(sed -n 's/^#define CAMB_VERSION_STRING "\(.*\)"$/\1/p' include/camb.h)
# The pages' date: the header's last commit (reproducible), else today.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
    date=$(git log -1 --format=%cs -- include/camb.h 2>/dev/null || true)
    [ -n "$date" ] || date=$(date -u +%Y-%m-%d)
fi

# docs/Doxyfile, then these settings (a later one wins), read by doxygen from stdin. The
# filter keeps a % before a word in camb.h's comments (`%XX`), which doxygen would drop.
run_doxygen() {
    {
        cat docs/Doxyfile
        printf '%s\n' "FILTER_PATTERNS = \"*.h=python3 $root/scripts/reference.py --filter\"" "$@"
    } | doxygen -
}

echo "== doxygen: camb.h to XML"
run_doxygen \
    "INPUT = \"$root/include/camb.h\"" \
    "OUTPUT_DIRECTORY = \"$build\"" \
    "PROJECT_NUMBER = $version" \
    "GENERATE_HTML = NO" "GENERATE_XML = YES" "XML_OUTPUT = xml" \
    "EXTRACT_ALL = YES" "WARNINGS = NO" "WARN_AS_ERROR = NO" \
    "JAVADOC_AUTOBRIEF = NO" # the paragraphs as camb.h has them; reference.py finds the summary

echo "== scripts/reference.py: man pages and the HTML's index and handle pages"
python3 scripts/reference.py --xml "$build/xml" --header include/camb.h \
    --man "$out/man/man3" --dox "$build/reference.dox" --date "$date"
touch "$out/man/.built"

if [ -z "$man_only" ]; then
    echo "== doxygen: HTML"
    # doxygen's own layout, with the groups' tab named for what they are.
    doxygen -l "$build/DoxygenLayout.xml" >/dev/null
    sed -i 's|<tab type="modules" visible="yes" title=""|<tab type="modules" visible="yes" title="Handles and types"|' \
        "$build/DoxygenLayout.xml"
    status=0
    run_doxygen \
        "INPUT = \"$root/include/camb.h\" \"$build/reference.dox\"" \
        "OUTPUT_DIRECTORY = \"$out\"" \
        "PROJECT_NUMBER = $version" \
        "LAYOUT_FILE = \"$build/DoxygenLayout.xml\"" \
        "WARN_LOGFILE = \"$build/warnings.log\"" \
        "@INCLUDE = \"$build/reference.dox.doxyfile\"" || status=$?
    warnings=$(grep -c . "$build/warnings.log" 2>/dev/null || true)
    warnings=${warnings:-0}
    if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
        cat "$build/warnings.log" >&2 2>/dev/null || true
        echo "docs: doxygen failed with $warnings warning line(s) (above; $build/warnings.log)" >&2
        exit 1
    fi
    echo "   $out/html/index.html (doxygen: no warnings)"
fi
echo "   $out/man/man3: $(find "$out/man/man3" -name '*.3' | wc -l) pages (man -l $out/man/man3/camb.3)"
