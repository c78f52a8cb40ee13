use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zenith::{ConnectOptions, Server, ServerConfig};

fn main() -> Result<(), zenith::Error> {
    // An echo server on 127.0.0.1 (port 0: the kernel picks) ...
    let mut server = Server::new("127.0.0.1", ServerConfig::default(), |conn, data| {
        conn.send(data).expect("echo");
    })?;
    server.start()?; // this thread drives the loop from now on
    // ... and a client on the same loop: it sends once connected and collects the echo.
    let echoed = Arc::new(Mutex::new(Vec::new()));
    let sink = echoed.clone();
    let opts = ConnectOptions::new("127.0.0.1", server.port());
    server.connect_with(
        &opts,
        |reactor, id, result| result.and_then(|_| reactor.send(id, b"hello, zenith")).expect("connect"),
        move |_conn, data| sink.lock().unwrap().extend_from_slice(data),
    )?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while echoed.lock().unwrap().len() < 13 && Instant::now() < deadline {
        server.run_once(100)?;
    }
    println!("{}", String::from_utf8_lossy(&echoed.lock().unwrap()));
    Ok(())
}
