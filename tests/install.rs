//! The install step (scripts/install.sh, which `make install` runs) as a C developer
//! meets it. It installs into a temporary prefix, then builds examples/task_status.c
//! against the installed copy three ways and runs each program against the emulator:
//! pkg-config with libcamb.so, pkg-config --static with libcamb.a, and CMake's
//! find_package (tests/cmake) with both imported targets. Also checked: the files and
//! links, metadata that agrees with Cargo.toml and rustc, the CMake version rule,
//! DESTDIR staging and uninstall, a man page per function of camb.h among the files
//! (doxygen builds them: without it, a failure under CI and a SKIP line elsewhere).
//!
//! The install builds libcamb in release, reusing target/release when it is up to
//! date (seconds); from nothing it compiles the dependencies in release once.
//! CMake's part is skipped, with a SKIP line in the output, only when cmake is absent
//! (scripts/setup.sh, run by `make test`, installs it), and fails instead under CI.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");
const MINOR: &str = env!("CARGO_PKG_VERSION_MINOR");
const PATCH: &str = env!("CARGO_PKG_VERSION_PATCH");

/// What task_status prints for the emulator's demo-success task.
const SUCCESS: &str = "status: CAMB_STATUS_SUCCESS (SUCCESS)\nrun_id: 4242\nfinal: yes\n";

/// The SONAME of docs/ABI.md (and build.rs).
fn soname() -> String {
    if MAJOR == "0" {
        format!("libcamb.so.0.{MINOR}")
    } else {
        format!("libcamb.so.{MAJOR}")
    }
}

/// The file the SONAME link points to.
fn realname() -> String {
    format!("libcamb.so.{VERSION}")
}

fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-test")
}

/// A command with none of the loader settings `cargo test` gives its tests (its
/// LD_LIBRARY_PATH reaches target/debug/deps, where the build tree's libcamb is),
/// nor the variables that describe the test to cargo (see without_cargo_test_env).
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_remove("LD_LIBRARY_PATH");
    common::process::without_cargo_test_env(&mut command);
    command
}

fn checked(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs scripts/install.sh ACTION with these settings (and no others from outside).
fn install_script(action: &str, settings: &[(&str, &Path)]) -> String {
    let mut command = command(Path::new(MANIFEST_DIR).join("scripts/install.sh"));
    command.arg(action).current_dir(MANIFEST_DIR);
    for name in ["PREFIX", "DESTDIR", "LIBDIR", "INCLUDEDIR", "MANDIR"] {
        command.env_remove(name);
    }
    for (name, value) in settings {
        command.env(name, value);
    }
    let output = checked(&mut command);
    text(&output.stdout) + &text(&output.stderr)
}

/// The prefix the tests share, installed into once per test run.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = work_dir().join("prefix");
        let _ = fs::remove_dir_all(&prefix);
        let started = Instant::now();
        let log = install_script("install", &[("PREFIX", &prefix)]);
        println!("{log}");
        println!("installed in {:.1} s", started.elapsed().as_secs_f64());
        prefix
    })
}

fn pkg_config(args: &[&str]) -> String {
    let mut command = command("pkg-config");
    command
        .args(args)
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"));
    if let Err(e) = command.output() {
        panic!("cannot run pkg-config ({e}): install it (scripts/setup.sh, run by `make test`)");
    }
    text(&checked(&mut command).stdout).trim().to_owned()
}

/// Compiles examples/task_status.c strictly with these extra arguments.
fn compile(name: &str, flags: &[String]) -> PathBuf {
    let out = work_dir().join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    checked(
        command(&cc)
            .args([
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Wpedantic",
                "-Werror",
                "-O1",
            ])
            .arg(Path::new(MANIFEST_DIR).join("examples/task_status.c"))
            .args(flags)
            .arg("-o")
            .arg(&out),
    );
    out
}

