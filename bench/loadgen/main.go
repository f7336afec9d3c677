// Command loadgen drives HTTP/1.1 load at one endpoint on the loopback
// interface and prints what it saw as one JSON document on stdout. It is
// the load benchmark's client (go run ./bench starts it once per scenario
// and round), kept in its own process so that its CPU use shows apart from
// Caddy's.
//
// Each of -c workers holds one keep-alive connection and writes
// pre-serialised requests on it (no net/http client: on a small machine the
// client's own cost would crowd out the server it measures). A response
// counts as good when its status is 200 and its body holds the marker the
// kind expects; anything else (another status, another body, a broken
// connection, a timeout) is an error, counted by kind, and the connection
// is opened again.
//
// Closed loop (default): every worker sends its next request as soon as the
// last one is answered, for -d, or until -n requests in all. Fixed rate
// (-rate R): requests are due at R per second in all, spread evenly over the
// workers; latency runs from when a request was due whenever the worker was
// still busy then (so a stall is not hidden: no coordinated omission).
//
// Kinds:
//
//	rp       GET /api/customers?code=CU003035 (Caddy's reverse_proxy)
//	proxy    POST /bill24/proxy {"consumer_code":"CU003035"}, token header
//	webhook  POST /bill24/webhook, the README's v1 payload, a new tran_id each time
//	replay   POST /bill24/webhook, the v1 payload with the fixed tran_id -id
//	rpwebhook POST /api/payments, the same v1 payload and new tran_ids, through
//	         Caddy's reverse_proxy to the stub (the webhooks' fair baseline)
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billbridge/caddy-billbridge/bench/internal/hist"
)

