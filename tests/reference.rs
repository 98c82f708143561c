//! The C reference that `make docs` builds (scripts/docs.sh: doxygen, then
//! scripts/reference.py) from include/camb.h: a man page per function and an HTML
//! reference. It is built once into a temporary directory, then checked for every function
//! the header declares, which must be exactly those libcamb.so exports: a man page of its
//! own (its prototype, a sentence of its own comment) that renders without warnings, an
//! entry in the HTML on the page of its handle, and a row in the index, whose sections
//! follow the workflow.
//!
//! doxygen is required: without it these tests fail under CI and print SKIP elsewhere
//! (scripts/setup.sh installs it). Rendering uses groff, which man-db brings.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A function camb.h declares, with the doc comment above it.
#[derive(Debug)]
struct Function {
    name: String,
    /// The declaration, from its first line to the `;` (or the `{` of a static inline).
    prototype: String,
    /// The comment's text, without `/**`, the leading ` * ` and backquotes.
    comment: String,
    /// False for the header's own `static inline` helpers.
    exported: bool,
}

fn header() -> String {
    fs::read_to_string(Path::new(MANIFEST_DIR).join("include/camb.h"))
        .expect("include/camb.h is readable")
}

/// Every `camb_*(` declaration of camb.h: a declaration starts at the line's first column
/// (cbindgen writes one parameter per line after the first), as tests/symbols.rs reads it.
fn header_functions() -> Vec<Function> {
    let header = header();
    let lines: Vec<&str> = header.lines().collect();
    let mut functions = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with(|c: char| c.is_ascii_alphabetic())
            || line.starts_with("typedef")
            || line.starts_with("extern")
        {
            continue;
        }
        let Some(paren) = line.find('(') else {
            continue;
        };
        let before = &line[..paren];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &before[start..];
        if !name.starts_with("camb_") {
            continue;
        }
        let mut declaration = Vec::new();
        for l in &lines[i..] {
            declaration.push(*l);
            if l.trim_end().ends_with(';') || l.trim_end().ends_with('{') {
                break;
            }
        }
        let prototype = declaration.join(" ");
        let prototype = prototype.trim_end_matches(" {").trim_end().to_owned();
        // CAMB_API (how the function is linked) stands on the line above its
        // prototype, between it and its comment.
        let above = if i > 0 && lines[i - 1].trim() == "CAMB_API" {
            i - 1
        } else {
            i
        };
        let mut comment = Vec::new();
        if above > 0 && lines[above - 1].trim() == "*/" {
            for l in lines[..above - 1].iter().rev() {
                if l.trim_start().starts_with("/**") {
                    break;
                }
                let text = l.trim_start().strip_prefix('*').unwrap_or(l).trim();
                comment.push(text);
            }
        }
        comment.reverse();
        functions.push(Function {
            name: name.to_owned(),
            prototype,
            comment: comment.join(" ").replace('`', ""),
            exported: !line.starts_with("static"),
        });
    }
    functions
}

/// The first sentence: up to the first full stop followed by a space.
fn first_sentence(text: &str) -> String {
    let text = squash(text);
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}

/// Text to compare as a reader sees it: typographic quotes and hyphens as ASCII, one space
/// for any run of white space, none inside parentheses and before a comma, none after a
/// hyphen that ends a line (groff breaks a line after one: "text-to-" "sound").
fn squash(text: &str) -> String {
    let mut joined = String::new();
    for line in text.lines() {
        if !joined.is_empty() && !joined.ends_with('-') {
            joined.push(' ');
        }
        joined.push_str(if joined.ends_with('-') {
            line.trim_start()
        } else {
            line
        });
    }
    let ascii: String = joined
        .chars()
        .map(|c| match c {
            '\u{2010}' | '\u{2011}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    let mut out = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
    for (from, to) in [("( ", "("), (" )", ")"), (" ,", ",")] {
        out = out.replace(from, to);
    }
    out
}

/// What libcamb.so exports, read with readelf as tests/symbols.rs does: the defined
/// GLOBAL (or WEAK) symbols, without their version.
fn exported_symbols() -> BTreeSet<String> {
    let library = common::lib_path();
    let output = checked(
        Command::new("readelf")
            .args(["--dyn-syms", "--wide"])
            .arg(&library),
    );
    text(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 8 || !fields[0].ends_with(':') || fields[0] == "Num:" {
                return None;
            }
            let (kind, bind, ndx, name) = (fields[3], fields[4], fields[6], fields[7]);
            let defined = ndx != "UND" && !matches!(kind, "SECTION" | "FILE");
            let global = matches!(bind, "GLOBAL" | "WEAK" | "UNIQUE");
            (defined && global).then(|| name.split('@').next().unwrap_or(name).to_owned())
        })
        .collect()
}

fn checked(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The reference, built once per test run by scripts/docs.sh; None (after a SKIP line, or
/// a panic under CI) when doxygen is missing.
fn reference(test: &str) -> Option<&'static Path> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    if !common::tool_available("doxygen") {
        common::skip_without_tool("doxygen", &format!("reference::{test}"), "scripts/setup.sh");
        return None;
    }
    Some(BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reference");
        let output = checked(
            Command::new(Path::new(MANIFEST_DIR).join("scripts/docs.sh"))
                .arg(&out)
                .current_dir(MANIFEST_DIR),
        );
        println!("{}{}", text(&output.stdout), text(&output.stderr));
        out
    }))
}

