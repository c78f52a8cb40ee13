//! Compiles zenith.c (both headers, implementation on, WebAssembly plugins in) with the system C
//! compiler into a static library, and links liburing, libnuma and libm. No crates, no network.
//!
//! Where the C sources come from, in this order:
//! 1. `ZENITH_INCLUDE_DIR`: a directory holding zenith.c, zenith.h, zenith_numa.h, zenith_wasm.h;
//! 2. the repository, when this crate is `bindings/rust` of a Zenith checkout (`../../zenith.c`);
//! 3. `csrc/`, the copies `vendor.sh` puts into the crate before `cargo package` (so a packaged
//!    crate builds anywhere).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: [&str; 4] = ["zenith.c", "zenith.h", "zenith_numa.h", "zenith_wasm.h"];

fn complete(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file())
}

fn source_dir(manifest: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed=ZENITH_INCLUDE_DIR");
    if let Some(d) = env::var_os("ZENITH_INCLUDE_DIR") {
        let d = PathBuf::from(d);
        assert!(complete(&d), "zenith: ZENITH_INCLUDE_DIR={} lacks one of {:?}", d.display(), FILES);
        return d;
    }
    let repo = manifest.join("../..");
    let in_repo = match (repo.join("bindings/rust").canonicalize(), manifest.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if in_repo && complete(&repo) {
        return repo;
    }
    let vendored = manifest.join("csrc");
    if complete(&vendored) {
        return vendored;
    }
    panic!(
        "zenith: no C sources: set ZENITH_INCLUDE_DIR, build inside the Zenith repository, or run \
         vendor.sh before packaging (it copies {:?} into csrc/)",
        FILES
    );
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let src = source_dir(&manifest);
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let obj = out.join("zenith.o");
    let status = Command::new(&cc)
        .args(["-std=c11", "-O2", "-g", "-fPIC", "-DZENITH_PLUGINS", "-c"])
        .arg(src.join("zenith.c"))
        .arg("-I")
        .arg(&src)
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
    println!("cargo:rustc-link-lib=m");
    for f in FILES {
        println!("cargo:rerun-if-changed={}", src.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=CC");
}
