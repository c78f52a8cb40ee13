//! The reactor from Rust: an outbound connection to a listener of the same loop (both
//! backends), a refused connect, timers (one-shot, periodic, stopped), posts from std threads
//! (closures and bytes, in order), a UDP echo with receive timestamps, a multicast join on
//! loopback, a plugin loaded from bytes filtering a batch, the ABI layout check, and panics in
//! callbacks. Every network test is on loopback with port 0 and bounded by a deadline.
use std::net::SocketAddr;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zenith::{
    layout, ArrowArray, ArrowSchema, Backend, BackendReason, ConnectOptions, Engine, PluginConfig, Published,
    Selection, Server, ServerConfig, UdpOptions,
};

fn cfg(backend: Backend) -> ServerConfig {
    let mut c = ServerConfig::default();
    c.buffer_count = 512;
    c.max_connections = 64;
    c.backend = backend as u32;
    c
}

/// Runs the loop until `done` or the deadline; asserts it got there.
fn run_until<F: FnMut(&Server) -> bool>(s: &mut Server, secs: f64, what: &str, mut done: F) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while !done(s) {
        assert!(Instant::now() < end, "timed out waiting for {}", what);
        s.run_once(10).unwrap();
    }
}

fn started(mut s: Server) -> Server {
    s.start().unwrap();
    s
}

// ---- outbound connections ---------------------------------------------------------------------

fn client_and_server_in_one_loop(backend: Backend) {
    let s = Server::new("127.0.0.1", cfg(backend), |conn, data| conn.send(data).expect("echo")).unwrap();
    let mut s = started(s);
    let info = s.backend_info().unwrap();
    assert_eq!(info.backend, backend);
    assert_eq!(info.reason, BackendReason::ByConfig);
    assert_eq!(info.name, if backend == Backend::Epoll { "epoll" } else { "io_uring" });
    assert!(!info.why.is_empty());

    let msg: Arc<Vec<u8>> = Arc::new((0..200_000u32).map(|i| (i * 31 % 251) as u8).collect());
    let got = Arc::new(Mutex::new(Vec::new()));
    let status = Arc::new(Mutex::new(None));
    let (m2, st2, g2) = (msg.clone(), status.clone(), got.clone());
    let id = s
        .connect_with(
            &ConnectOptions::new("127.0.0.1", s.port()),
            move |r, id, result| {
                *st2.lock().unwrap() = Some(result.clone());
                if result.is_ok() {
                    r.send(id, &m2).expect("send after connect");
                }
            },
            move |_conn, data| g2.lock().unwrap().extend_from_slice(data),
        )
        .unwrap();
    assert_ne!(id, 0);
    run_until(&mut s, 10.0, "the echo", |_| got.lock().unwrap().len() >= msg.len());
    assert_eq!(*status.lock().unwrap(), Some(Ok(())));
    assert!(*got.lock().unwrap() == *msg, "every byte back, in order");
    let rs = s.reactor_stats();
    assert_eq!((rs.connects_started, rs.connects_succeeded), (1, 1));
    let st = s.stats();
    assert_eq!(st.connections_accepted, 1);
    assert_eq!(st.bytes_in, 2 * msg.len() as u64, "both ends received it all");
    s.close(id, zenith::CloseMode::Flush).unwrap();
    run_until(&mut s, 5.0, "both closes", |s| s.stats().connections_open == 0);
    assert_eq!(s.send(id, b"x").unwrap_err().name(), "ZENITH_E_STALE");
}

#[test]
fn connect_to_a_listener_of_the_same_loop_io_uring() {
    client_and_server_in_one_loop(Backend::IoUring);
}

#[test]
fn connect_to_a_listener_of_the_same_loop_epoll() {
    client_and_server_in_one_loop(Backend::Epoll);
}

#[test]
fn a_refused_connect_reports_econnrefused_once() {
    // a port nobody listens on: bind one, learn it, close it
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut s = started(Server::without_listener(cfg(Backend::Auto)).unwrap());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c2 = calls.clone();
    s.connect(&ConnectOptions::new("127.0.0.1", port), move |_, _, r| c2.lock().unwrap().push(r)).unwrap();
    run_until(&mut s, 5.0, "on_connect", |_| !calls.lock().unwrap().is_empty());
    for _ in 0..5 {
        s.run_once(5).unwrap();
    }
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1, "exactly once");
    let err = calls[0].clone().unwrap_err();
    assert_eq!(err.code(), zenith::esys(111));
    assert_eq!(err.name(), "ECONNREFUSED");
    assert_eq!(s.reactor_stats().connects_failed, 1);
    // a name is not a numeric literal: refused at the call
    let bad = s.connect(&ConnectOptions::new("localhost", port), |_, _, _| {}).unwrap_err();
    assert_eq!(bad.name(), "ZENITH_E_INVAL");
}

