//! Build script for libdevmapper-rs.
//!
//! 1. Compiles `src/shim.c` (the variadic logging functions, the two
//!    exported data objects and the compat `dm_task_get_info@Base`) with the
//!    system C compiler into `$OUT_DIR/libdmshim.a`, linked whole-archive.
//! 2. Passes the soname and our version script (`src/exports.map`) to the
//!    cdylib link. `tools/cc-link` drops rustc's own version script in favour
//!    of ours.
//! 3. Regenerates `libdevmapper.h` from `src/` (and the hand-written parts in
//!    `src/header/`) with cbindgen into
//!    `$OUT_DIR`, and into `include/` when `DM_UPDATE_HEADER=1`. A failure here
//!    is only a warning: the header never breaks the library build
//!    (`make check-header` catches it instead).
//!
//! Environment:
//! - `DM_SONAME`: soname of the shared library (default `libdevmapper.so.1.02.1`,
//!   Debian's; `libdevmapper.so.1.02` is upstream's).
//! - `DM_LINKER`: linker for the cdylib, passed as `-fuse-ld=` (default `bfd`,
//!   GNU ld; `default` leaves rustc's choice, `lld` on current toolchains).
//! - `DM_HOT_TEXT=0`: link without `src/hot-text.ld` (the hot functions
//!   gathered at the start of the text).
//! - `DM_UPDATE_HEADER=1`: also write the generated header to `include/`.
//! - `CC_<target>`, `TARGET_CC`, `CC`, `AR_<target>`, `TARGET_AR`, `AR`: the C
//!   compiler and archiver (default `cc`, `ar`); `CFLAGS` is appended.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_SONAME: &str = "libdevmapper.so.1.02.1";
const SHIM_LIB: &str = "dmshim";
const HEADER_NAME: &str = "libdevmapper.h";

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    for path in ["build.rs", "cbindgen.toml", "src"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let target = env::var("TARGET").unwrap_or_default();
    let target_us = target.replace('-', "_");
    for var in [
        "DM_SONAME",
        "DM_LINKER",
        "DM_HOT_TEXT",
        "DM_UPDATE_HEADER",
        "CFLAGS",
        "CC",
        "TARGET_CC",
        "AR",
        "TARGET_AR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-env-changed=CC_{target_us}");
    println!("cargo:rerun-if-env-changed=AR_{target_us}");

    build_shim(&root, &out, &target_us);
    link_args(&root);
    generate_header(&root, &out);
}

/// First non-empty variable among `names`.
fn first_env(names: &[String]) -> Option<OsString> {
    names.iter().filter_map(env::var_os).find(|v| !v.is_empty())
}

/// A tool given as an environment variable may carry leading arguments
/// (`CC="ccache gcc"`): split it on whitespace.
fn tool_command(value: &OsString) -> Command {
    let text = value.to_string_lossy();
    let mut words = text.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("cc"));
    cmd.args(words);
    cmd
}

fn run(mut cmd: Command, what: &str) {
    match cmd.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{what} failed ({status}): {cmd:?}"),
        Err(e) => panic!("{what}: cannot run {cmd:?}: {e}"),
    }
}

/// Compile the C shim into `$OUT_DIR/libdmshim.a` and link it whole-archive:
/// nothing on the Rust side references its exported symbols, so a plain
/// static link would drop them.
fn build_shim(root: &Path, out: &Path, target_us: &str) {
    let src = root.join("src/shim.c");
    let obj = out.join("shim.o");
    let lib = out.join(format!("lib{SHIM_LIB}.a"));

    let cc = first_env(&[format!("CC_{target_us}"), "TARGET_CC".into(), "CC".into()])
        .unwrap_or_else(|| "cc".into());
    let mut compile = tool_command(&cc);
    compile.args([
        "-std=gnu11",
        "-fPIC",
        "-O2",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fvisibility=default",
        // One section per function, as rustc emits them: the shim's hot
        // log checks can then be placed by src/hot-text.ld too.
        "-ffunction-sections",
        "-c",
    ]);
    if let Some(flags) = env::var_os("CFLAGS") {
        compile.args(flags.to_string_lossy().split_whitespace());
    }
    compile.arg("-o").arg(&obj).arg(&src);
    run(compile, "compiling src/shim.c");

    let _ = fs::remove_file(&lib);
    let ar = first_env(&[format!("AR_{target_us}"), "TARGET_AR".into(), "AR".into()])
        .unwrap_or_else(|| "ar".into());
    let mut archive = tool_command(&ar);
    archive.arg("crsD").arg(&lib).arg(&obj);
    run(archive, "archiving the shim");

    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static:+whole-archive={SHIM_LIB}");
}

