//! Writes include/camb.h from the `extern "C"` surface in src/ffi with cbindgen.
//! The header is committed; CI checks that a build leaves it unchanged.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("set by cargo");
    let (major, minor, patch) = (version("MAJOR"), version("MINOR"), version("PATCH"));
    let version_macros = format!(
        "\n/* The version of this header; camb_version() gives the library's at run time. */\n\
         #define CAMB_VERSION_MAJOR {major}\n\
         #define CAMB_VERSION_MINOR {minor}\n\
         #define CAMB_VERSION_PATCH {patch}\n\
         #define CAMB_VERSION_STRING \"{major}.{minor}.{patch}\"\n\
         /* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */\n\
         #define CAMB_VERSION_NUMBER ({major} * 10000 + {minor} * 100 + {patch})\n"
    );

    // The shared object's SONAME, set on every build so that what the tests run is what
    // `make install` ships (scripts/install.sh copies this libcamb.so as is). Before
    // 1.0 a minor release may break the ABI (docs/ABI.md), so the name carries it.
    // Programs linked with -lcamb then ask for this name at run time, so the build
    // tree gets a symlink of that name beside libcamb.so (made below; it dangles
    // until the library is linked).
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "unix"))
        && !matches!(
            target_os.as_str(),
            "macos" | "ios" | "tvos" | "watchos" | "visionos"
        );
    if elf {
        let soname = if major == "0" {
            format!("libcamb.so.0.{minor}")
        } else {
            format!("libcamb.so.{major}")
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        link_soname_in_build_tree(&soname);
    }

    if target_os == "windows" {
        embed_version_resource(&major, &minor, &patch);
    }

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    config.after_includes = Some(version_macros + LINKAGE_MACROS);

    let header = match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            let mut out = Vec::new();
            bindings.write(&mut out);
            out
        }
        Err(e) => panic!("cbindgen could not generate include/camb.h: {e}"),
    };
    let path = crate_dir.join("include").join("camb.h");
    // Rewrite only on change, so an unchanged header keeps its timestamp.
    if fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        fs::create_dir_all(path.parent().expect("has a parent")).expect("can create include/");
        fs::write(&path, header).expect("can write include/camb.h");
    }
}

/// How the header's functions are linked. On Windows a program that uses camb.dll
/// imports them (`__declspec(dllimport)` spares a jump through a stub for each call,
/// and is required for data); one that links the static library, libcamb.a, defines
/// CAMB_STATIC first. x86-64 has one calling convention, which is C's and libcamb's
/// (Rust's `extern "C"`), so none is named.
const LINKAGE_MACROS: &str = "
/**
 * CAMB_API marks each function of libcamb. On Windows it imports the function from
 * camb.dll; define CAMB_STATIC before including this header to link the static
 * library (libcamb.a) instead. Elsewhere it is empty. On x86-64 Windows there is a
 * single calling convention, the one every function and callback here uses.
 */
#if defined(_WIN32) && !defined(CAMB_STATIC)
#define CAMB_API __declspec(dllimport)
#else
#define CAMB_API
#endif
";

/// Gives camb.dll a version resource (what Explorer's Details tab and installers
/// read): the crate's version as FILEVERSION and PRODUCTVERSION, the file's name and
/// what it is. embed-resource runs the toolchain's resource compiler (mingw-w64's
/// windres, or rc.exe for MSVC) and links the result into the cdylib only.
fn embed_version_resource(major: &str, minor: &str, patch: &str) {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let version = format!("{major}.{minor}.{patch}");
    let numeric = format!("{major},{minor},{patch},0");
    // VOS_NT_WINDOWS32 is 0x40004, VFT_DLL 2: numbers, so no SDK header is needed.
    let rc = format!(
        r#"1 VERSIONINFO
FILEVERSION {numeric}
PRODUCTVERSION {numeric}
FILEFLAGSMASK 0x3F
FILEFLAGS 0x0
FILEOS 0x40004
FILETYPE 0x2
FILESUBTYPE 0x0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "FileDescription", "libcamb: a C client for CAMB.AI's text-to-sound API"
      VALUE "FileVersion", "{version}"
      VALUE "InternalName", "camb"
      VALUE "OriginalFilename", "camb.dll"
      VALUE "ProductName", "libcamb"
      VALUE "ProductVersion", "{version}"
      VALUE "LegalCopyright", "MIT OR Apache-2.0"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
"#
    );
    let path = out_dir.join("camb-version.rc");
    fs::write(&path, rc).expect("can write the version resource");
    embed_resource::compile_for_cdylib(&path, embed_resource::NONE)
        .manifest_required()
        .expect("the resource compiler (windres or rc.exe) builds camb.dll's version resource");
}

/// Makes `<profile>/SONAME -> libcamb.so` and `<profile>/deps/SONAME -> libcamb.so`
/// (cargo build puts the library in the first, cargo test in the second), so that a
/// program linked against the build tree with -lcamb finds it at run time. OUT_DIR
/// is `<profile>/build/<package>-<hash>/out`. A failure is only a warning.
fn link_soname_in_build_tree(soname: &str) {
    #[cfg(unix)]
    {
        let Some(out_dir) = env::var_os("OUT_DIR").map(PathBuf::from) else {
            return;
        };
        let Some(profile_dir) = out_dir.ancestors().nth(3) else {
            return;
        };
        for dir in [profile_dir.to_path_buf(), profile_dir.join("deps")] {
            let link = dir.join(soname);
            let target = std::path::Path::new("libcamb.so");
            if fs::read_link(&link).ok().as_deref() == Some(target) {
                continue;
            }
            // Under a private name, then renamed: concurrent builds cannot collide.
            let tmp = dir.join(format!("{soname}.tmp{}", std::process::id()));
            let _ = fs::remove_file(&tmp);
            let made = fs::create_dir_all(&dir)
                .and_then(|()| std::os::unix::fs::symlink(target, &tmp))
                .and_then(|()| fs::rename(&tmp, &link));
            if let Err(e) = made {
                println!(
                    "cargo:warning=cannot link {} to libcamb.so: {e}",
                    link.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = soname;
}
