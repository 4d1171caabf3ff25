// Command relayload is the load generator of bench/fault_relay.sh: the servers
// at the far end of a relay and the clients that drive them, fast enough that
// the relay (not the generator) is what gets measured.
//
//	relayload sink -listen 127.0.0.1:P            # reads blocks and discards them; answers the last with the byte count
//	relayload echo -listen 127.0.0.1:P            # writes back what it reads
//	relayload bulk -addr HOST:P -conns 16 -secs 5 # throughput client against a sink
//	relayload ping -addr HOST:P -count 2000 -size 64
//
// bulk and ping print one JSON object on stdout.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: relayload sink|echo|bulk|ping [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "sink/echo: address to listen on")
	addr := fs.String("addr", "", "bulk/ping: address to connect to")
	conns := fs.Int("conns", 1, "bulk: parallel connections")
	secs := fs.Float64("secs", 5, "bulk: seconds to send")
	count := fs.Int("count", 2000, "ping: round trips")
	size := fs.Int("size", 64, "ping: message size in bytes")
	fs.Parse(os.Args[2:])

	var err error
	switch os.Args[1] {
	case "sink":
		err = serve(*listen, sinkConn)
	case "echo":
		err = serve(*listen, echoConn)
	case "bulk":
		err = bulk(*addr, *conns, time.Duration(*secs*float64(time.Second)))
	case "ping":
		err = ping(*addr, *count, *size)
	default:
		err = fmt.Errorf("unknown mode %q (sink, echo, bulk, ping)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayload:", err)
		os.Exit(1)
	}
}

func serve(listen string, handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// The caller learns the port from this line (listen may say port 0).
	fmt.Println(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go handle(c)
	}
}

// The bulk stream is made of blockSize blocks whose first byte says whether
// more follow: the end is marked in-band because some relays (Toxiproxy)
// close both directions on a half-close.
const blockSize = 256 << 10

// sinkConn counts what arrives; after the last block it answers with the
// count so the client knows when every byte went through.
func sinkConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, blockSize)
	var n uint64
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		n += blockSize
		if buf[0] == 1 {
			var reply [8]byte
			binary.BigEndian.PutUint64(reply[:], n)
			c.Write(reply[:])
			n = 0
		}
	}
}

func echoConn(c net.Conn) {
	defer c.Close()
	io.CopyBuffer(c, c, make([]byte, 64<<10))
}

func bulk(addr string, conns int, length time.Duration) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total uint64
	var firstErr error
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := bulkOne(addr, start.Add(length))
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if firstErr != nil {
		return firstErr
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"bytes": total, "seconds": elapsed, "mib_per_s": float64(total) / elapsed / (1 << 20),
	})
}

// bulkOne sends blocks until the deadline, then a last block, and waits for
// the sink's count: the bytes the sink really received, not what the client
// managed to queue.
func bulkOne(addr string, deadline time.Time) (uint64, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, blockSize)
	for time.Now().Before(deadline) {
		if _, err := c.Write(buf); err != nil {
			return 0, err
		}
	}
	buf[0] = 1
	if _, err := c.Write(buf); err != nil {
		return 0, err
	}
	var reply [8]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		return 0, fmt.Errorf("no byte count from the sink: %v", err)
	}
	return binary.BigEndian.Uint64(reply[:]), nil
}

func ping(addr string, count, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := make([]byte, size)
	back := make([]byte, size)
	rtts := make([]float64, 0, count)
	for i := 0; i < count; i++ {
		t := time.Now()
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, back); err != nil {
			return err
		}
		rtts = append(rtts, float64(time.Since(t).Nanoseconds())/1000)
	}
	sorted := append([]float64(nil), rtts...)
	sort.Float64s(sorted)
	pct := func(p float64) float64 { return sorted[int(p*float64(len(sorted)-1)+0.5)] }
	return json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"count": count, "p50_us": pct(0.50), "p99_us": pct(0.99), "max_us": sorted[len(sorted)-1],
		"rtt_us": rtts,
	})
}
