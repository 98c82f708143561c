//! The shared object's dynamic interface, read with binutils' readelf: only the
//! `camb_` functions of include/camb.h are exported (rustc hides everything else,
//! Rust's runtime included), and the SONAME follows the ABI policy of docs/ABI.md.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn readelf(args: &[&str], file: &Path) -> String {
    let output = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run readelf (binutils): {e}"));
    assert!(
        output.status.success(),
        "readelf {args:?} {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("readelf writes text")
}

/// A defined dynamic symbol: (name without @version, ELF type such as FUNC).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Export {
    name: String,
    kind: String,
}

/// The symbols `file` exports: defined (not UND), GLOBAL, WEAK or UNIQUE.
fn exports(file: &Path) -> Vec<Export> {
    // "   96: 00000000001039c0    40 FUNC    GLOBAL DEFAULT   15 camb_client_new"
    readelf(&["--dyn-syms", "--wide"], file)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 || !fields[0].ends_with(':') || fields[0] == "Num:" {
                return None;
            }
            let (kind, bind, ndx, name) = (fields[3], fields[4], fields[6], fields[7]);
            let defined = ndx != "UND" && !matches!(kind, "SECTION" | "FILE");
            let global = matches!(bind, "GLOBAL" | "WEAK" | "UNIQUE");
            (defined && global).then(|| Export {
                name: name.split('@').next().unwrap_or(name).to_owned(),
                kind: kind.to_owned(),
            })
        })
        .collect()
}

/// The functions include/camb.h declares for the library to define: a declaration
/// starts at the line's first column (cbindgen writes one argument per line after
/// the first). The header's own `static inline` helpers are not the library's.
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("include/camb.h"))
        .expect("include/camb.h is readable");
    header
        .lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter(|line| !line.starts_with("typedef") && !line.starts_with("extern"))
        .filter(|line| !line.starts_with("static inline"))
        .filter_map(|line| {
            let before_paren = &line[..line.find('(')?];
            let start = before_paren
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            Some(before_paren[start..].to_owned())
        })
        .filter(|name| name.starts_with("camb_"))
        .collect()
}

/// The SONAME rule of build.rs and docs/ABI.md.
fn expected_soname() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if major == "0" {
        format!("libcamb.so.0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        format!("libcamb.so.{major}")
    }
}

#[test]
fn only_camb_symbols_are_exported() {
    let library = common::lib_path();
    let exports = exports(&library);
    assert!(
        exports.len() >= 10,
        "too few exports read from {}: {exports:?}",
        library.display()
    );
    let foreign: Vec<&Export> = exports
        .iter()
        .filter(|e| !e.name.starts_with("camb_"))
        .collect();
    assert!(
        foreign.is_empty(),
        "{} exports symbols outside the camb_ namespace: {foreign:?}",
        library.display()
    );
    // The C API has functions only: no exported variables.
    let not_functions: Vec<&Export> = exports.iter().filter(|e| e.kind != "FUNC").collect();
    assert!(
        not_functions.is_empty(),
        "exports that are not functions: {not_functions:?}"
    );
}

#[test]
fn exactly_the_functions_of_the_header_are_exported() {
    let declared = header_functions();
    assert!(
        declared.contains("camb_version") && declared.contains("camb_client_new"),
        "the header parser missed functions: {declared:?}"
    );
    let exported: BTreeSet<String> = exports(&common::lib_path())
        .into_iter()
        .map(|e| e.name)
        .collect();
    let missing: Vec<&String> = declared.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "declared in camb.h, not exported: {missing:?}"
    );
    let undeclared: Vec<&String> = exported.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "exported, not declared in camb.h: {undeclared:?}"
    );
}

#[test]
fn the_shared_object_names_itself_by_its_abi_version() {
    let library = common::lib_path();
    let dynamic = readelf(&["--dynamic", "--wide"], &library);
    let soname = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_owned()));
    assert_eq!(
        soname.as_deref(),
        Some(expected_soname().as_str()),
        "{dynamic}"
    );
    // What a program linked with -lcamb asks for resolves in the build tree too.
    let link = common::lib_dir().join(expected_soname());
    assert_eq!(
        std::fs::read_link(&link).ok().as_deref(),
        Some(Path::new("libcamb.so")),
        "{}",
        link.display()
    );
}
