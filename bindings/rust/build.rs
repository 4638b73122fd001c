//! Links libsecaggc. The library's folder comes from SECAGG_LIB_DIR, else the package's debug build folder
//! (../../.build/debug); tests and binaries of this package get it as their run path too.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=SECAGG_LIB_DIR");
    let directory = env::var_os("SECAGG_LIB_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../../.build/debug")
    });
    println!("cargo:rustc-link-search=native={}", directory.display());
    println!("cargo:rustc-link-lib=dylib=secaggc");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", directory.display());
}
