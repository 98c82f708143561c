#!/usr/bin/env bash
# Installs libcamb as a C library: what `make install` and `make uninstall` run.
#
#   scripts/install.sh [install]     build (release; reused when up to date) and install
#   scripts/install.sh uninstall     remove what install puts there (for this version)
#
# Settings, from the environment (or make's command line):
#   PREFIX      where it goes (default /usr/local); must be absolute
#   DESTDIR     staging root for packagers: files go to $DESTDIR$PREFIX/..., while
#               the pkg-config and CMake files name $PREFIX
#   LIBDIR      default $PREFIX/lib (e.g. $PREFIX/lib/x86_64-linux-gnu)
#   INCLUDEDIR  default $PREFIX/include
#   CARGO       default cargo
#
# What it installs (version X.Y.Z from Cargo.toml; SONAME as build.rs sets it):
#   $INCLUDEDIR/camb.h, and camb.hpp when the repository has it
#   $LIBDIR/libcamb.so.X.Y.Z       the shared object, SONAME libcamb.so.0.Y (X = 0)
#                                  or libcamb.so.X (from 1.0)
#   $LIBDIR/libcamb.so.0.Y         -> libcamb.so.X.Y.Z   (what programs load)
#   $LIBDIR/libcamb.so             -> libcamb.so.0.Y     (what -lcamb finds)
#   $LIBDIR/libcamb.a
#   $LIBDIR/pkgconfig/camb.pc      Libs.private = rustc's native-static-libs, derived now
#   $LIBDIR/cmake/camb/cambConfig.cmake, cambConfigVersion.cmake
#                                  imported targets camb::camb and camb::camb_static
#
# It copies <target>/release/libcamb.so as cargo built it, <target> being cargo's target
# directory (./target, or CARGO_TARGET_DIR or build.target-dir): the SONAME is set on every
# build (build.rs), so the library the tests run is the one installed. It does not
# run ldconfig: do that after installing into a directory the loader caches.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-install}
case "$action" in
install | uninstall) ;;
*)
    echo "usage: $0 [install|uninstall]" >&2
    exit 2
    ;;
esac

CARGO=${CARGO:-cargo}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
case "$PREFIX" in
/*) ;;
*)
    echo "install: PREFIX must be an absolute path, not '$PREFIX'" >&2
    exit 2
    ;;
esac
# No trailing slashes (but / stays /).
while [ "${#PREFIX}" -gt 1 ] && [ "${PREFIX%/}" != "$PREFIX" ]; do PREFIX=${PREFIX%/}; done
PREFIX_SLASH=${PREFIX%/}/
LIBDIR=${LIBDIR:-${PREFIX_SLASH}lib}
INCLUDEDIR=${INCLUDEDIR:-${PREFIX_SLASH}include}

# The version, from Cargo.toml's [package] section.
version=$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
if ! [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "install: cannot read a MAJOR.MINOR.PATCH version from Cargo.toml (got '$version')" >&2
    exit 1
fi
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
# The same rule as build.rs (and docs/ABI.md).
if [ "$major" = 0 ]; then soname=libcamb.so.0.$minor; else soname=libcamb.so.$major; fi
realname=libcamb.so.$version

dest_lib=$DESTDIR$LIBDIR
dest_include=$DESTDIR$INCLUDEDIR
dest_pkgconfig=$dest_lib/pkgconfig
dest_cmake=$dest_lib/cmake/camb
headers=(camb.h)
[ -f include/camb.hpp ] && headers+=(camb.hpp)

if [ "$action" = uninstall ]; then
    for f in "${headers[@]}"; do rm -fv "$dest_include/$f"; done
    rm -fv "$dest_lib/libcamb.so" "$dest_lib/$soname" "$dest_lib/$realname" "$dest_lib/libcamb.a" \
        "$dest_pkgconfig/camb.pc" "$dest_cmake/cambConfig.cmake" "$dest_cmake/cambConfigVersion.cmake"
    rmdir "$dest_cmake" 2>/dev/null || true
    exit 0
fi

# ---------------------------------------------------------------- build
# The native libraries libcamb.a needs, as rustc reports them for this toolchain and
# these dependencies. Cargo keeps this unit apart from the normal build and replays
# the note when it is up to date, so this costs a compile only when sources change.
echo "== asking rustc what libcamb.a needs from the system"
if ! rustc_out=$("$CARGO" rustc --release -p camb-ffi --lib --crate-type staticlib \
    -- --print native-static-libs 2>&1); then
    echo "$rustc_out" >&2
    echo "install: cargo rustc failed" >&2
    exit 1
fi
native_static_libs=$(sed -n 's/^note: native-static-libs: *//p' <<<"$rustc_out" | tail -n 1)
if [ -z "$native_static_libs" ]; then
    echo "$rustc_out" >&2
    echo "install: rustc did not report native-static-libs" >&2
    exit 1
fi
echo "   $native_static_libs"

echo "== building libcamb (release)"
"$CARGO" build --release -p camb-ffi --lib
# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh # TARGET_DIR: where cargo builds (asks "$CARGO")
built=$TARGET_DIR/release
for f in libcamb.so libcamb.a; do
    [ -f "$built/$f" ] || { echo "install: $built/$f was not built" >&2; exit 1; }
done

# The build must be the version it claims: the header's macros and the SONAME.
header_version=$(sed -n 's/^#define CAMB_VERSION_STRING "\(.*\)"$/\1/p' include/camb.h)
if [ "$header_version" != "$version" ]; then
    echo "install: include/camb.h says $header_version, Cargo.toml $version" >&2
    exit 1
