//! The Rust bindings end to end: engine (round trip, 4 producer threads, -4, -2), a Rust echo
//! server answering std's TcpStream, the pool and NUMA. `cargo test --offline`. The reactor's
//! newer parts (connects, timers, posts, UDP, multicast, backends, plugins, the layout check)
//! are in tests/reactor.rs.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use zenith::{ArrowArray, ArrowSchema, Engine, Pool, Server, ServerConfig};

// ---- Arrow int64 arrays built by hand --------------------------------------------------------------

struct Owned {
    _values: Vec<i64>,
    buffers: Vec<*const c_void>,
    released: Arc<AtomicUsize>,
}

unsafe extern "C" fn release_array(a: *mut ArrowArray) {
    let owned = Box::from_raw((*a).private_data as *mut Owned);
    owned.released.fetch_add(1, Ordering::SeqCst);
    (*a).release = None;
}

unsafe extern "C" fn release_schema(s: *mut ArrowSchema) {
    let counter = Box::from_raw((*s).private_data as *mut Arc<AtomicUsize>);
    counter.fetch_add(1, Ordering::SeqCst);
    (*s).release = None;
}

static FORMAT_L: &[u8] = b"l\0";

fn int64_array(values: Vec<i64>, released: &Arc<AtomicUsize>) -> (ArrowArray, ArrowSchema) {
    let mut owned = Box::new(Owned { buffers: vec![ptr::null(), values.as_ptr() as *const c_void], _values: values, released: released.clone() });
    let len = owned._values.len() as i64;
    let buffers = owned.buffers.as_mut_ptr();
    let array = ArrowArray {
        length: len,
        null_count: 0,
        offset: 0,
        n_buffers: 2,
        n_children: 0,
        buffers,
        children: ptr::null_mut(),
        dictionary: ptr::null_mut(),
        release: Some(release_array),
        private_data: Box::into_raw(owned) as *mut c_void,
    };
    let schema = ArrowSchema {
        format: FORMAT_L.as_ptr() as *const c_char,
        name: ptr::null(),
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

fn values_of(b: &zenith::Batch) -> Vec<i64> {
    let a = b.array();
    unsafe {
        let data = *a.buffers.add(1) as *const i64;
        (0..a.length).map(|i| *data.add((a.offset + i) as usize)).collect()
    }
}

// ---- engine --------------------------------------------------------------------------------------

#[test]
fn engine_round_trip_moves_and_releases_once() {
    let released = Arc::new(AtomicUsize::new(0));
    let e = Engine::new(128).unwrap();
    for k in 0..100u64 {
        let (mut a, mut s) = int64_array((0..k as i64 + 1).map(|i| i * 3 + k as i64).collect(), &released);
        e.publish(&mut a, &mut s, 1, k).unwrap();
        assert!(a.release.is_none() && s.release.is_none(), "moved");
    }
    for k in 0..100u64 {
        let b = e.poll().expect("a batch");
        assert_eq!((b.source_id(), b.seq_no()), (1, k));
        assert_eq!(b.format(), "l");
        assert_eq!(values_of(&b), (0..k as i64 + 1).map(|i| i * 3 + k as i64).collect::<Vec<_>>());
    } // each Batch dropped here: released
    assert!(e.poll().is_none());
    assert_eq!(released.load(Ordering::SeqCst), 200, "100 arrays + 100 schemas, once each");
    let st = e.stats();
    assert_eq!((st.published, st.polled, st.seq_gaps), (100, 100, 0));
}

#[test]
fn engine_four_producer_threads_keep_their_order() {
    const N: u64 = 100_000;
    let released = Arc::new(AtomicUsize::new(0));
    let e = Arc::new(Engine::new(1024).unwrap());
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let e = e.clone();
            let released = released.clone();
            thread::spawn(move || {
                for i in 0..N {
                    let (mut a, mut s) = int64_array(vec![i as i64], &released);
                    loop {
                        match e.publish(&mut a, &mut s, p, i) {
                            Ok(()) => break,
                            Err(err) if err.code() == zenith::E_FULL => thread::yield_now(),
                            Err(err) => panic!("publish: {}", err),
                        }
                    }
                }
            })
        })
        .collect();
    let mut next = [0u64; 4];
    let mut got = 0;
    while got < 4 * N {
        match e.poll() {
            Some(b) => {
                let p = b.source_id() as usize;
                assert_eq!(b.seq_no(), next[p], "producer {} out of order", p);
                assert_eq!(values_of(&b), vec![next[p] as i64]);
                next[p] += 1;
                got += 1;
            }
            None => thread::yield_now(),
        }
    }
    for t in producers {
        t.join().unwrap();
    }
    assert_eq!(released.load(Ordering::SeqCst), (8 * N) as usize);
    assert_eq!(e.stats().seq_gaps + e.stats().seq_duplicates, 0);
}