/// The program's answer for the emulator's demo-success task.
fn run_task_status(program: &Path, library_path: Option<&Path>) -> String {
    let emulator = common::emulator();
    let mut command = command(program);
    command
        .args(["demo-success", &emulator.base_url()])
        .env("CAMB_API_KEY", common::DEFAULT_API_KEY);
    if let Some(dir) = library_path {
        command.env("LD_LIBRARY_PATH", dir);
    }
    text(&checked(&mut command).stdout)
}

/// The values of one kind of entry in the ELF dynamic section (NEEDED, SONAME, RUNPATH).
fn dynamic(file: &Path, tag: &str) -> Vec<String> {
    let output = checked(command("readelf").args(["--dynamic", "--wide"]).arg(file));
    text(&output.stdout)
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_owned()))
        .collect()
}

fn needs_libcamb(program: &Path) -> bool {
    dynamic(program, "NEEDED")
        .iter()
        .any(|n| n.starts_with("libcamb"))
}

fn words(flags: &str) -> Vec<String> {
    flags.split_whitespace().map(str::to_owned).collect()
}

/// What rustc says libcamb.a needs, asked now (cargo replays it when up to date).
fn native_static_libs() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = checked(command(cargo).current_dir(MANIFEST_DIR).args([
        "rustc",
        "--release",
        "-p",
        "camb-ffi",
        "--lib",
        "--crate-type",
        "staticlib",
        "--",
        "--print",
        "native-static-libs",
    ]));
    let stderr = text(&output.stderr);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("note: native-static-libs: "))
        .unwrap_or_else(|| panic!("no native-static-libs note in:\n{stderr}"))
        .trim()
        .to_owned()
}

fn cmake_available() -> bool {
    command("cmake")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn installs_the_library_with_its_soname_links_and_headers() {
    let prefix = prefix();
    let lib = prefix.join("lib");

    let real = lib.join(realname());
    assert!(real.symlink_metadata().unwrap().is_file(), "{real:?}");
    assert_eq!(dynamic(&real, "SONAME"), [soname()]);
    let link = |name: &str| fs::read_link(lib.join(name)).ok();
    assert_eq!(link(&soname()), Some(PathBuf::from(realname())));
    assert_eq!(link("libcamb.so"), Some(PathBuf::from(soname())));

    // Only camb_ functions are exported by the installed copy, as by the build tree's.
    let symbols = checked(command("nm").args(["-D", "--defined-only"]).arg(&real));
    let symbols = text(&symbols.stdout);
    let exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split(' ').nth(2))
        .collect();
    assert!(exported.contains(&"camb_version"), "{symbols}");
    assert!(exported.iter().all(|s| s.starts_with("camb_")), "{symbols}");

    let archive = fs::read(lib.join("libcamb.a")).unwrap();
    assert!(
        archive.starts_with(b"!<arch>\n"),
        "libcamb.a is not an archive"
    );

    let include = prefix.join("include");
    assert_eq!(
        fs::read(include.join("camb.h")).unwrap(),
        fs::read(Path::new(MANIFEST_DIR).join("include/camb.h")).unwrap(),
        "the installed camb.h differs from include/camb.h"
    );
    let hpp = Path::new(MANIFEST_DIR).join("include/camb.hpp");
    assert_eq!(include.join("camb.hpp").is_file(), hpp.is_file());

    for file in [
        "lib/pkgconfig/camb.pc",
        "lib/cmake/camb/cambConfig.cmake",
        "lib/cmake/camb/cambConfigVersion.cmake",
    ] {
        assert!(prefix.join(file).is_file(), "{file} is not installed");
    }
}