fi
built_soname=$(readelf -d "$built/libcamb.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$built_soname" != "$soname" ]; then
    echo "install: $built/libcamb.so has SONAME '$built_soname', expected $soname (build.rs)" >&2
    exit 1
fi

# ---------------------------------------------------------------- substitutions
# A path inside PREFIX as the .pc and CMake files write it: relative to the prefix
# (${prefix}/lib, ${_camb_prefix}/lib) when it is inside, else absolute.
inside_prefix() { # PATH VARIABLE
    case "$1/" in
    "$PREFIX_SLASH"*) printf '%s/%s' "$2" "${1#"$PREFIX_SLASH"}" ;;
    *) printf '%s' "$1" ;;
    esac
}
pc_libdir=$(inside_prefix "$LIBDIR" '${exec_prefix}')
pc_includedir=$(inside_prefix "$INCLUDEDIR" '${prefix}')
cmake_libdir=$(inside_prefix "$LIBDIR" '${_camb_prefix}')
cmake_includedir=$(inside_prefix "$INCLUDEDIR" '${_camb_prefix}')
pc_libdir=${pc_libdir%/} pc_includedir=${pc_includedir%/}
cmake_libdir=${cmake_libdir%/} cmake_includedir=${cmake_includedir%/}
# From lib/cmake/camb up to the prefix (../../.. for the default LIBDIR), or the
# prefix itself when LIBDIR is elsewhere.
case "$LIBDIR/" in
"$PREFIX_SLASH"*)
    cmake_to_prefix=../..
    rest=${LIBDIR#"$PREFIX_SLASH"}
    IFS=/ read -r -a parts <<<"$rest"
    for p in "${parts[@]}"; do [ -n "$p" ] && cmake_to_prefix=$cmake_to_prefix/..; done
    ;;
*) cmake_to_prefix=$PREFIX ;;
esac
# "-lgcc_s -lutil" -> "gcc_s;util" for INTERFACE_LINK_LIBRARIES.
cmake_native_static_libs=$(sed 's/^-l//; s/ -l/;/g; s/ /;/g' <<<"$native_static_libs")
pointer_bits=$("${RUSTC:-rustc}" --print cfg 2>/dev/null | sed -n 's/^target_pointer_width="\(.*\)"$/\1/p')
pointer_bits=${pointer_bits:-64}

subst() { # TEMPLATE OUTPUT NAME=VALUE...
    local template=$1 output=$2 script="" pair name value
    shift 2
    for pair in "$@"; do
        name=${pair%%=*} value=${pair#*=}
        value=$(printf '%s' "$value" | sed 's/[\\|&]/\\&/g')
        script+="s|@${name}@|${value}|g;"
    done
    sed "$script" "$template" >"$output.tmp"
    if grep -n '@[A-Z_]*@' "$output.tmp" >&2; then
        echo "install: $template has a placeholder left" >&2
        exit 1
    fi
    mv "$output.tmp" "$output"
}

# ---------------------------------------------------------------- install
echo "== installing libcamb $version into ${DESTDIR:+$DESTDIR (staging) }$PREFIX"
install -d "$dest_include" "$dest_lib" "$dest_pkgconfig" "$dest_cmake"
for f in "${headers[@]}"; do
    install -m 644 "include/$f" "$dest_include/$f"
    echo "   $dest_include/$f"
done
# install(1) unlinks before writing: programs running the old copy keep their mapping.
install -m 755 "$built/libcamb.so" "$dest_lib/$realname"
ln -sfn "$realname" "$dest_lib/$soname"
ln -sfn "$soname" "$dest_lib/libcamb.so"
install -m 644 "$built/libcamb.a" "$dest_lib/libcamb.a"
echo "   $dest_lib/$realname (SONAME $soname), $soname -> $realname, libcamb.so -> $soname"
echo "   $dest_lib/libcamb.a"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
subst packaging/camb.pc.in "$tmp/camb.pc" \
    "PREFIX=$PREFIX" "LIBDIR=$pc_libdir" "INCLUDEDIR=$pc_includedir" \
    "VERSION=$version" "NATIVE_STATIC_LIBS=$native_static_libs"
subst packaging/cambConfig.cmake.in "$tmp/cambConfig.cmake" \
    "VERSION=$version" "CMAKE_DIR_TO_PREFIX=$cmake_to_prefix" \
    "CMAKE_LIBDIR=$cmake_libdir" "CMAKE_INCLUDEDIR=$cmake_includedir" \
    "REALNAME=$realname" "SONAME=$soname" "CMAKE_NATIVE_STATIC_LIBS=$cmake_native_static_libs"
subst packaging/cambConfigVersion.cmake.in "$tmp/cambConfigVersion.cmake" \
    "VERSION=$version" "MAJOR=$major" "MINOR=$minor" \
    "POINTER_BITS=$pointer_bits" "SIZEOF_VOID_P=$((pointer_bits / 8))"
install -m 644 "$tmp/camb.pc" "$dest_pkgconfig/camb.pc"
install -m 644 "$tmp/cambConfig.cmake" "$tmp/cambConfigVersion.cmake" "$dest_cmake/"
echo "   $dest_pkgconfig/camb.pc"
echo "   $dest_cmake/cambConfig.cmake, cambConfigVersion.cmake"
echo "== done"
