package caddyfile

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	qmKey    = "qm-key"
	qmSecret = "qm-secret"
)

// fakeQM behaves as Quantum Metal's docs describe: every call must carry
// Key and a Sign of MD5(exact body + secret); answers are {code, message,
// data}. It knows bills and can be told to fail.
type fakeQM struct {
	srv      *httptest.Server
	mu       sync.Mutex
	bills    map[string]map[string]any
	created  []map[string]any
	badSign  atomic.Int64
	requery  atomic.Int64
	failNext atomic.Int64 // answer this many calls 503
}

func newFakeQM(t *testing.T) *fakeQM {
	f := &fakeQM{bills: map[string]map[string]any{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() {
		f.srv.Close()
		if n := f.badSign.Load(); n > 0 {
			t.Errorf("fake QM got %d calls with a wrong Key or Sign", n)
		}
	})
	return f
}

func (f *fakeQM) setBill(id string, status int, amount, currency string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bills[id] = map[string]any{
		"billId": id, "merchantReference": "INV-" + id, "requestReference": "R-" + id, "paymentReference": "P-" + id,
		"billAmount": json.RawMessage(`"` + amount + `"`), "currency": currency, "status": status,
		"statusName": map[int]string{0: "Pending Payment", 1: "Successful", 2: "Failed", 3: "Cancelled", 4: "Processing"}[status],
		"isFinal":    status >= 1 && status <= 3, "dateTime": 1706600000000,
	}
}

func (f *fakeQM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sum := md5.Sum(append(body, qmSecret...))
	if r.Header.Get("Key") != qmKey || r.Header.Get("Sign") != hex.EncodeToString(sum[:]) {
		f.badSign.Add(1)
		answer(w, 200, `{"code":1,"message":"Invalid Key or Sign"}`)
		return
	}
	if f.failNext.Add(-1) >= 0 {
		answer(w, 503, `{"code":1,"message":"maintenance"}`)
		return
	}
	f.failNext.Store(0)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/bill/requery":
		f.requery.Add(1)
		f.mu.Lock()
		b, ok := f.bills[r.URL.Query().Get("billId")]
		var data []byte
		if ok {
			data, _ = json.Marshal(b)
		}
		f.mu.Unlock()
		if !ok {
			answer(w, 200, `{"code":1,"message":"Bill not found"}`)
			return
		}
		answer(w, 200, `{"code":0,"message":"Success","data":`+string(data)+`}`)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/bill/create":
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		var req map[string]any
		if err := dec.Decode(&req); err != nil {
			answer(w, 200, `{"code":1,"message":"bad request"}`)
			return
		}
		f.mu.Lock()
		f.created = append(f.created, req)
		f.mu.Unlock()
		if req["merchantReference"] == "REFUSE" {
			answer(w, 200, `{"code":1,"message":"Merchant is not active"}`)
			return
		}
		amt := string(req["amount"].(json.Number))
		answer(w, 200, `{"code":0,"message":"Success","data":{"billAmount":`+amt+`,"requireGCAmount":12.3456,"currency":"MYR","merchantReference":"`+req["merchantReference"].(string)+`","billId":"B-NEW-1","billUrl":"https://pay.qm.example/b/B-NEW-1","expiredOn":1706603600000}}`)
	default:
		answer(w, 404, `{"code":1,"message":"no such endpoint"}`)
	}
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// fakeBill24 is Bill24's merchant API: authorize hands out a bearer token,
// verify answers for transactions it knows, by tran_id.
type fakeBill24 struct {
	srv        *httptest.Server
	mu         sync.Mutex
	tx         map[string]string // tran_id -> data JSON
	authorized atomic.Int64
	verifies   atomic.Int64
	down       atomic.Bool
}

func newFakeBill24(t *testing.T) *fakeBill24 {
	f := &fakeBill24{tx: map[string]string{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBill24) setTx(id, status, amount, currency string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tx[id] = `{"tran_id":"` + id + `","tran_date":"2024-11-29T16:58:16.727168","tran_amount":` + amount + `,"fee_amount":0,"total_amount":` + amount + `,"currency":"` + currency + `","identity_code":"37627011","bank_ref":"AC00112301","status":"` + status + `","customers":[]}`
}

// setTxData sets Bill24's record of a transaction as its JSON data.
func (f *fakeBill24) setTxData(id, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tx[id] = data
}

func (f *fakeBill24) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		answer(w, 502, `<html>bad gateway</html>`)
		return
	}
	var req map[string]string
	_ = json.NewDecoder(r.Body).Decode(&req)
	switch r.URL.Path {
	case "/merchantsecurity/authorize":
		if req["clientId"] != "client-1" || req["secret"] != "b24-secret" || req["token"] != "merchant-token" {
			answer(w, 401, `{"code":401,"message":"invalid credentials"}`)
			return
		}
		f.authorized.Add(1)
		exp := time.Now().Add(time.Hour).In(time.FixedZone("", 7*3600)).Format(time.RFC3339Nano)
		answer(w, 200, `{"code":200,"message":"","data":{"token":"bearer-1","refreshToken":"r","tokenExpireTime":"`+exp+`"}}`)
	case "/transaction/v2/verify":
		if r.Header.Get("Authorization") != "Bearer bearer-1" {
			answer(w, 401, `{"code":"UNAUTHORIZED","message":"invalid token"}`)
			return
		}
		f.verifies.Add(1)
		f.mu.Lock()
		data, ok := f.tx[req["tran_id"]]
		f.mu.Unlock()
		if !ok {
			answer(w, 200, `{"code":"NOT_FOUND","message":"Transaction not found","data":null}`)
			return
		}
		answer(w, 200, `{"code":"SUCCESS","message":"Transaction found","message_kh":"","data":`+data+`}`)
	default:
		answer(w, 404, `{}`)
	}
}
