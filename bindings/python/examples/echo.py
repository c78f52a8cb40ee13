import zenith

clients, replies = set(), []

def on_data(srv, conn, data):
    if conn in clients:
        replies.append(data)          # the client's side: the echo came back
    else:
        srv.send(conn, data)          # the server's side: send it back

def on_connect(srv, conn, error):
    if error:
        raise error                   # re-raised by run_once
    srv.send(conn, b"hello, zenith")

with zenith.Server("127.0.0.1", 0, on_data=on_data) as srv:  # port 0: the kernel picks
    srv.start()                       # this thread runs the loop
    clients.add(srv.connect("127.0.0.1", srv.port, on_connect=on_connect))
    srv.run(until=lambda: replies, seconds=5)
    print(replies[0].decode(), "via", srv.backend)
