#!/usr/bin/env bash
# Builds the npm package `libcamb` (bindings/node) as dist/libcamb-<version>.tgz at
# the repository root: the release libcamb.so (`cargo build --release -p camb-ffi`,
# which cargo reuses when it is up to date) is copied into the package at
# native/linux-x64/libcamb.so (git-ignored there), and `npm pack` packs what
# package.json's `files` lists. tests/node_package.rs runs it; so can a packager.
#
# Idempotent, and quick when nothing changed: the library is copied only when it
# differs from the copy in the package, and the tarball is packed again only when
# a file it ships is newer than it. Needs cargo, Node.js and npm (no network: the
# package's dependency, koffi, is installed by whoever installs the tarball).
# Prints the tarball's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=bindings/node
dist=dist

# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh # TARGET_DIR: where cargo builds

# The platform the package names in package.json (os, cpu) is the one whose
# library it ships: this machine's.
case "$(uname -s)-$(uname -m)" in
Linux-x86_64) platform=linux-x64 ;;
*)
    echo "$0: the package ships libcamb.so for linux-x64 (package.json's os and cpu); this machine is $(uname -s)-$(uname -m)" >&2
    exit 1
    ;;
esac
named=$(node -p "const p = require('./$pkg/package.json'); p.os.join() + '-' + p.cpu.join()")
if [ "$named" != "$platform" ]; then
    echo "$0: $pkg/package.json names the platform $named (os, cpu), but the library built here is for $platform" >&2
    exit 1
fi

# The package is versioned as the library it ships.
version=$("${CARGO:-cargo}" metadata --format-version 1 --no-deps |
    node -e 'let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
        console.log(JSON.parse(s).packages.find((p) => p.name === "camb-ffi").version); });')
package_version=$(node -p "require('./$pkg/package.json').version")
if [ "$version" != "$package_version" ]; then
    echo "$0: $pkg/package.json has version $package_version, Cargo.toml $version: they must agree" >&2
    exit 1
fi

echo "== package-node: cargo build --release -p camb-ffi" >&2
"${CARGO:-cargo}" build --release --quiet -p camb-ffi

library="$TARGET_DIR/release/libcamb.so"
copy="$pkg/native/$platform/libcamb.so"
if ! cmp -s "$library" "$copy"; then
    echo "== package-node: copying $library to $copy" >&2
    mkdir -p "$(dirname "$copy")"
    cp "$library" "$copy.tmp.$$"
    mv -f "$copy.tmp.$$" "$copy"
fi

tarball="$dist/libcamb-$version.tgz"
stale=
if [ -f "$tarball" ]; then
    # What npm pack takes: package.json and what `files` lists (README.md among them).
    while IFS= read -r shipped; do
        if [ ! -e "$pkg/$shipped" ] || [ -n "$(find "$pkg/$shipped" -newer "$tarball" -print -quit)" ]; then
            stale=1
        fi
    done < <(node -p "['package.json', ...require('./$pkg/package.json').files].join('\n')")
else
    stale=1
fi
if [ -n "$stale" ]; then
    echo "== package-node: npm pack ($pkg) --pack-destination $dist/" >&2
    mkdir -p "$dist"
    # Packed beside the tarball, then renamed over it: never a half-written tarball
    # that looks up to date.
    work=$(mktemp -d "$dist/.libcamb-pack.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    (cd "$pkg" && npm pack --silent --pack-destination "$OLDPWD/$work" >/dev/null)
    mv -f "$work/libcamb-$version.tgz" "$tarball"
else
    echo "== package-node: $tarball is up to date" >&2
fi
echo "$tarball"
