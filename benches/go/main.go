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
		fmt.Fprintln(os.Stderr, "usage: bench-go <workload> <n>\nworkloads: spawn, skynet, pingpong, ring, mpmc, select, mutex")
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
	case "pingpong":
		run = func() uint64 { return pingpong(n) }
	case "ring":
		run = func() uint64 { return ring(n) }
	case "mpmc":
		run = func() uint64 { return mpmc(n) }
	case "select":
		run = func() uint64 { return select4(n) }
	case "mutex":
		run = func() uint64 { return mutex(n) }
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

// n round trips between two goroutines over two unbuffered channels.
func pingpong(n uint64) uint64 {
	ping, pong := make(chan uint64), make(chan uint64)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	var sum uint64
	for i := uint64(0); i < n; i++ {
		ping <- i
		sum += <-pong
	}
	close(ping)
	return sum
}

// 503 goroutines in a ring pass a token n times; returns who ends it.
func ring(n uint64) uint64 {
	const size = 503
	done := make(chan uint64, 1)
	first := make(chan uint64)
	inbox := first
	for id := uint64(1); id < size; id++ {
		next := make(chan uint64)
		go pass(id, inbox, next, done)
		inbox = next
	}
	go pass(size, inbox, first, done)
	first <- n
	return <-done
}

func pass(id uint64, inbox <-chan uint64, next chan<- uint64, done chan<- uint64) {
	for token := range inbox {
		if token == 0 {
			done <- id
			return
		}
		next <- token - 1
	}
}

// 4 producers and 4 consumers share one channel of 1024; n values.
func mpmc(n uint64) uint64 {
	ch := make(chan uint64, 1024)
	per := n / 4
	var wg sync.WaitGroup
	wg.Add(4)
	for p := uint64(0); p < 4; p++ {
		go func(p uint64) {
			for i := uint64(0); i < per; i++ {
				ch <- p*per + i
			}
			wg.Done()
		}(p)
	}
	go func() { wg.Wait(); close(ch) }()
	sums := make(chan uint64)
	for c := 0; c < 4; c++ {
		go func() {
			var s uint64
			for v := range ch {
				s += v
			}
			sums <- s
		}()
	}
	var total uint64
	for c := 0; c < 4; c++ {
		total += <-sums
	}
	return total
}

// One consumer selects over 4 unbuffered channels, each fed by its own
// producer; n messages in all.
func select4(n uint64) uint64 {
	per := n / 4
	chans := make([]chan uint64, 4)
	for p := range chans {
		chans[p] = make(chan uint64)
		go func(p uint64, ch chan uint64) {
			for i := uint64(0); i < per; i++ {
				ch <- p*per + i
			}
		}(uint64(p), chans[p])
	}
	var sum uint64
	for i := uint64(0); i < per*4; i++ {
		select {
		case v := <-chans[0]:
			sum += v
		case v := <-chans[1]:
			sum += v
		case v := <-chans[2]:
			sum += v
		case v := <-chans[3]:
			sum += v
		}
	}
	return sum
}

// Increments per goroutine in the mutex workload (as MUTEX_INCREMENTS in
// benches/src/lib.rs).
const mutexIncrements = 1000

// n goroutines each lock one shared sync.Mutex mutexIncrements times to bump
// a counter; the spawner waits for all on a sync.WaitGroup.
func mutex(n uint64) uint64 {
	var mu sync.Mutex
	var counter uint64
	var wg sync.WaitGroup
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() {
			for j := 0; j < mutexIncrements; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	mu.Lock()
	total := counter
	mu.Unlock()
	if total != n*mutexIncrements {
		panic(fmt.Sprintf("mutex: counter %d, want %d", total, n*mutexIncrements))
	}
	return total
}
