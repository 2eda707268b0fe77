// Go's side of the side-by-side workloads: `bench-go <workload> <n>` prints
// `checksum=<n> elapsed_ns=<n>`, as the Rust binaries do.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bench-go <workload> <n>\nworkloads: spawn, skynet, pingpong, ring, ring1, mpmc, select, select-buffered, mutex, memory, hogs, hogs-sleep, hogs-read, hogs-net, echo, idle-conns, http")
		os.Exit(2)
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(os.Args[2], "_", ""), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad n:", err)
		os.Exit(2)
	}
	var run func() uint64
	// Extra `key=value` fields after checksum and elapsed_ns.
	extra := ""
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
		run = func() uint64 { return ring(n, 0) }
	case "ring1":
		run = func() uint64 { return ring(n, 1) }
	case "mpmc":
		run = func() uint64 { return mpmc(n) }
	case "select":
		run = func() uint64 { return select4(n) }
	case "select-buffered":
		run = func() uint64 { return selectBuffered(n) }
	case "mutex":
		run = func() uint64 { return mutex(n) }
	case "memory":
		run = func() uint64 {
			released, fields := memory(n)
			extra = fields
			return released
		}
	case "echo":
		run = func() uint64 { return echo(n) }
	case "idle-conns":
		run = func() uint64 {
			released, fields := idleConns(n)
			extra = fields
			return released
		}
	case "http":
		// The load client times itself: its figures are the run's.
		checksum, elapsed, requests := httpHello(n)
		fmt.Printf("checksum=%d elapsed_ns=%d requests=%d\n", checksum, elapsed, requests)
		return
	case "hogs", "hogs-sleep", "hogs-read", "hogs-net":
		kind := os.Args[1]
		run = func() uint64 {
			finished, fields := hogs(kind, n)
			extra = fields
			return finished
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	start := time.Now()
	checksum := run()
	fmt.Printf("checksum=%d elapsed_ns=%d%s\n", checksum, time.Since(start).Nanoseconds(), extra)
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
func ring(n uint64, capacity int) uint64 {
	const size = 503
	done := make(chan uint64, 1)
	first := make(chan uint64, capacity)
	inbox := first
	for id := uint64(1); id < size; id++ {
		next := make(chan uint64, capacity)
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

// One consumer selects over 4 channels of 1024, each fed by its own
// producer that closes it when done; n messages in all.
func selectBuffered(n uint64) uint64 {
	per := n / 4
	chans := make([]chan uint64, 4)
	for p := range chans {
		chans[p] = make(chan uint64, 1024)
		go func(p uint64, ch chan uint64) {
			for i := uint64(0); i < per; i++ {
				ch <- p*per + i
			}
			close(ch)
		}(uint64(p), chans[p])
	}
	c0, c1, c2, c3 := chans[0], chans[1], chans[2], chans[3]
	var sum uint64
	for open := 4; open > 0; {
		select {
		case v, ok := <-c0:
			if !ok {
				c0 = nil
				open--
			}
			sum += v
		case v, ok := <-c1:
			if !ok {
				c1 = nil
				open--
			}
			sum += v
		case v, ok := <-c2:
			if !ok {
				c2 = nil
				open--
			}
			sum += v
		case v, ok := <-c3:
			if !ok {
				c3 = nil
				open--
			}
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

// A Vm* line of /proc/self/status, in KiB (0 where there is none).
func statusKiB(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			rest := strings.TrimPrefix(line, field+":")
			v, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

// n goroutines park receiving from one shared unbuffered channel; once all
// have parked, the peak resident set is taken (VmHWM, against VmRSS before
// the first spawn, as the Rust binaries do), and closing the channel
// releases them all. Returns how many were released.
func memory(n uint64) (uint64, string) {
	var released uint64
	var parked, gone sync.WaitGroup
	baseline := statusKiB("VmRSS")
	ch := make(chan struct{})
	parked.Add(int(n))
	gone.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() {
			parked.Done()
			if _, ok := <-ch; !ok {
				atomic.AddUint64(&released, 1)
			}
			gone.Done()
		}()
	}
	parked.Wait()
	// The last Done comes just before its goroutine parks: let it park.
	time.Sleep(10 * time.Millisecond)
	peak := statusKiB("VmHWM")
	close(ch)
	gone.Wait()
	return atomic.LoadUint64(&released), fmt.Sprintf(" baseline_kib=%d peak_kib=%d", baseline, peak)
}

// As many hogs as Ps (GOMAXPROCS = NumCPU) run until the deadline n ms away,
// while one goroutine sleeps 1 ms at a time, recording its lag (actual wake
// minus the time before the sleep plus 1 ms). The hogs: a CPU loop (hogs),
// a blocking nanosleep system call in 50 ms chunks (hogs-sleep; time.Sleep
// would park the goroutine instead), or a blocking read(2) on a loopback
// socket of its own (hogs-read; a net.Conn would park on the netpoller).
// Returns the number of hogs that finished.
func hogs(kind string, n uint64) (uint64, string) {
	count := runtime.GOMAXPROCS(0)
	deadline := time.Now().Add(time.Duration(n) * time.Millisecond)
	port := 0
	if kind == "hogs-read" || kind == "hogs-net" {
		port = serveAt(count, deadline)
	}
	lagsCh := make(chan []time.Duration)
	go func() {
		lags := make([]time.Duration, 0, 4096)
		for {
			before := time.Now()
			if !before.Before(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
			lag := time.Since(before.Add(time.Millisecond))
			if lag < 0 {
				lag = 0
			}
			lags = append(lags, lag)
		}
		lagsCh <- lags
	}()
	done := make(chan uint64)
	for i := 0; i < count; i++ {
		go func() { done <- hog(kind, deadline, port) }()
	}
	var finished uint64
	for i := 0; i < count; i++ {
		finished += <-done
	}
	lags := <-lagsCh
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	var worst, p99 time.Duration
	if len(lags) > 0 {
		worst = lags[len(lags)-1]
		k := (len(lags)*99+99)/100 - 1
		p99 = lags[k]
	}
	return finished, fmt.Sprintf(" worst_lag_us=%d p99_lag_us=%d ticks=%d", worst.Microseconds(), p99.Microseconds(), len(lags))
}

// A loopback listener that accepts count connections and writes one byte to
// each at the deadline; returns its port.
func serveAt(count int, deadline time.Time) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		conns := make([]net.Conn, 0, count)
		for i := 0; i < count; i++ {
			c, err := l.Accept()
			if err != nil {
				panic(err)
			}
			conns = append(conns, c)
		}
		time.Sleep(time.Until(deadline))
		for _, c := range conns {
			c.Write([]byte("x"))
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// One hog's work; returns 1 when it finished.
func hog(kind string, deadline time.Time, port int) uint64 {
	switch kind {
	case "hogs":
		var x uint64
		for time.Now().Before(deadline) {
			for i := uint64(0); i < 1000; i++ {
				x = x*31 + i
			}
		}
		sink = x
	case "hogs-sleep":
		for {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			if left > 50*time.Millisecond {
				left = 50 * time.Millisecond
			}
			ts := syscall.NsecToTimespec(left.Nanoseconds())
			syscall.Nanosleep(&ts, nil)
		}
	case "hogs-net":
		// A net.Conn parks the goroutine on the netpoller.
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		buf := make([]byte, 1)
		if _, err := io.ReadFull(conn, buf); err != nil {
			panic(err)
		}
	case "hogs-read":
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			panic(err)
		}
		defer syscall.Close(fd)
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			panic(err)
		}
		buf := make([]byte, 1)
		for {
			m, err := syscall.Read(fd, buf)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || m != 1 {
				panic(fmt.Sprintf("read: %d %v", m, err))
			}
			break
		}
	}
	return 1
}

// Keeps the hogs' CPU loop from being optimised away.
var sink uint64

// The echo workload: every connection makes echoRoundTrips round trips of
// echoBytes; every server goroutine reads into a buffer of echoBuffer.
const (
	echoRoundTrips = 1000
	echoBytes      = 64
	echoBuffer     = 1024
)

// n connections on loopback, a goroutine at each end; each client makes
// echoRoundTrips round trips of echoBytes (its number, conn*echoRoundTrips+i,
// little-endian, then '.' filler), and each server goroutine writes back
// what it reads. Returns the sum of the numbers echoed.
func echo(n uint64) uint64 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for i := uint64(0); i < n; i++ {
			c, err := l.Accept()
			if err != nil {
				panic(err)
			}
			go echoServe(c)
		}
	}()
	addr := l.Addr().String()
	sums := make(chan uint64)
	for c := uint64(0); c < n; c++ {
		go func(c uint64) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			msg := make([]byte, echoBytes)
			back := make([]byte, echoBytes)
			for k := range msg {
				msg[k] = '.'
			}
			var sum uint64
			for i := uint64(0); i < echoRoundTrips; i++ {
				binary.LittleEndian.PutUint64(msg, c*echoRoundTrips+i)
				if _, err := conn.Write(msg); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(conn, back); err != nil {
					panic(err)
				}
				if string(back) != string(msg) {
					panic("echo: the message came back changed")
				}
				sum += binary.LittleEndian.Uint64(back)
			}
			sums <- sum
		}(c)
	}
	var sum uint64
	for c := uint64(0); c < n; c++ {
		sum += <-sums
	}
	return sum
}

// The server end of one echo connection: writes back what it reads until
// the client closes.
func echoServe(c net.Conn) {
	defer c.Close()
	buf := make([]byte, echoBuffer)
	for {
		k, err := c.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				panic(werr)
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			panic(err)
		}
	}
}

// The load client (bench-client), built beside this binary.
func clientBinary() string {
	me, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return filepath.Join(filepath.Dir(me), "bench-client")
}

// n connections from a client process, each served by a goroutine parked in
// Read; once all have parked, the peak resident set (VmHWM, against VmRSS
// before the first accept) and the threads are taken, and the client closes
// them all. Returns how many goroutines read the end of the stream.
func idleConns(n uint64) (uint64, string) {
	var released uint64
	var parked, gone sync.WaitGroup
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	client := exec.Command(clientBinary(), "idle", l.Addr().String(), strconv.FormatUint(n, 10))
	client.Stderr = os.Stderr
	stdin, err := client.StdinPipe()
	if err != nil {
		panic(err)
	}
	if err := client.Start(); err != nil {
		panic(err)
	}
	// If the client dies, the accepts fail instead of waiting for good.
	l.(*net.TCPListener).SetDeadline(time.Now().Add(60 * time.Second))
	baseline := statusKiB("VmRSS")
	parked.Add(int(n))
	gone.Add(int(n))
	for i := uint64(0); i < n; i++ {
		c, err := l.Accept()
		if err != nil {
			panic(err)
		}
		go func() {
			parked.Done()
			buf := make([]byte, 64)
			if k, err := c.Read(buf); k == 0 && err == io.EOF {
				atomic.AddUint64(&released, 1)
			}
			gone.Done()
		}()
	}
	parked.Wait()
	// The last Done comes just before its goroutine parks: let it park.
	time.Sleep(10 * time.Millisecond)
	peak := statusKiB("VmHWM")
	tasks, _ := os.ReadDir("/proc/self/task")
	stdin.Close()
	gone.Wait()
	if err := client.Wait(); err != nil {
		panic(fmt.Sprintf("the idle client failed: %v", err))
	}
	return atomic.LoadUint64(&released), fmt.Sprintf(" baseline_kib=%d peak_kib=%d threads=%d", baseline, peak, len(tasks))
}

// The http workload: net/http answers "hello" (keep-alive, a goroutine per
// connection), while the load client drives it for ms milliseconds. Returns
// the client's checksum, elapsed_ns and requests.
func httpHello(ms uint64) (uint64, uint64, uint64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	hello := []byte("hello")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(hello)
	})
	go http.Serve(l, handler)
	out, err := exec.Command(clientBinary(), "http", l.Addr().String(), "256", strconv.FormatUint(ms, 10)).Output()
	if err != nil {
		panic(fmt.Sprintf("the load client failed: %v", err))
	}
	fields := map[string]uint64{}
	for _, kv := range strings.Fields(string(out)) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			fields[k], _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return fields["checksum"], fields["elapsed_ns"], fields["requests"]
}
