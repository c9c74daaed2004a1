//! Release builds of the `ccm` binary keep line tables for readable backtraces
//! (`profile.release`), compressed by the linker: uncompressed they made most of
//! a 110 MiB binary, and the standard library's backtraces read compressed
//! sections as they are.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    // GNU ld and lld take the flag; other platforms' linkers do not.
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if release && linux {
        println!("cargo:rustc-link-arg-bins=-Wl,--compress-debug-sections=zlib");
    }
}