#[test]
fn engine_malformed_is_minus_4_and_stays_yours() {
    let released = Arc::new(AtomicUsize::new(0));
    let e = Engine::new(8).unwrap();
    let (mut a, mut s) = int64_array(vec![1, 2, 3], &released);
    a.n_buffers = 3;
    let err = e.publish(&mut a, &mut s, 0, 0).unwrap_err();
    assert_eq!(err.code(), -4);
    assert_eq!(err.name(), "ZENITH_E_FFI");
    assert!(a.release.is_some() && s.release.is_some(), "still ours");
    a.n_buffers = 2;
    s.format = b"q\0".as_ptr() as *const c_char;
    assert_eq!(e.publish(&mut a, &mut s, 0, 0).unwrap_err().code(), -4);
    s.format = FORMAT_L.as_ptr() as *const c_char;
    e.publish(&mut a, &mut s, 0, 0).unwrap();
    assert_eq!(e.stats().rejected_invalid, 2);
    drop(e); // zenith_free releases the queued batch
    assert_eq!(released.load(Ordering::SeqCst), 2);
}

#[test]
fn engine_full_is_minus_2() {
    let released = Arc::new(AtomicUsize::new(0));
    let e = Engine::new(2).unwrap();
    for k in 0..2 {
        let (mut a, mut s) = int64_array(vec![k], &released);
        e.publish(&mut a, &mut s, 0, k as u64).unwrap();
    }
    let (mut a, mut s) = int64_array(vec![2], &released);
    let err = e.publish(&mut a, &mut s, 0, 2).unwrap_err();
    assert_eq!(err.code(), zenith::E_FULL);
    assert!(a.release.is_some());
    drop(e.poll());
    e.publish(&mut a, &mut s, 0, 2).unwrap();
    // plugins are compiled in: a module that is not a plugin is refused with its reason
    let err = e.load_plugin(b"\0asm").unwrap_err();
    assert_eq!((err.code(), err.name()), (zenith::E_PLUGIN, "ZENITH_E_PLUGIN"));
    assert!(!err.detail().unwrap_or("").is_empty(), "a reason: {:?}", err);
}

// ---- server ---------------------------------------------------------------------------------------

#[test]
fn rust_echo_server_answers_a_tcp_client() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    let mut cfg = ServerConfig::default();
    cfg.buffer_count = 1024;
    cfg.max_connections = 16;
    let mut server = Server::new("127.0.0.1", cfg, |conn, data| {
        conn.send(data).expect("send");
    })
    .unwrap();
    server.on_accept(move |_| {
        acc.fetch_add(1, Ordering::SeqCst);
    });
    let port = server.port();
    let stopper = server.stopper();
    let t = thread::spawn(move || {
        server.start().unwrap();
        while !server.stopped() {
            server.run_once(100).unwrap();
        }
        server.stats()
    });
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let msg: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut back = vec![0u8; msg.len()];
    let writer = {
        let mut w = sock.try_clone().unwrap();
        let msg = msg.clone();
        thread::spawn(move || w.write_all(&msg).unwrap())
    };
    sock.read_exact(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == msg, "every byte echoed in order");
    drop(sock);
    thread::sleep(Duration::from_millis(50));
    stopper.stop();
    let st = t.join().unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(st.bytes_in, 100_000);
    assert_eq!(st.bytes_out, 100_000);
}

#[test]
fn server_bad_address_is_an_error() {
    let err = Server::new("300.1.2.3", ServerConfig::default(), |_, _| {}).err().unwrap();
    assert_eq!(err.name(), "ZENITH_E_INVAL");
}

// ---- pool and NUMA ----------------------------------------------------------------------------------

#[test]
fn pool_buffers_are_raii() {
    let pool = Pool::new(4096, 4).unwrap();
    {
        let mut a = pool.acquire().unwrap();
        a[..6].copy_from_slice(b"zenith");
        assert_eq!(&a[..6], b"zenith");
        let _b = pool.acquire().unwrap();
        assert_eq!(pool.stats().in_use, 2);
    }
    assert_eq!(pool.stats().in_use, 0);
    let raw = pool.acquire().unwrap().into_raw();
    unsafe {
        pool.release_raw(raw).unwrap();
        assert_eq!(pool.release_raw(raw).unwrap_err().name(), "ZENITH_E_DOUBLE_RELEASE");
    }
    assert_eq!(Pool::new(100, 4).err().unwrap().name(), "ZENITH_E_INVAL");
}

#[test]
fn numa_memory_on_node_0() {
    zenith::numa::init().unwrap();
    assert!(zenith::numa::node_count() >= 1);
    let mut m = zenith::numa::NodeMemory::on_node(1 << 16, 0).unwrap();
    m[0] = 1;
    assert_eq!(m.node_of(0).unwrap(), 0);
    let err = zenith::numa::NodeMemory::on_node(4096, 1023).err().unwrap();
    assert_eq!(err.code(), -2);
    assert_eq!(err.name(), "ZENITH_NUMA_E_INVALID_NODE");
    zenith::numa::cleanup();
}

#[test]
fn version_matches() {
    let (maj, min, _) = zenith::version();
    assert_eq!((maj, min), zenith::WRAPPED_VERSION);
}