// ---- timers --------------------------------------------------------------------------------------

#[test]
fn timers_fire_never_early_periodic_ones_until_stopped() {
    let mut s = started(Server::without_listener(cfg(Backend::Auto)).unwrap());
    let t0 = Instant::now();
    let once = Arc::new(Mutex::new(Vec::new()));
    let o2 = once.clone();
    let one = s.timer_start(30, 0, move |_, id| o2.lock().unwrap().push((id, t0.elapsed()))).unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let k2 = ticks.clone();
    let periodic = s
        .timer_start(5, 5, move |r, id| {
            if k2.fetch_add(1, Ordering::SeqCst) + 1 == 4 {
                r.timer_stop(id).expect("a periodic timer stops itself");
            }
        })
        .unwrap();
    let never = s.timer_start(20, 0, |_, _| panic!("a stopped timer ran")).unwrap();
    s.timer_stop(never).unwrap();
    run_until(&mut s, 5.0, "the timers", |_| !once.lock().unwrap().is_empty() && ticks.load(Ordering::SeqCst) >= 4);
    let end = Instant::now() + Duration::from_millis(50);
    while Instant::now() < end {
        s.run_once(5).unwrap();
    }
    let once = once.lock().unwrap();
    assert_eq!(once.len(), 1);
    assert_eq!(once[0].0, one);
    assert!(once[0].1 >= Duration::from_millis(30), "never early: {:?}", once[0].1);
    assert_eq!(ticks.load(Ordering::SeqCst), 4, "stopped after its fourth run");
    assert_eq!(s.timer_stop(periodic).unwrap_err().name(), "ZENITH_E_STALE");
    assert_eq!(s.timer_stop(one).unwrap_err().name(), "ZENITH_E_STALE");
    assert_eq!(s.reactor_stats().timers_fired, 5);
}

// ---- posts from other threads -------------------------------------------------------------------------

#[test]
fn posts_from_std_threads_run_on_the_loop_in_order() {
    const N: usize = 20_000;
    let mut c = cfg(Backend::Auto);
    c.post_queue = 256; // small: the posters meet ZENITH_E_FULL and retry
    let mut s = Server::without_listener(c).unwrap();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let m2 = messages.clone();
    s.on_message(move |_, bytes| {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        m2.lock().unwrap().push(u64::from_le_bytes(b));
    });
    let mut s = started(s);
    let loop_thread = thread::current().id();
    let ran = Arc::new(Mutex::new(vec![Vec::new(); 2]));
    let full = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2usize)
        .map(|t| {
            let poster = s.poster();
            let ran = ran.clone();
            let full = full.clone();
            thread::spawn(move || {
                for i in 0..N {
                    if t == 0 {
                        loop {
                            match poster.post_message(&(i as u64).to_le_bytes()) {
                                Ok(()) => break,
                                Err(e) if e.code() == zenith::E_FULL => {
                                    full.fetch_add(1, Ordering::Relaxed);
                                    thread::yield_now()
                                }
                                Err(e) => panic!("post_message: {}", e),
                            }
                        }
                    } else {
                        let ran = ran.clone();
                        let mut f = move |_: &zenith::Reactor| {
                            assert_eq!(thread::current().id(), loop_thread, "runs on the loop thread");
                            ran.lock().unwrap()[1].push(i);
                        };
                        loop {
                            match poster.try_post(f) {
                                Ok(()) => break,
                                Err((e, back)) if e.code() == zenith::E_FULL => {
                                    full.fetch_add(1, Ordering::Relaxed);
                                    f = back;
                                    thread::yield_now()
                                }
                                Err((e, _)) => panic!("post: {}", e),
                            }
                        }
                    }
                }
            })
        })
        .collect();
    run_until(&mut s, 30.0, "every post", |_| messages.lock().unwrap().len() == N && ran.lock().unwrap()[1].len() == N);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*messages.lock().unwrap(), (0..N as u64).collect::<Vec<_>>(), "bytes in posting order");
    assert_eq!(ran.lock().unwrap()[1], (0..N).collect::<Vec<_>>(), "closures in posting order");
    let rs = s.reactor_stats();
    assert_eq!(rs.posts_run, 2 * N as u64);
    assert_eq!(rs.posts_refused, full.load(Ordering::Relaxed) as u64);
    assert_eq!(s.poster().post_message(&[0u8; 41]).unwrap_err().name(), "ZENITH_E_INVAL");
}