fn man_page(docs: &Path, name: &str) -> PathBuf {
    docs.join("man/man3").join(format!("{name}.3"))
}

/// A page as `man` shows it, as plain text (groff, without bold or underlining).
fn render(page: &Path) -> String {
    let output = checked(
        Command::new("groff")
            .args(["-man", "-Tutf8", "-P-cbou"])
            .arg(page),
    );
    text(&output.stdout)
}

/// The lines of a rendered page from the heading `title` to the next heading.
fn section(rendered: &str, title: &str) -> String {
    let mut lines = rendered.lines().skip_while(|l| l.trim_end() != title);
    lines.next();
    lines
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_header_declares_what_the_library_exports() {
    let declared: BTreeSet<String> = header_functions()
        .into_iter()
        .filter(|f| f.exported)
        .map(|f| f.name)
        .collect();
    assert!(
        declared.len() >= 50 && declared.contains("camb_client_get_task_status"),
        "the header parser missed functions: {declared:?}"
    );
    assert_eq!(declared, exported_symbols());
}

#[test]
fn every_function_has_a_man_page_of_its_own() {
    let Some(docs) = reference("every_function_has_a_man_page_of_its_own") else {
        return;
    };
    let functions = header_functions();
    let mut problems = Vec::new();
    for f in &functions {
        let page = man_page(docs, &f.name);
        let Ok(source) = fs::read_to_string(&page) else {
            problems.push(format!("{}: no page {}", f.name, page.display()));
            continue;
        };
        if source.lines().any(|l| l.starts_with(".so ")) {
            problems.push(format!("{}: a .so link, not a page", f.name));
        }
        let rendered = render(&page);
        let name = squash(&section(&rendered, "NAME"));
        if !name.starts_with(&format!("{} - ", f.name)) {
            problems.push(format!("{}: NAME is {name:?}", f.name));
        }
        let synopsis = squash(&section(&rendered, "SYNOPSIS"));
        if !synopsis.contains("#include <camb.h>") {
            problems.push(format!("{}: no #include in {synopsis:?}", f.name));
        }
        let prototype = squash(&f.prototype);
        if !synopsis.contains(&prototype) {
            problems.push(format!(
                "{}: the prototype\n    {prototype}\nis not in the SYNOPSIS\n    {synopsis}",
                f.name
            ));
        }
        let sentence = first_sentence(&f.comment);
        if sentence.len() < 10 || !squash(&section(&rendered, "DESCRIPTION")).contains(&sentence) {
            problems.push(format!(
                "{}: its comment's first sentence {sentence:?} is not in its DESCRIPTION",
                f.name
            ));
        }
        // A function whose comment lists its errors has them under RETURN VALUE.
        if f.comment.contains("Errors: ") && f.prototype.starts_with("camb_result ") {
            let returns = squash(&section(&rendered, "RETURN VALUE"));
            if !returns.contains("Errors: ") {
                problems.push(format!("{}: no errors in RETURN VALUE", f.name));
            }
        }
        if !section(&rendered, "SEE ALSO").contains("camb(3)") {
            problems.push(format!("{}: SEE ALSO does not name camb(3)", f.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The overview names every function, and the handles have pages of their own.
    let overview = squash(&render(&man_page(docs, "camb")));
    for f in &functions {
        assert!(
            overview.contains(&format!("{}(3)", f.name)),
            "camb.3 lacks {}",
            f.name
        );
    }
    for handle in handles() {
        let page = render(&man_page(docs, &handle));
        assert!(
            section(&page, "FUNCTIONS").contains(&format!("{handle}_")),
            "{handle}.3 lists no functions"
        );
    }
}

#[test]
fn the_man_pages_render_without_warnings() {
    let Some(docs) = reference("the_man_pages_render_without_warnings") else {
        return;
    };
    let mut pages: Vec<PathBuf> = fs::read_dir(docs.join("man/man3"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.len() > header_functions().len(), "{pages:?}");
    for page in &pages {
        let output = checked(Command::new("groff").args(["-man", "-ww", "-z"]).arg(page));
        assert!(
            output.stderr.is_empty(),
            "groff warns about {}:\n{}",
            page.display(),
            text(&output.stderr)
        );
    }
    // And as man-db shows them, which is what `man 3 camb_client_new` runs.
    if Command::new("man").arg("--version").output().is_ok() {
        for name in ["camb", "camb_client_get_task_status", "camb_client"] {
            let output = checked(
                Command::new("man")
                    .args(["--warnings", "-l", "-P", "cat"])
                    .arg(man_page(docs, name))
                    .env("MANWIDTH", "80"),
            );
            assert!(
                output.stderr.is_empty(),
                "man -l {name}.3 warns:\n{}",
                text(&output.stderr)
            );
            assert!(
                text(&output.stdout).contains(name),
                "{}",
                text(&output.stdout)
            );
        }
    }
}

/// The handles of camb.h: its opaque `typedef struct X X;`.
fn handles() -> Vec<String> {
    header()
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("typedef struct ")?.strip_suffix(';')?;
            let (a, b) = rest.split_once(' ')?;
            (a == b && a.starts_with("camb_")).then(|| a.to_owned())
        })
        .collect()
}

/// The page doxygen writes for a handle: group `handle_<name>` (scripts/reference.py),
/// in doxygen's file naming (an underscore doubled).
fn handle_page(handle: &str) -> String {
    format!("group__handle__{}.html", handle.replace('_', "__"))
}

/// The anchor of the documentation of `name()` in an HTML page, if it is there.
fn anchor(html: &str, name: &str) -> Option<String> {
    let title = format!("</span>{name}()</h2>");
    let at = html.find(&title)?;
    let before = &html[..at];
    let href = before.rfind("href=\"#")? + "href=\"#".len();
    let id = &before[href..href + before[href..].find('"')?];
    html.contains(&format!("id=\"{id}\""))
        .then(|| id.to_owned())
}

#[test]
fn every_function_is_in_the_html_on_its_handles_page() {
    let Some(docs) = reference("every_function_is_in_the_html_on_its_handles_page") else {
        return;
    };
    let html = docs.join("html");
    let read = |page: &str| {
        fs::read_to_string(html.join(page))
            .unwrap_or_else(|e| panic!("{}: {e}", html.join(page).display()))
    };
    let handles = handles();
    assert!(handles.len() >= 5, "{handles:?}");
    let groups: Vec<(String, String)> = fs::read_dir(&html)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("group__") && n.ends_with(".html"))
        .map(|n| {
            let content = read(&n);
            (n, content)
        })
        .collect();
    let file_page = read("camb_8h.html");
    let mut problems = Vec::new();
    for f in header_functions() {
        // Its handle: the longest handle name it starts with (camb_client_builder_new is
        // camb_client_builder's); the others are on some group's page.
        let handle = handles
            .iter()
            .filter(|h| f.name.starts_with(&format!("{h}_")))
            .max_by_key(|h| h.len());
        let found = match handle {
            Some(h) => {
                let page = handle_page(h);
                let content = groups.iter().find(|(n, _)| *n == page).map(|(_, c)| c);
                content
                    .and_then(|c| anchor(c, &f.name))
                    .map(|id| (page, id))
            }
            None => groups
                .iter()
                .find_map(|(n, c)| anchor(c, &f.name).map(|id| (n.clone(), id))),
        };
        let Some((page, id)) = found else {
            problems.push(format!(
                "{}: not documented on {}",
                f.name,
                handle.map_or("any group page".to_owned(), |h| handle_page(h))
            ));
            continue;
        };
        // camb.h's own page lists it, linking there.
        if !file_page.contains(&format!("href=\"{page}#{id}\"")) {
            problems.push(format!(
                "{}: camb_8h.html has no link to {page}#{id}",
                f.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A handle's page describes the handle itself too.
    for h in &handles {
        let page = read(&handle_page(h));
        assert!(
            page.contains(&format!("</span>{h}</h2>")),
            "{h} not described on its page"
        );
    }
}

#[test]
fn the_index_follows_the_workflow() {
    let Some(docs) = reference("the_index_follows_the_workflow") else {
        return;
    };
    let index = fs::read_to_string(docs.join("html/index.html")).unwrap();
    // The first cell of a table row: where the index lists a function.
    let row = |name: &str| {
        let link_end = format!(">{name}()</a>");
        let mut from = 0;
        while let Some(at) = index[from..].find(&link_end) {
            let at = from + at;
            let cell = index[..at].rfind("<td").unwrap_or(0);
            let previous_row = index[..cell].rfind("<tr").unwrap_or(0);
            if index[previous_row..cell].matches("<td").count() == 0 {
                return Some(at);
            }
            from = at + link_end.len();
        }
        None
    };
    let missing: Vec<String> = header_functions()
        .into_iter()
        .filter(|f| row(&f.name).is_none())
        .map(|f| f.name)
        .collect();
    assert!(missing.is_empty(), "not in the index's tables: {missing:?}");
    let workflow = [
        "camb_client_builder_new",
        "camb_client_get_task_status",
        "camb_client_create_task",
        "camb_client_wait_for_task",
        "camb_client_save_audio",
        "camb_client_speak",
        "camb_job_submit",
        "camb_last_error",
    ];
    let positions: Vec<usize> = workflow.iter().map(|f| row(f).unwrap()).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "the index does not list {workflow:?} in this order: {positions:?}"
    );
}
