//! Call overhead from Rust: ns per zenith_version() call and per pool acquire+release pair
//! through the safe wrappers. `cargo run --release --example overhead` (bench/ffi_overhead.sh).
use std::time::Instant;

fn main() {
    let n = 10_000_000u32;
    let mut sink = 0u32;
    let t = Instant::now();
    for _ in 0..n {
        sink = sink.wrapping_add(zenith::version().0);
    }
    let v = t.elapsed().as_nanos() as f64 / n as f64;
    let pool = zenith::Pool::new(4096, 1024).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        let b = pool.acquire().unwrap();
        sink = sink.wrapping_add(b.as_ptr() as u32);
    }
    let p = t.elapsed().as_nanos() as f64 / n as f64;
    println!("rust {:.1} {:.1} {}", v, p, sink % 2);
}