#[test]
fn a_poster_outliving_its_server_gets_stale_and_queued_closures_are_freed() {
    let s = Server::without_listener(cfg(Backend::Auto)).unwrap();
    let poster = s.poster();
    let stopper = s.stopper();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let c = Counted(dropped.clone());
    poster.post(move |_| drop(c)).unwrap(); // queued, never run: the server never runs
    drop(s);
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the unrun closure was freed with the server");
    assert_eq!(poster.post_message(b"late").unwrap_err().name(), "ZENITH_E_STALE");
    assert_eq!(poster.post(|_| {}).unwrap_err().name(), "ZENITH_E_STALE");
    stopper.stop(); // a no-op now
}

// ---- UDP ----------------------------------------------------------------------------------------------

#[test]
fn udp_echo_with_receive_timestamps() {
    let mut s = started(Server::without_listener(cfg(Backend::Auto)).unwrap());
    let echo = s
        .udp_open(&UdpOptions::bind("127.0.0.1", 0), |r, sock, d| {
            r.udp_send(sock, d.data(), d.from()).expect("echo");
        })
        .unwrap();
    let echo_addr: SocketAddr = format!("127.0.0.1:{}", s.udp_port(echo)).parse().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let client = s
        .udp_open(&UdpOptions::bind("127.0.0.1", 0), move |_, _, d| {
            g2.lock().unwrap().push((d.data().to_vec(), d.from(), d.ts_ns(), d.truncated()));
        })
        .unwrap();
    const N: usize = 100;
    for i in 0..N {
        let payload: Vec<u8> = (0..(i * 13 % 1200 + 1)).map(|k| (k * 7 + i) as u8).collect();
        s.udp_send(client, &payload, Some(echo_addr)).unwrap();
    }
    run_until(&mut s, 10.0, "the echoes", |_| got.lock().unwrap().len() == N);
    let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
    let got = got.lock().unwrap();
    let mut stamped = 0;
    for (i, (data, from, ts, cut)) in got.iter().enumerate() {
        let want: Vec<u8> = (0..(i * 13 % 1200 + 1)).map(|k| (k * 7 + i) as u8).collect();
        assert_eq!(*data, want, "datagram {} whole and in order", i);
        assert_eq!(*from, Some(echo_addr));
        assert!(!cut);
        if *ts != 0 {
            assert!((now_ns - ts).abs() < 60_000_000_000, "a receive timestamp near now: {}", ts);
            stamped += 1;
        }
    }
    let ci = s.udp_info(client).unwrap();
    assert!(ci.features & zenith::UDP_F_TS_SOFTWARE != 0, "timestamps on by default");
    // the kernel turns receive stamping on lazily: once on, every datagram is stamped
    if stamped < N {
        let t = Arc::new(AtomicUsize::new(0));
        let t2 = t.clone();
        let probe = s
            .udp_open(&UdpOptions::bind("127.0.0.1", 0), move |_, _, d| {
                if d.ts_ns() > 0 {
                    t2.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap();
        let to: SocketAddr = format!("127.0.0.1:{}", s.udp_port(probe)).parse().unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        while t.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            s.udp_send(client, b"stamp?", Some(to)).unwrap();
            s.run_once(20).unwrap();
        }
        assert!(t.load(Ordering::SeqCst) > 0, "no receive timestamp within 5 s");
    }
    assert_eq!((ci.datagrams_out, ci.datagrams_in), (N as u64, N as u64));
    assert_eq!(ci.local.unwrap().port(), s.udp_port(client));
    assert_eq!(zenith::format_addr(&echo_addr).unwrap(), echo_addr.to_string());
    let ei = s.udp_info(echo).unwrap();
    assert_eq!((ei.datagrams_in, ei.datagrams_out, ei.send_errors), (N as u64, N as u64, 0));
    // an unconnected socket needs a destination
    assert_eq!(s.udp_send(client, b"x", None).unwrap_err().name(), "ZENITH_E_INVAL");
    s.udp_close(echo).unwrap();
    assert_eq!(s.udp_close(echo).unwrap_err().name(), "ZENITH_E_STALE");
}

#[test]
fn multicast_join_and_leave_on_loopback() {
    let pid = std::process::id();
    let group = format!("239.{}.{}.{}", 150 + pid % 50, (pid >> 8) & 0xff, pid & 0xff);
    let mut s = started(Server::without_listener(cfg(Backend::Auto)).unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let rx = s
        .udp_open(&UdpOptions::bind("0.0.0.0", 0), move |_, _, d| {
            g2.lock().unwrap().push((d.data().to_vec(), d.from()));
        })
        .unwrap();
    let port = s.udp_port(rx);
    let tx = s.udp_open_send_only(&UdpOptions::bind("127.0.0.1", 0)).unwrap();
    s.udp_multicast_send_opts(tx, Some("lo"), Some(1), Some(true)).unwrap();
    let to: SocketAddr = format!("{}:{}", group, port).parse().unwrap();
    let unicast: SocketAddr = format!("127.0.0.1:{}", port).parse().unwrap();
    // before the join: only the unicast barrier arrives
    s.udp_send(tx, b"early", Some(to)).unwrap();
    s.udp_send(tx, b"barrier-1", Some(unicast)).unwrap();
    run_until(&mut s, 5.0, "barrier 1", |_| got.lock().unwrap().iter().any(|(d, _)| d == b"barrier-1"));
    assert!(got.lock().unwrap().iter().all(|(d, _)| d != b"early"), "nothing of the group before the join");
    s.udp_join(rx, &group, None, Some("lo")).unwrap();
    assert_eq!(s.udp_join(rx, &group, None, Some("lo")).unwrap_err().name(), "ZENITH_E_EXIST");
    assert_eq!(s.udp_join(rx, "10.0.0.1", None, Some("lo")).unwrap_err().name(), "ZENITH_E_INVAL");
    assert_eq!(s.udp_join(rx, &group, None, Some("no-such-if0")).unwrap_err().name(), "ZENITH_E_NOT_FOUND");
    for i in 0..20u8 {
        s.udp_send(tx, &[b'm', i], Some(to)).unwrap();
    }
    run_until(&mut s, 5.0, "20 multicast datagrams", |_| {
        got.lock().unwrap().iter().filter(|(d, _)| d.len() == 2 && d[0] == b'm').count() == 20
    });
    {
        let g = got.lock().unwrap();
        let m: Vec<_> = g.iter().filter(|(d, _)| d.len() == 2 && d[0] == b'm').collect();
        for (i, (d, from)) in m.iter().enumerate() {
            assert_eq!(d[1] as usize, i, "in order");
            assert_eq!(from.unwrap().port(), s.udp_port(tx), "from the sender");
        }
    }
    s.udp_leave(rx, &group, None, Some("lo")).unwrap();
    assert_eq!(s.udp_leave(rx, &group, None, Some("lo")).unwrap_err().name(), "ZENITH_E_NOT_FOUND");
    s.udp_send(tx, b"late", Some(to)).unwrap();
    s.udp_send(tx, b"barrier-2", Some(unicast)).unwrap();
    run_until(&mut s, 5.0, "barrier 2", |_| got.lock().unwrap().iter().any(|(d, _)| d == b"barrier-2"));
    for _ in 0..5 {
        s.run_once(5).unwrap();
    }
    assert!(got.lock().unwrap().iter().all(|(d, _)| d != b"late"), "nothing of the group after the leave");
    assert_eq!(s.udp_info(tx).unwrap().send_errors, 0);
}

// ---- callbacks that panic --------------------------------------------------------------------------

#[test]
fn a_panic_in_a_callback_comes_back_from_run_once_and_the_loop_goes_on() {
    let mut s = started(Server::without_listener(cfg(Backend::Auto)).unwrap());
    let after = Arc::new(AtomicBool::new(false));
    s.timer_start(1, 0, |_, _| panic!("boom in a timer")).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    let err = loop {
        assert!(Instant::now() < end, "the timer never fired");
        match s.run_once(10) {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(err.is_panic());
    assert_eq!(err.detail(), Some("boom in a timer"));
    assert_eq!(err.to_string(), "a callback panicked: boom in a timer");
    assert!(s.take_panic().unwrap().downcast_ref::<&str>() == Some(&"boom in a timer"));
    let a2 = after.clone();
    s.poster().post(move |_| a2.store(true, Ordering::SeqCst)).unwrap();
    run_until(&mut s, 5.0, "a post after the panic", |_| after.load(Ordering::SeqCst));
}

// ---- a plugin from bytes ------------------------------------------------------------------------------

fn build_dir() -> std::path::PathBuf {
    match std::env::var_os("ZENITH_BUILD") {
        Some(d) => d.into(),
        None => {
            let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build");
            assert!(d.is_dir(), "set ZENITH_BUILD to the build directory (it has plugins/price_filter.wasm)");
            d
        }
    }
}

struct F64 {
    _values: Vec<f64>,
    buffers: Vec<*const c_void>,
    released: Arc<AtomicUsize>,
}

unsafe extern "C" fn release_f64(a: *mut ArrowArray) {
    let owned = Box::from_raw((*a).private_data as *mut F64);
    owned.released.fetch_add(1, Ordering::SeqCst);
    (*a).release = None;
}

unsafe extern "C" fn release_schema(s: *mut ArrowSchema) {
    let counter = Box::from_raw((*s).private_data as *mut Arc<AtomicUsize>);
    counter.fetch_add(1, Ordering::SeqCst);
    (*s).release = None;
}

static FORMAT_G: &[u8] = b"g\0";
static PRICE: &[u8] = b"price\0";

/// A float64 column named "price".
fn prices(values: Vec<f64>, released: &Arc<AtomicUsize>) -> (ArrowArray, ArrowSchema) {
    let mut owned = Box::new(F64 { buffers: vec![ptr::null(), values.as_ptr() as *const c_void], _values: values, released: released.clone() });
    let array = ArrowArray {
        length: owned._values.len() as i64,
        null_count: 0,
        offset: 0,
        n_buffers: 2,
        n_children: 0,
        buffers: owned.buffers.as_mut_ptr(),
        children: ptr::null_mut(),
        dictionary: ptr::null_mut(),
        release: Some(release_f64),
        private_data: Box::into_raw(owned) as *mut c_void,
    };
    let schema = ArrowSchema {
        format: FORMAT_G.as_ptr() as *const c_char,
        name: PRICE.as_ptr() as *const c_char,
        metadata: ptr::null(),
        flags: 2,
        n_children: 0,
        children: ptr::null_mut(),
        dictionary: ptr::null_mut(),
        release: Some(release_schema),
        private_data: Box::into_raw(Box::new(released.clone())) as *mut c_void,
    };
    (array, schema)
}

#[test]
fn a_plugin_loaded_from_bytes_filters_a_batch() {
    let wasm = std::fs::read(build_dir().join("plugins/price_filter.wasm")).expect("price_filter.wasm");
    let released = Arc::new(AtomicUsize::new(0));
    let e = Engine::new(64).unwrap();
    let mut params = Vec::new();
    params.extend_from_slice(&95.0f64.to_le_bytes());
    params.extend_from_slice(&105.0f64.to_le_bytes());
    let id = e.load_plugin_with(&wasm, &PluginConfig { params, instances: 2, ..Default::default() }).unwrap();
    // rows 1, 2, 3, 5 are in [95, 105]
    let (mut a, mut s) = prices(vec![90.0, 96.0, 100.0, 104.5, 110.0, 105.0, 94.99], &released);
    assert_eq!(e.publish_outcome(&mut a, &mut s, 7, 1).unwrap(), Published::Queued);
    // nothing in range: the plugin drops the batch, released already
    let (mut a, mut s) = prices(vec![1.0, 2.0, 300.0], &released);
    assert_eq!(e.publish_outcome(&mut a, &mut s, 7, 2).unwrap(), Published::Dropped);
    assert!(a.release.is_none(), "moved in");
    assert_eq!(released.load(Ordering::SeqCst), 2, "the dropped batch's array and schema");
    {
        let b = e.poll_selection().expect("the first batch");
        assert_eq!((b.source_id(), b.seq_no()), (7, 1));
        match b.selection() {
            Selection::Rows { count, bits } => {
                assert_eq!(*count, 4);
                assert_eq!(bits, &vec![0b0010_1110u8]);
            }
            other => panic!("a selection of rows, not {:?}", other),
        }
        let passing: Vec<usize> = (0..7).filter(|&i| b.selection().contains(i)).collect();
        assert_eq!(passing, vec![1, 2, 3, 5]);
    }
    assert!(e.poll_selection().is_none(), "the dropped batch never comes out");
    assert_eq!(released.load(Ordering::SeqCst), 4);
    let st = e.plugin_stats(id).unwrap();
    assert_eq!((st.calls, st.rows_in, st.rows_out), (2, 10, 4));
    assert_eq!((st.selected, st.rejected, st.failures, st.instances), (1, 1, 0, 2));
    assert_eq!(e.plugin_result(id).unwrap(), vec![4.0], "rows passed since load");
    // the design's call (zenith_engine_load_plugin): no params, every price passes
    let e2 = Engine::new(8).unwrap();
    let all = e2.load_plugin(&wasm).unwrap();
    let (mut a, mut s) = prices(vec![1.0, 1e9], &released);
    e2.publish(&mut a, &mut s, 1, 1).unwrap();
    assert_eq!(*e2.poll_selection().unwrap().selection(), Selection::All);
    e2.unload_plugin(all).unwrap();
    assert_eq!(e2.plugin_stats(all).unwrap_err().name(), "ZENITH_E_STALE");
    // a module that is not a plugin: ZENITH_E_PLUGIN with the reason
    let err = e.load_plugin_with(&wasm[..wasm.len() / 2], &PluginConfig::default()).unwrap_err();
    assert_eq!(err.name(), "ZENITH_E_PLUGIN");
    assert!(err.detail().map_or(false, |d| !d.is_empty()), "{:?}", err);
}

// ---- the ABI layout check -------------------------------------------------------------------------------

#[test]
fn layouts_match_the_library_and_a_drifted_copy_is_named() {
    let rows = layout::mirrored();
    layout::check(&rows).unwrap();
    assert!(rows.len() > 200, "every field of every mirrored struct: {}", rows.len());
    let lib = layout::library();
    for t in ["zenith_server_config", "zenith_udp_config", "zenith_udp_datagram", "ArrowArray", "zenith_plugin_stats"] {
        let lib_rows = lib.iter().filter(|r| r.0 == t).count();
        assert_eq!(rows.iter().filter(|r| r.type_name == t).count(), lib_rows, "{}: every field", t);
    }
    assert_ne!(layout::library_hash(), 0);

    // one field moved on purpose
    let mut drifted = rows.clone();
    let r = drifted.iter_mut().find(|r| r.type_name == "zenith_server_config" && r.field == "max_udp").unwrap();
    let real = r.offset;
    r.offset -= 4;
    let err = layout::check(&drifted).unwrap_err();
    assert_eq!(err.code(), zenith::E_FFI);
    let want = format!(
        "zenith: layout mismatch: zenith_server_config.max_udp: binding has offset {} size 4, library has offset {} size 4",
        real - 4,
        real
    );
    assert_eq!(err.detail(), Some(want.as_str()));
    assert_eq!(err.to_string(), format!("{} (ZENITH_E_FFI -4)", want));

    // a whole struct of another size
    let mut drifted = rows.clone();
    let r = drifted.iter_mut().find(|r| r.type_name == "zenith_udp_info" && r.field.is_empty()).unwrap();
    let size = r.size;
    r.size += 8;
    assert_eq!(
        layout::check(&drifted).unwrap_err().detail().unwrap(),
        format!("zenith: layout mismatch: zenith_udp_info: binding has offset 0 size {}, library has offset 0 size {}", size + 8, size)
    );

    // a field the binding lacks
    let drifted: Vec<_> = rows.iter().filter(|r| !(r.type_name == "zenith_connect_config" && r.field == "user")).cloned().collect();
    let lib_user = lib.iter().find(|r| r.0 == "zenith_connect_config" && r.1 == "user").unwrap();
    assert_eq!(
        layout::check(&drifted).unwrap_err().detail().unwrap(),
        format!(
            "zenith: layout mismatch: zenith_connect_config.user: binding has no such field, library has offset {} size {}",
            lib_user.2, lib_user.3
        )
    );
    // the constructors checked the real rows already
    layout::ensure().unwrap();
}
