//! Call overhead from Rust, one line: `rust VERSION_NS PAIR_NS ECHO_NS POST_NS` --
//! ns per zenith_version() call, per pool acquire+release pair, per echo round trip of 64 bytes
//! (a client connection to an echo server on the same reactor, both driven by run_once from
//! Rust; mean over 20,000 round trips after 2,000 of warm-up) and per message posted from
//! another std thread (200,000 post_message calls, retried on ZENITH_E_FULL, while this thread
//! runs run_once until the closure saw them all; wall time / messages).
//! `cargo run --release --example overhead` (bench/ffi_overhead.sh).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use zenith::{ConnectOptions, Server, ServerConfig};

fn sink(v: u32) {
    let mut s = 0u32;
    unsafe { std::ptr::write_volatile(&mut s, v) };
}

const TIMEOUT: i32 = -1; // run_once waits for the next event, as a program would

fn echo_ns() -> f64 {
    const WARM: usize = 2_000;
    const N: usize = 20_000;
    let mut cfg = ServerConfig::default();
    cfg.buffer_count = 1024;
    let mut s = Server::new("127.0.0.1", cfg, |c, d| c.send(d).expect("echo")).unwrap();
    s.start().unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let connected = Arc::new(AtomicUsize::new(0));
    let (g, c) = (got.clone(), connected.clone());
    let opts = ConnectOptions::new("127.0.0.1", s.port());
    let id = s
        .connect_with(&opts, move |_, _, r| { r.expect("connect"); c.store(1, Ordering::Relaxed) }, move |_, d| {
            g.fetch_add(d.len(), Ordering::Relaxed);
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while connected.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no connection");
        s.run_once(10).unwrap();
    }
    let msg = [7u8; 64];
    let round = |s: &mut Server, k: usize| {
        s.send(id, &msg).unwrap();
        let want = 64 * (k + 1);
        while got.load(Ordering::Relaxed) < want {
            s.run_once(TIMEOUT).unwrap();
        }
    };
    for k in 0..WARM {
        round(&mut s, k);
    }
    let t = Instant::now();
    for k in WARM..WARM + N {
        round(&mut s, k);
    }
    t.elapsed().as_nanos() as f64 / N as f64
}

fn post_ns() -> f64 {
    const N: usize = 200_000;
    let mut s = Server::without_listener(ServerConfig::default()).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    s.on_message(move |_, d| {
        s2.fetch_add(d.len() / 8, Ordering::Relaxed);
    });
    s.start().unwrap();
    let poster = s.poster();
    let t = Instant::now();
    let th = thread::spawn(move || {
        for i in 0..N as u64 {
            while let Err(e) = poster.post_message(&i.to_le_bytes()) {
                assert_eq!(e.code(), zenith::E_FULL, "post: {}", e);
                thread::yield_now();
            }
        }
    });
    while seen.load(Ordering::Relaxed) < N {
        s.run_once(10).unwrap();
    }
    let ns = t.elapsed().as_nanos() as f64 / N as f64;
    th.join().unwrap();
    ns
}

fn main() {
    let n = 10_000_000u32;
    let mut acc = 0u32;
    let t = Instant::now();
    for _ in 0..n {
        acc = acc.wrapping_add(zenith::version().0);
    }
    let v = t.elapsed().as_nanos() as f64 / n as f64;
    let pool = zenith::Pool::new(4096, 1024).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        let b = pool.acquire().unwrap();
        acc = acc.wrapping_add(b.as_ptr() as u32);
    }
    let p = t.elapsed().as_nanos() as f64 / n as f64;
    sink(acc);
    let e = echo_ns();
    let q = post_ns();
    println!("rust {:.1} {:.1} {:.1} {:.1}", v, p, e, q);
}
