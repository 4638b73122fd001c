//! Links libsecaggc. The library's folder comes from SECAGG_LIB_DIR if set, else from pkg-config (package
//! `secagg`, e.g. PKG_CONFIG_PATH=<client package>/lib/pkgconfig); the build stops with an error naming both when
//! neither gives a folder holding libsecaggc.so. The `pkg-config` program is run directly (no crate needed).
//! This package's own tests, examples and binaries get the folder as their run path too.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIBRARY: &str = "libsecaggc.so";

/// The `libdir` of pkg-config's `secagg` package, or why there is none.
fn pkg_config_libdir() -> Result<PathBuf, String> {
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let output = Command::new(&program)
        .args(["--variable=libdir", "secagg"])
        .output()
        .map_err(|error| format!("could not run {program}: {error}"))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let message = if message.is_empty() { "no package `secagg` on its search path".to_string() } else { message };
        return Err(format!("`{program} --variable=libdir secagg` failed: {message}"));
    }
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if libdir.is_empty() {
        return Err(format!("`{program} secagg` has no libdir"));
    }
    Ok(PathBuf::from(libdir))
}

fn holds_library(directory: &Path) -> Result<(), String> {
    if directory.join(LIBRARY).exists() {
        Ok(())
    } else {
        Err(format!("{} has no {LIBRARY}", directory.display()))
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=SECAGG_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-changed=build.rs");
    let found = match env::var_os("SECAGG_LIB_DIR") {
        Some(directory) => {
            let directory = PathBuf::from(directory);
            holds_library(&directory).map(|_| directory).map_err(|why| format!("SECAGG_LIB_DIR is set, but {why}"))
        }
        None => pkg_config_libdir()
            .and_then(|directory| holds_library(&directory).map(|_| directory))
            .map_err(|why| format!("SECAGG_LIB_DIR is not set, and pkg-config did not find it: {why}")),
    };
    let directory = found.unwrap_or_else(|why| {
        panic!(
            "\n\nsecagg: cannot find libsecaggc ({why}).\n\
             Either set SECAGG_LIB_DIR to the folder holding {LIBRARY}, or let pkg-config find the `secagg` package:\n\
             PKG_CONFIG_PATH=<unpacked secagg-client package>/lib/pkgconfig (scripts/package-client builds it).\n\n"
        )
    });
    println!("cargo:rustc-link-search=native={}", directory.display());
    println!("cargo:rustc-link-lib=dylib=secaggc");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", directory.display());
    // Dependent packages' build scripts read it as DEP_SECAGGC_LIB_DIR (e.g. to set their own run path).
    println!("cargo:lib_dir={}", directory.display());
}