/// Linker, soname and version script for the cdylib.
fn link_args(root: &Path) {
    let soname = env::var("DM_SONAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SONAME.to_string());
    if !soname.starts_with("libdevmapper.so")
        || soname.contains(|c: char| c == ',' || c == '/' || c.is_whitespace())
    {
        panic!("DM_SONAME={soname:?}: expected a file name like libdevmapper.so.1.02.1");
    }
    // GNU ld by default: like the stock library's linker it records each
    // version node's parent (lld, rustc's default since 1.90, does not).
    let linker = env::var("DM_LINKER").unwrap_or_else(|_| "bfd".to_string());
    if !linker.is_empty() && linker != "default" {
        println!("cargo:rustc-cdylib-link-arg=-fuse-ld={linker}");
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

    // The functions the common operations run, gathered at the start of the
    // text (src/hot-text.ld says why): fewer of the library's pages become
    // resident in each process. An INSERT script for GNU ld (the default
    // here); other linkers (lld understands INSERT too, untested) go
    // without it, and so does DM_HOT_TEXT=0.
    let hot = root.join("src/hot-text.ld");
    let wanted = env::var("DM_HOT_TEXT").map_or(true, |v| v != "0");
    if wanted && hot.is_file() && linker == "bfd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{}", hot.display());
    }

    let map = root.join("src/exports.map");
    if map.is_file() {
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
            map.display()
        );
    } else {
        println!(
            "cargo:warning=src/exports.map is missing: the library is linked without \
             symbol versions"
        );
    }
}

/// The root module of the C ABI shell, where cbindgen starts parsing.
fn capi_root(root: &Path) -> Option<PathBuf> {
    Some(root.join("src/lib.rs")).filter(|p| p.is_file())
}

/// Regenerate the header. Never fails the build: problems become warnings and
/// leave `$OUT_DIR/libdevmapper.h` absent (with the reason in
/// `libdevmapper.h.error`), which `make check-header` reports.
fn generate_header(root: &Path, out: &Path) {
    let generated = out.join(HEADER_NAME);
    let error_file = out.join(format!("{HEADER_NAME}.error"));
    let _ = fs::remove_file(&generated);
    let _ = fs::remove_file(&error_file);

    let text = match render_header(root) {
        Ok(text) => text,
        Err(reason) => {
            println!("cargo:warning=libdevmapper.h not generated: {reason}");
            let _ = fs::write(&error_file, format!("{reason}\n"));
            return;
        }
    };
    if let Err(e) = fs::write(&generated, &text) {
        println!("cargo:warning=cannot write {}: {e}", generated.display());
        return;
    }
    if env::var("DM_UPDATE_HEADER").is_ok_and(|v| v == "1") {
        let committed = root.join("include").join(HEADER_NAME);
        let unchanged = fs::read(&committed).is_ok_and(|old| old == text.as_bytes());
        if !unchanged {
            let written = fs::create_dir_all(root.join("include"))
                .and_then(|()| fs::write(&committed, &text));
            if let Err(e) = written {
                println!("cargo:warning=cannot update {}: {e}", committed.display());
            }
        }
    }
}

/// The hand-written parts of the header (see cbindgen.toml for the layout).
fn header_parts(root: &Path, config: &mut cbindgen::Config) -> Result<(), String> {
    let dir = root.join("src/header");
    let read = |name: &str| {
        fs::read_to_string(dir.join(name)).map_err(|e| format!("src/header/{name}: {e}"))
    };
    config.header = Some(read("begin.h")?.trim_end().to_string());
    let mut prologue = String::new();
    prologue.push_str(&read("prologue.h")?);
    let mut families: Vec<PathBuf> = fs::read_dir(dir.join("families"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    families.retain(|p| p.extension().is_some_and(|x| x == "h"));
    families.sort();
    for f in families {
        let text = fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        prologue.push('\n');
        prologue.push_str(&text);
    }
    config.after_includes = Some(prologue);
    config.trailer = Some(read("end.h")?.trim_end().to_string());
    Ok(())
}

fn render_header(root: &Path) -> Result<String, String> {
    let src = capi_root(root).ok_or("no src/lib.rs")?;
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    header_parts(root, &mut config)?;
    // cbindgen reports some malformed input by panicking; contain that too.
    let bindings = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        cbindgen::Builder::new()
            .with_config(config)
            .with_src(src)
            .generate()
    }))
    .map_err(|_| "cbindgen panicked".to_string())?
    .map_err(|e| format!("cbindgen: {e}"))?;
    let mut raw = Vec::new();
    bindings.write(&mut raw);
    let text = String::from_utf8(raw).map_err(|e| format!("cbindgen output: {e}"))?;
    Ok(flexible_array_members(&text))
}

/// cbindgen renders a trailing `[T; 0]` field as `T name[0];` (a GNU
/// zero-length array). The stock header uses C99 flexible array members
/// (`T name[];`), which are also valid in `-pedantic` builds. Only struct
/// member lines (indented, one declaration each) are rewritten.
fn flexible_array_members(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let is_member = body.starts_with(' ') && !body.trim_start().starts_with(['*', '/', '#']);
        match body.strip_suffix("[0];") {
            Some(head)
                if is_member && head.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') =>
            {
                result.push_str(head);
                result.push_str("[];");
                result.push_str(&line[body.len()..]);
            }
            _ => result.push_str(line),
        }
    }
    result
}