#[test]
fn metadata_agrees_with_cargo_toml_and_rustc() {
    let prefix = prefix();
    assert_eq!(pkg_config(&["--modversion", "camb"]), VERSION);

    let pc = fs::read_to_string(prefix.join("lib/pkgconfig/camb.pc")).unwrap();
    let field = |name: &str| {
        pc.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("camb.pc has no {name}\n{pc}"))
            .trim()
            .to_owned()
    };
    assert_eq!(field("Version:"), VERSION);
    let native = native_static_libs();
    assert_eq!(field("Libs.private:"), native, "camb.pc against rustc");

    let header = fs::read_to_string(prefix.join("include/camb.h")).unwrap();
    assert!(
        header.contains(&format!("#define CAMB_VERSION_STRING \"{VERSION}\"")),
        "the installed camb.h has another version"
    );

    let cmake_dir = prefix.join("lib/cmake/camb");
    let version_file = fs::read_to_string(cmake_dir.join("cambConfigVersion.cmake")).unwrap();
    assert!(
        version_file.contains(&format!("set(PACKAGE_VERSION \"{VERSION}\")")),
        "{version_file}"
    );
    let config = fs::read_to_string(cmake_dir.join("cambConfig.cmake")).unwrap();
    let cmake_libs = native
        .split_whitespace()
        .map(|l| l.strip_prefix("-l").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(";");
    for expected in [
        format!("IMPORTED_SONAME \"{}\"", soname()),
        format!("/{}\"", realname()),
        format!("INTERFACE_LINK_LIBRARIES \"{cmake_libs}\""),
    ] {
        assert!(config.contains(&expected), "{expected} not in\n{config}");
    }
}

#[test]
fn pkg_config_links_the_installed_shared_library() {
    let prefix = prefix();
    let flags = pkg_config(&["--cflags", "--libs", "camb"]);
    assert_eq!(
        words(&flags),
        [
            format!("-I{}", prefix.join("include").display()),
            format!("-L{}", prefix.join("lib").display()),
            "-lcamb".to_owned(),
        ]
    );
    let program = compile("task_status_pkgconfig_shared", &words(&flags));
    assert!(
        dynamic(&program, "NEEDED").contains(&soname()),
        "{:?}",
        dynamic(&program, "NEEDED")
    );

    // As after installing into a directory the loader searches: no rpath, the
    // directory from the environment.
    let lib = prefix.join("lib");
    let ldd = checked(command("ldd").arg(&program).env("LD_LIBRARY_PATH", &lib));
    let expected = format!("{} => {}", soname(), lib.join(soname()).display());
    assert!(
        text(&ldd.stdout).contains(&expected),
        "{expected} not in\n{}",
        text(&ldd.stdout)
    );
    assert_eq!(run_task_status(&program, Some(&lib)), SUCCESS);
}

#[test]
fn pkg_config_static_links_the_archive() {
    let flags = words(&pkg_config(&["--static", "--cflags", "--libs", "camb"]));
    let native = words(&native_static_libs());
    assert!(
        flags.ends_with(&native),
        "{flags:?} does not end with rustc's {native:?}"
    );
    // With both libcamb.so and libcamb.a installed, -lcamb takes the shared one:
    // naming the archive is the documented way (docs/LINKING.md).
    let flags: Vec<String> = flags
        .into_iter()
        .map(|f| {
            if f == "-lcamb" {
                "-l:libcamb.a".to_owned()
            } else {
                f
            }
        })
        .collect();
    assert!(flags.contains(&"-l:libcamb.a".to_owned()), "{flags:?}");
    let program = compile("task_status_pkgconfig_static", &flags);
    assert!(
        !needs_libcamb(&program),
        "linked statically, yet needs {:?}",
        dynamic(&program, "NEEDED")
    );
    assert_eq!(run_task_status(&program, None), SUCCESS);
}

