// Go's side of the side-by-side workloads: `bench-go <workload> <n>` prints
// `checksum=<n> elapsed_ns=<n>`, as the Rust binaries do.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bench-go <workload> <n>\nworkloads: spawn, skynet")
		os.Exit(2)
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(os.Args[2], "_", ""), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad n:", err)
		os.Exit(2)
	}
	var run func() uint64
	switch os.Args[1] {
	case "spawn":
		run = func() uint64 { return spawn(n) }
	case "skynet":
		run = func() uint64 {
			c := make(chan uint64)
			go skynet(c, 0, n, 10)
			return <-c
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	start := time.Now()
	checksum := run()
	fmt.Printf("checksum=%d elapsed_ns=%d\n", checksum, time.Since(start).Nanoseconds())
}

// n goroutines each bump a counter; the spawner waits for all.
func spawn(n uint64) uint64 {
	var counter uint64
	var wg sync.WaitGroup
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() {
			atomic.AddUint64(&counter, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	return atomic.LoadUint64(&counter)
}

// The classic skynet: each node sums its children over a channel.
func skynet(c chan uint64, num, size, div uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64)
	sub := size / div
	for i := uint64(0); i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	var sum uint64
	for i := uint64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}
