// An echo server and a client on one reactor: the client sends "hello zenith" and prints what
// comes back. README.md shows this file; run_tests.sh runs it.
package main

import (
	"fmt"
	"log"
	"runtime"
	"time"

	zenith "github.com/zenith-net/zenith/bindings/go"
)

func main() {
	runtime.LockOSThread() // one OS thread drives the reactor
	srv, err := zenith.NewServer(zenith.ServerConfig{Address: "127.0.0.1"}, zenith.Handlers{
		OnData: func(c zenith.Conn, data []byte) { c.Send(data) }, // the echo
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	var reply []byte
	_, err = srv.Connect(zenith.ConnectConfig{Address: "127.0.0.1", Port: srv.Port(),
		OnConnect: func(c zenith.Conn, err error) {
			if err == nil {
				c.Send([]byte("hello zenith"))
			}
		},
		OnData: func(c zenith.Conn, data []byte) { reply = append(reply, data...) }})
	if err != nil {
		log.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(reply) < 12 && time.Now().Before(deadline); {
		if _, err := srv.RunOnce(100); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("%s\n", reply)
}