#[test]
fn cmake_find_package_links_both_imported_targets() {
    if !cmake_available() {
        common::skip_without_tool(
            "cmake",
            "install::cmake_find_package_links_both_imported_targets",
            "scripts/setup.sh",
        );
        return;
    }
    let prefix = prefix();
    let build = work_dir().join("cmake-build");
    let _ = fs::remove_dir_all(&build);
    let configure = checked(
        command("cmake")
            .arg("-S")
            .arg(Path::new(MANIFEST_DIR).join("tests/cmake"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg("-DCMAKE_BUILD_TYPE=Release"),
    );
    let expected = format!(
        "camb {VERSION} from {}",
        prefix.join("lib/cmake/camb").display()
    );
    assert!(
        text(&configure.stdout).contains(&expected),
        "{expected} not in\n{}",
        text(&configure.stdout)
    );
    checked(command("cmake").arg("--build").arg(&build));

    // camb::camb: the shared library, found at run time through the build's RUNPATH.
    let shared = build.join("task_status_shared");
    assert!(dynamic(&shared, "NEEDED").contains(&soname()));
    let lib = prefix.join("lib").display().to_string();
    let runpath = [dynamic(&shared, "RUNPATH"), dynamic(&shared, "RPATH")].concat();
    assert!(
        runpath.iter().any(|p| p.split(':').any(|d| d == lib)),
        "{runpath:?}"
    );
    assert_eq!(run_task_status(&shared, None), SUCCESS);

    // camb::camb_static: the archive and the system libraries it needs.
    let stat = build.join("task_status_static");
    assert!(!needs_libcamb(&stat), "{:?}", dynamic(&stat, "NEEDED"));
    assert_eq!(run_task_status(&stat, None), SUCCESS);
}

#[test]
fn the_cmake_version_file_follows_the_abi_policy() {
    if !cmake_available() {
        common::skip_without_tool(
            "cmake",
            "install::the_cmake_version_file_follows_the_abi_policy",
            "scripts/setup.sh",
        );
        return;
    }
    let version_file = prefix().join("lib/cmake/camb/cambConfigVersion.cmake");
    let ask = |request: &str, sizeof_void_p: &str| {
        let output = checked(
            command("cmake")
                .arg(format!("-DVERSION_FILE={}", version_file.display()))
                .arg(format!("-DREQUEST={request}"))
                .arg(format!("-DSIZEOF_VOID_P={sizeof_void_p}"))
                .arg("-P")
                .arg(Path::new(MANIFEST_DIR).join("tests/cmake/check_version.cmake")),
        );
        text(&output.stderr).trim().to_owned()
    };
    let pointer = std::mem::size_of::<usize>().to_string();
    let verdict = |request: &str| ask(request, &pointer);
    let (major, minor, patch): (u32, u32, u32) = (
        MAJOR.parse().unwrap(),
        MINOR.parse().unwrap(),
        PATCH.parse().unwrap(),
    );
    let yes = |r: &str, exact: bool| {
        format!(
            "{r}: compatible=TRUE exact={} unsuitable=",
            bool_word(exact)
        )
    };
    let no = |r: &str| format!("{r}: compatible=FALSE exact=FALSE unsuitable=");

    let mut cases = vec![
        (String::new(), yes("", false)),
        (VERSION.to_owned(), yes(VERSION, true)),
        (
            format!("{major}.{minor}.{}", patch + 1),
            no(&format!("{major}.{minor}.{}", patch + 1)),
        ),
        (format!("{}", major + 1), no(&format!("{}", major + 1))),
    ];
    if major == 0 {
        // A minor release may break the ABI: another 0.MINOR is another ABI.
        let same = format!("0.{minor}");
        let next = format!("0.{}", minor + 1);
        cases.push((same.clone(), yes(&same, patch == 0)));
        cases.push((next.clone(), no(&next)));
        if minor > 0 {
            let previous = format!("0.{}", minor - 1);
            cases.push((previous.clone(), no(&previous)));
        }
        let range = format!("0.{minor}...0.{}", minor + 2);
        cases.push((range.clone(), yes(&range, false)));
        let below = format!("0.0...<0.{minor}");
        if minor > 0 {
            cases.push((below.clone(), no(&below)));
        }
    } else {
        let older = format!("{major}.0");
        cases.push((older.clone(), yes(&older, minor == 0 && patch == 0)));
    }
    for (request, expected) in &cases {
        assert_eq!(&verdict(request), expected, "request {request:?}");
    }

    // A library for another pointer size does not serve the build.
    let other = if pointer == "8" { "4" } else { "8" };
    assert!(
        ask(VERSION, other).ends_with("unsuitable=TRUE"),
        "{}",
        ask(VERSION, other)
    );
}

/// The functions include/camb.h declares (a declaration starts at a line's first column,
/// as tests/symbols.rs reads them), the header's static inline helpers among them.
fn header_functions() -> Vec<String> {
    let header = fs::read_to_string(Path::new(MANIFEST_DIR).join("include/camb.h")).unwrap();
    header
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()) && !l.starts_with("typedef"))
        .filter_map(|l| {
            let before = &l[..l.find('(')?];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            Some(before[start..].to_owned())
        })
        .filter(|name| name.starts_with("camb_"))
        .collect()
}

