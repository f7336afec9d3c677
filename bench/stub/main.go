// Command stub is the load benchmark's legacy billing API: as small and fast
// as an HTTP server in Go gets, so that the benchmark measures Caddy and
// billbridge, not the legacy system. It speaks the quickstart demo's dialect
// (examples/quickstart/legacy):
//
//	GET  /api/customers?code=<code>  200, one fixed customer (CU003035's record)
//	POST /api/payments (a form)      200 {"result":"OK","receipt_no":"RC-…"}; 400 without txn_ref
//	POST /api/payments (JSON)        the same, for Bill24's webhook body as it is (tran_id, tran_amount):
//	                                 what Caddy's reverse_proxy forwards in the bench's scenario (h)
//	GET  /stats                      200 {"lookups":n,"payments":n,"duplicates":n,"forwarded":n}
//
// Unlike the demo it keeps no ledger, only counters, which the benchmark
// reads to check that every unique webhook reached it once, and a set of
// 8-byte hashes of the txn_refs it booked (about 20 bytes a payment), so
// that a payment posted twice shows as a duplicate even when another went
// missing and the counts agree. The forwarded JSON bodies of (h) are only
// counted: they are the baseline's, not billbridge's. It listens on 127.0.0.1 on the port given (0: a free one) and
// prints "listening <addr>" on stdout once it accepts connections.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/maphash"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// customer is CU003035 from the quickstart's demo legacy API, byte for byte.
var customer = []byte(`{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim",` +
	`"full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,` +
	`"min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024",` +
	`"bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33",` +
	`"last_paid_dt":"2024-01-05 10:46:33","overdue":false}}`)

var customerLen = strconv.Itoa(len(customer))

var lookups, payments, duplicates, forwarded atomic.Int64

// seen holds a hash of every txn_ref booked from a form: with a few million
// payments in a run, a 64-bit hash collides with odds below one in a
// million, and the set stays tens of MiB.
var (
	seenMu   sync.Mutex
	seen     = map[uint64]struct{}{}
	seenSeed = maphash.MakeSeed()
)

const contentType = "application/json; charset=utf-8"

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: a free one)")
	flag.Parse()

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/customers", lookup)
	mux.HandleFunc("POST /api/payments", pay)
	mux.HandleFunc("GET /stats", stats)
	srv := &http.Server{Handler: mux, ErrorLog: log.New(os.Stderr, "stub: ", 0), ReadHeaderTimeout: 10 * time.Second}

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		_ = srv.Close()
	}()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func lookup(w http.ResponseWriter, r *http.Request) {
	lookups.Add(1)
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	if r.URL.Query().Get("code") == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"ERROR","error":"code is required"}`))
		return
	}
	h["Content-Length"] = []string{customerLen}
	_, _ = w.Write(customer)
}

func pay(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = []string{contentType}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		payJSON(w, r)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("txn_ref") == "" || r.PostForm.Get("amount") == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"result":"ERROR","error":"txn_ref and amount are required"}`))
		return
	}
	h := maphash.String(seenSeed, r.PostForm.Get("txn_ref"))
	seenMu.Lock()
	_, dup := seen[h]
	seen[h] = struct{}{}
	seenMu.Unlock()
	if dup {
		duplicates.Add(1)
	}
	n := payments.Add(1)
	_, _ = fmt.Fprintf(w, `{"result":"OK","receipt_no":"RC-%06d"}`, n)
}

// payJSON books a Bill24 webhook body as it is, forwarded by Caddy's
// reverse_proxy in the bench's baseline (h): decoded, checked, counted.
func payJSON(w http.ResponseWriter, r *http.Request) {
	var p struct {
		TranID     string          `json:"tran_id"`
		TranAmount json.Number     `json:"tran_amount"`
		Customers  json.RawMessage `json:"customers"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.TranID == "" || p.TranAmount == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"result":"ERROR","error":"tran_id and tran_amount are required"}`))
		return
	}
	n := forwarded.Add(1)
	_, _ = fmt.Fprintf(w, `{"result":"OK","receipt_no":"RF-%06d"}`, n)
}

func stats(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = []string{contentType}
	_, _ = fmt.Fprintf(w, `{"lookups":%d,"payments":%d,"duplicates":%d,"forwarded":%d}`,
		lookups.Load(), payments.Load(), duplicates.Load(), forwarded.Load())
}