// Result is what loadgen prints.
type Result struct {
	Kind  string  `json:"kind"`
	Conns int     `json:"conns"`
	Rate  float64 `json:"rate,omitempty"` // requests/s asked for; 0 = closed loop
	// Window is the measured time (after warm-up), in seconds.
	Window float64 `json:"window_s"`
	// Requests and Errors were completed in the window.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// Sent and SentErrors count everything, warm-up included.
	Sent       int64            `json:"sent"`
	SentErrors int64            `json:"sent_errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	ErrorBody  string           `json:"error_body,omitempty"` // the first unexpected body
	Hist       *hist.H          `json:"hist"`
}

// placeholderID is where a webhook's tran_id goes; ids are always 36 bytes.
const placeholderID = "00000000-0000-0000-0000-000000000000"

// webhookV1 is examples/payloads/bill24_webhook_v1.json (the README's demo
// payload), compacted, with its tran_id replaced.
const webhookV1 = `{"tran_id":"` + placeholderID + `","tran_no":"6K0BTGwG7HsF",` +
	`"payment_service_type":"Bank Channel","tran_date":"2024-11-29T16:58:16.727168",` +
	`"tran_amount":45,"currency":"USD","bank_code":"AC","bank_name":"ACLEDA",` +
	`"bank_ref":"AC00112301","identity_code":"37627011","purpose_of_transaction":"",` +
	`"device_code":"","status":"success","customers":[{"branch_code":"","branch_name":"",` +
	`"customer_code":"37627011","customer_name":"MAO SAMON","customer_name_latin":"",` +
	`"bill_no":"","amount":45}]}`

type kind struct {
	method, path, body string
	headers            []string
	marker             string // a good answer's body holds this
	uniqueID           bool
}

var kinds = map[string]kind{
	"rp": {method: "GET", path: "/api/customers?code=CU003035", marker: `"cust_no":"CU003035"`},
	"proxy": {method: "POST", path: "/bill24/proxy", body: `{"consumer_code":"CU003035"}`,
		headers: []string{"token: bench", "Content-Type: application/json"}, marker: `"code":0,`},
	"webhook": {method: "POST", path: "/bill24/webhook", body: webhookV1,
		headers: []string{"token: bench", "Content-Type: application/json"}, marker: `"status":"Success"`, uniqueID: true},
	"replay": {method: "POST", path: "/bill24/webhook", body: webhookV1,
		headers: []string{"token: bench", "Content-Type: application/json"}, marker: `"status":"Success"`},
	"rpwebhook": {method: "POST", path: "/api/payments", body: webhookV1,
		headers: []string{"token: bench", "Content-Type: application/json"}, marker: `"result":"OK"`, uniqueID: true},
}

func main() {
	addr := flag.String("addr", "", "host:port to load; the host must be a loopback address")
	kindName := flag.String("kind", "", "rp, proxy, webhook, replay or rpwebhook")
	conns := flag.Int("c", 32, "connections (workers)")
	dur := flag.Duration("d", 5*time.Second, "how long to send, warm-up included (with -n: a cap)")
	warmup := flag.Duration("warmup", time.Second, "leading time not measured")
	rate := flag.Float64("rate", 0, "fixed rate in requests/s over all connections; 0: closed loop")
	total := flag.Int64("n", 0, "stop after this many requests in all (0: no limit)")
	id := flag.String("id", "", "replay: the fixed tran_id (36 characters)")
	timeout := flag.Duration("timeout", 10*time.Second, "per request")
	progress := flag.Bool("progress", false, "print `progress <sent> <errors>` on stderr every second")
	printReq := flag.Bool("print", false, "print one request and exit")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("loadgen: ")

	k, ok := kinds[*kindName]
	if !ok {
		log.Fatalf("unknown -kind %q", *kindName)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("-addr: %v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-addr %s: only loopback addresses are loaded", *addr)
	}
	if *conns < 1 {
		log.Fatal("-c must be at least 1")
	}
	req, idOff := build(k, *addr)
	if *kindName == "replay" {
		if len(*id) != len(placeholderID) {
			log.Fatalf("replay needs -id of %d characters", len(placeholderID))
		}
		copy(req[idOff:], *id)
	}
	if *printReq {
		if _, err := os.Stdout.Write(req); err != nil {
			log.Fatal(err)
		}
		return
	}

	var prefix [8]byte // the same for every id of this process
	if _, err := rand.Read(prefix[:]); err != nil {
		log.Fatal(err)
	}

	var sent, sentErrs atomic.Int64
	start := time.Now()
	warmEnd := start.Add(*warmup)
	deadline := start.Add(*dur)
	workers := make([]*worker, *conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			i: i, addr: *addr, kind: k, timeout: *timeout,
			req: bytes.Clone(req), idOff: idOff, errKinds: map[string]int64{},
		}
		if k.uniqueID {
			w.setPrefix(prefix)
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(runParams{start: start, warmEnd: warmEnd, deadline: deadline, rate: *rate,
				conns: *conns, total: *total, sent: &sent, sentErrs: &sentErrs})
		}()
	}
	done := make(chan struct{})
	if *progress {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					fmt.Fprintf(os.Stderr, "progress %d %d\n", sent.Load(), sentErrs.Load())
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	end := time.Now()

	res := Result{Kind: *kindName, Conns: *conns, Rate: *rate, Hist: &hist.H{}, ErrorKinds: map[string]int64{}}
	windowEnd := deadline
	if end.Before(deadline) { // stopped by -n
		windowEnd = end
	}
	res.Window = windowEnd.Sub(warmEnd).Seconds()
	for _, w := range workers {
		res.Requests += w.n
		res.Errors += w.errs
		res.Hist.Merge(&w.hist)
		for e, n := range w.errKinds {
			res.ErrorKinds[e] += n
		}
		if res.ErrorBody == "" {
			res.ErrorBody = w.errBody
		}
		if w.conn != nil {
			_ = w.conn.Close()
		}
	}
	res.Sent, res.SentErrors = sent.Load(), sentErrs.Load()
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Fatal(err)
	}
}

// build serialises a kind's request for addr. idOff is where the tran_id
// starts in it, or -1.
func build(k kind, addr string) (req []byte, idOff int) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: billbridge-bench\r\n", k.method, k.path, addr)
	for _, h := range k.headers {
		b.WriteString(h + "\r\n")
	}
	if k.body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(k.body))
	}
	b.WriteString("\r\n")
	b.WriteString(k.body)
	return b.Bytes(), bytes.Index(b.Bytes(), []byte(placeholderID))
}

type runParams struct {
	start, warmEnd, deadline time.Time
	rate                     float64
	conns                    int
	total                    int64
	sent, sentErrs           *atomic.Int64
}

type worker struct {
	i       int
	addr    string
	kind    kind
	timeout time.Duration
	req     []byte
	idOff   int
	seq     uint64

	conn net.Conn
	br   *bufio.Reader
	body []byte

	hist     hist.H
	n, errs  int64
	errKinds map[string]int64
	errBody  string
}

// setPrefix writes the fixed part of this worker's ids: 8-4 hex digits
// from the process's random prefix, then the worker number; the last 4-12
// digits are the sequence number (see nextID).
func (w *worker) setPrefix(prefix [8]byte) {
	id := w.req[w.idOff : w.idOff+len(placeholderID)]
	hex.Encode(id[0:8], prefix[0:4])
	hex.Encode(id[9:13], prefix[4:6])
	hex.Encode(id[14:18], []byte{byte(w.i >> 8), byte(w.i)}) //nolint:gosec // G115: the low 16 bits, by design
}

// nextID writes the next sequence number into the request's tran_id.
func (w *worker) nextID() {
	id := w.req[w.idOff : w.idOff+len(placeholderID)]
	s := w.seq
	w.seq++
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(s)
		s >>= 8
	}
	hex.Encode(id[19:23], b[0:2])
	hex.Encode(id[24:36], b[2:8])
}

func (w *worker) run(p runParams) {
	var prevEnd time.Time
	for k := 0; ; k++ {
		due := time.Now()
		if p.rate > 0 {
			due = p.start.Add(time.Duration(float64(k*p.conns+w.i) / p.rate * float64(time.Second)))
		}
		if !due.Before(p.deadline) {
			return
		}
		if n := p.sent.Add(1); p.total > 0 && n > p.total {
			p.sent.Add(-1)
			return
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		begin := time.Now()
		if p.rate > 0 && prevEnd.After(due) {
			begin = due // the worker was busy when this request was due
		}
		if w.kind.uniqueID {
			w.nextID()
		}
		status, err := w.roundTrip()
		end := time.Now()
		prevEnd = end
		bad := ""
		switch {
		case err != nil:
			bad = errKind(err)
		case status != 200:
			bad = "status " + strconv.Itoa(status)
		case !bytes.Contains(w.body, []byte(w.kind.marker)):
			bad = "unexpected body"
		}
		if bad != "" {
			p.sentErrs.Add(1)
			if w.errBody == "" && err == nil {
				w.errBody = fmt.Sprintf("%d %s", status, truncate(w.body, 300))
			}
		}
		if begin.Before(p.warmEnd) || end.After(p.deadline) {
			continue
		}
		if bad != "" {
			w.errs++
			w.errKinds[bad]++
			continue
		}
		w.n++
		w.hist.Record(end.Sub(begin))
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "transport: " + err.Error()
}

// roundTrip sends the request and reads the whole answer into w.body.
func (w *worker) roundTrip() (int, error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		w.conn = c
		w.br = bufio.NewReaderSize(c, 16<<10)
	}
	_ = w.conn.SetDeadline(time.Now().Add(w.timeout))
	status, keep, err := w.exchange()
	if err != nil || !keep {
		_ = w.conn.Close()
		w.conn = nil
	}
	return status, err
}

func (w *worker) exchange() (status int, keep bool, err error) {
	if _, err := w.conn.Write(w.req); err != nil {
		return 0, false, err
	}
	return readResponse(w.br, &w.body)
}

// readResponse reads one HTTP/1.1 response; body gets its (de-chunked) body.
func readResponse(br *bufio.Reader, body *[]byte) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", truncate(line, 40))
	}
	keep = line[7] == '1'
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", truncate(line, 40))
	}
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, false, fmt.Errorf("bad header line %q", truncate(line, 40))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return status, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	b := (*body)[:0]
	switch {
	case status == 204 || status == 304 || (status >= 100 && status < 200):
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return status, false, err
			}
			size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
			n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
			if err != nil || n < 0 {
				return status, false, fmt.Errorf("bad chunk size %q", truncate(line, 40))
			}
			if n == 0 {
				for { // trailers, then the blank line
					line, err = br.ReadSlice('\n')
					if err != nil {
						return status, false, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			b, err = readN(br, b, int(n)+2) // the chunk and its CRLF
			if err != nil {
				return status, false, err
			}
			b = b[:len(b)-2]
		}
	case length >= 0:
		if b, err = readN(br, b, length); err != nil {
			return status, false, err
		}
	default: // until the server closes
		rest, err := io.ReadAll(br)
		if err != nil {
			return status, false, err
		}
		b = append(b, rest...)
		keep = false
	}
	*body = b
	return status, keep, nil
}

// readN appends exactly n bytes from br to b.
func readN(br *bufio.Reader, b []byte, n int) ([]byte, error) {
	l := len(b)
	b = append(b, make([]byte, n)...)
	_, err := io.ReadFull(br, b[l:])
	return b, err
}
