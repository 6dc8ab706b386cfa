// Command vcsim is portlayer's vSphere test harness: govmomi's simulator (the VPX model) with the
// vCenter behaviours vcsim 0.24 lacks (config.changeVersion, extraConfig merged by key, clones
// that get their whole config spec, runtime.bootTime, paged property reads, an emulated guest
// per VM) and fault injection. It prints one JSON line describing how to reach it, then serves
// until SIGTERM/SIGINT or until its stdin closes, so it never outlives the process that started
// it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var opts options
	flag.BoolVar(&opts.tls, "tls", false, "serve HTTPS with a generated self-signed certificate")
	flag.BoolVar(&opts.watchStdin, "watch-stdin", true, "exit when stdin reaches end of file")
	flag.DurationVar(&opts.exitedRetention, "exited-retention", 5*time.Minute,
		"how long exited guest processes stay listed (vSphere keeps them about 5 minutes); 0 keeps them until power-off")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("vcsim: ")

	// Before the start line: whoever reads it may signal us at once.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	h, err := start(opts)
	if err != nil {
		log.Fatal(err)
	}
	line, err := json.Marshal(h.ready)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
		h.close()
		log.Fatal(err)
	}

	log.Printf("exiting: %s", waitForExit(signals, opts.watchStdin))
	h.close()
}

// waitForExit blocks until a termination signal arrives or stdin closes, and says which.
func waitForExit(signals <-chan os.Signal, watchStdin bool) string {
	done := make(chan string, 2)
	go func() { done <- (<-signals).String() }()
	if watchStdin {
		go func() {
			// The parent keeps our stdin open for as long as it lives; EOF means it is gone.
			_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
			done <- "stdin closed"
		}()
	}
	return <-done
}
