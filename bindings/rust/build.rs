//! Compiles the two-line zenith.c (both headers, implementation on) with the system C compiler
//! into a static library, and links liburing and libnuma. No crates, no network.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let obj = out.join("zenith.o");
    let status = Command::new(&cc)
        .args(["-std=c11", "-O2", "-g", "-fPIC", "-c"])
        .arg(root.join("zenith.c"))
        .arg("-I")
        .arg(&root)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("zenith: could not run the C compiler (set CC)");
    assert!(status.success(), "zenith: compiling zenith.c failed");
    let status = Command::new("ar")
        .arg("rcs")
        .arg(out.join("libzenith_c.a"))
        .arg(&obj)
        .status()
        .expect("zenith: could not run ar");
    assert!(status.success(), "zenith: ar failed");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=zenith_c");
    println!("cargo:rustc-link-lib=uring");
    println!("cargo:rustc-link-lib=numa");
    println!("cargo:rustc-link-lib=pthread");
    for f in ["zenith.c", "zenith.h", "zenith_numa.h"] {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=CC");
}