fn bool_word(value: bool) -> &'static str {
    if value { "TRUE" } else { "FALSE" }
}

#[test]
fn destdir_stages_the_install_and_uninstall_removes_it() {
    let stage = work_dir().join("stage");
    let _ = fs::remove_dir_all(&stage);
    let prefix = Path::new("/opt/camb");
    let libdir = Path::new("/opt/camb/lib/x86_64-linux-gnu");
    let settings: [(&str, &Path); 3] =
        [("DESTDIR", &stage), ("PREFIX", prefix), ("LIBDIR", libdir)];
    install_script("install", &settings);

    let files = |root: &Path| -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.symlink_metadata().unwrap().is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(root).unwrap();
                    found.insert(relative.display().to_string());
                }
            }
        }
        found
    };
    let lib = "opt/camb/lib/x86_64-linux-gnu";
    let mut expected: BTreeSet<String> = [
        "opt/camb/include/camb.h".to_owned(),
        format!("{lib}/{}", realname()),
        format!("{lib}/{}", soname()),
        format!("{lib}/libcamb.so"),
        format!("{lib}/libcamb.a"),
        format!("{lib}/pkgconfig/camb.pc"),
        format!("{lib}/cmake/camb/cambConfig.cmake"),
        format!("{lib}/cmake/camb/cambConfigVersion.cmake"),
    ]
    .into();
    if Path::new(MANIFEST_DIR).join("include/camb.hpp").is_file() {
        expected.insert("opt/camb/include/camb.hpp".to_owned());
    }
    // The man pages (scripts/docs.sh --man-only): one per function of camb.h, and camb.3.
    let man3 = "opt/camb/share/man/man3/";
    let (man, staged): (BTreeSet<String>, BTreeSet<String>) =
        files(&stage).into_iter().partition(|f| f.starts_with(man3));
    assert_eq!(staged, expected);
    if common::tool_available("doxygen") {
        let missing: Vec<String> = ["camb".to_owned()]
            .into_iter()
            .chain(header_functions())
            .map(|f| format!("{man3}{f}.3"))
            .filter(|page| !man.contains(page))
            .collect();
        assert!(missing.is_empty(), "man pages not installed: {missing:?}");
    } else {
        common::skip_without_tool(
            "doxygen",
            "install::destdir_stages_the_install_and_uninstall_removes_it (its man pages)",
            "scripts/setup.sh",
        );
        assert!(man.is_empty(), "{man:?}");
    }

    // The files name where they will be, not where they were staged.
    let pc = fs::read_to_string(stage.join(lib).join("pkgconfig/camb.pc")).unwrap();
    for line in [
        "prefix=/opt/camb",
        "libdir=${exec_prefix}/lib/x86_64-linux-gnu",
        "includedir=${prefix}/include",
    ] {
        assert!(pc.lines().any(|l| l == line), "{line} not in\n{pc}");
    }
    let config = fs::read_to_string(stage.join(lib).join("cmake/camb/cambConfig.cmake")).unwrap();
    for text in [
        "\"${CMAKE_CURRENT_LIST_DIR}/../../../..\"",
        "set(_camb_libdir \"${_camb_prefix}/lib/x86_64-linux-gnu\")",
        "set(_camb_includedir \"${_camb_prefix}/include\")",
    ] {
        assert!(config.contains(text), "{text} not in\n{config}");
    }
    assert!(!config.contains(&stage.display().to_string()), "{config}");

    install_script("uninstall", &settings);
    assert_eq!(files(&stage), BTreeSet::new(), "left after uninstall");
}
