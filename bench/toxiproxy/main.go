// Command toxiproxy-bench runs Toxiproxy's server (github.com/Shopify/toxiproxy/v2,
// the version pinned in go.mod) as a baseline for bench/fault_relay.sh.
//
//	toxiproxy-bench -host 127.0.0.1 -port 8474
//
// Proxies and toxics are then created through Toxiproxy's HTTP API, as its
// users do. Logging is off unless LOG_LEVEL is set, so it costs nothing on the
// data path.
package main

import (
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address of Toxiproxy's HTTP API")
	port := flag.String("port", "8474", "port of Toxiproxy's HTTP API")
	flag.Parse()

	level := zerolog.Disabled
	if name, ok := os.LookupEnv("LOG_LEVEL"); ok {
		if parsed, err := zerolog.ParseLevel(name); err == nil {
			level = parsed
		}
	}
	logger := zerolog.New(os.Stderr).Level(level).With().Timestamp().Logger()

	// SIGTERM from the benchmark's cleanup ends the server at once.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		os.Exit(0)
	}()

	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	server := toxiproxy.NewServer(metrics, logger)
	server.Listen(*host, *port)
}
