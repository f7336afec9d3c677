// Package legacy is a demo LEGACY billing API: the kind of old PHP/Java
// billing system a merchant cannot change, which billbridge sits in front of.
// It speaks its own dialect (its own field names, form posts, a "status" key
// on one endpoint and a "result" key on the other), not Bill24's. It keeps
// everything in memory and is safe for concurrent use.
//
// It deliberately does NOT deduplicate payments: like a real old system it
// appends every POST it receives to its ledger, so posting the same gateway
// transaction twice books it twice. Preventing that is billbridge's job.
//
// # Conventions
//
// Every answer is JSON with Content-Type "application/json; charset=utf-8".
// Text is UTF-8 end to end (Khmer names come back byte for byte). Money is
// kept as integer minor units at a fixed scale of 2 (a DECIMAL(12,2) column),
// whatever the currency, and written as exact JSON numbers such as 10.00,
// 50000.00 or 0.00; it never passes through float64. Dates are
// "YYYY-MM-DD HH:MM:SS" in Phnom Penh time (+07:00).
//
// If an API key is set ([Server.SetAPIKey]; the quickstart sets one, [New]
// does not), every request must carry it in the X-Api-Key header, or it gets
// 401 {"result":"ERROR","error":"invalid or missing X-Api-Key"}.
// Unknown paths get 404 {"result":"ERROR","error":"no such endpoint"}, a
// wrong method 405 {"result":"ERROR","error":"method not allowed"} (with Allow).
//
// # GET /api/customers?code=<cust_no>
//
// Looks up a customer. 200:
//
//	{"status":"OK","customer":{"cust_no":"CU003035","full_name":"Nheb Nim",
//	 "full_name_kh":"ញ៉េប នីម","tel":"010888999","ccy":"USD","amt_due":10.00,
//	 "min_pay":-1,"max_pay":5000,"credit":0.00,"memo":"Invoice on Feb-2024",
//	 "bill_dt":"2024-02-29 10:46:33","due_dt":"2024-03-30 10:46:33",
//	 "last_paid_dt":"2024-01-05 10:46:33","overdue":false}}
//
// amt_due is what is still owed (0.00 once paid), credit what was overpaid,
// min_pay/max_pay whole-unit limits per payment (-1 = unlimited), overdue is
// always present. Unknown code: 404 {"status":"NOT_FOUND"}; missing code:
// 400 {"status":"ERROR","error":"code is required"}.
//
// Seeded customers (one per Bill24 proxy code 0–4):
//
//	CU003035  Nheb Nim / ញ៉េប នីម            USD    10.00 due            → 0 success
//	37627011  MAO SAMON (no Khmer name)      USD    45.00 due            → 0 success
//	12340001  CHEA Samnang / ជា សំណាង          KHR 50000.00 due            → 0 success
//	CU000000  SOK Dara / សុខ ដារ៉ា              USD     0.00 due, 5.00 credit → 3 no amount to pay
//	CU000001  KEO Sophea / កែវ សុភា            KHR 120000.00 due, overdue  → 2 bill overdue
//	CU000002  Jean DUPONT                    EUR    25.00 due            → 4 currency not allowed
//	(any other code)                                                     → 1 not found
//
// # POST /api/payments
//
// Books a payment, old style: an application/x-www-form-urlencoded body
// (query parameters are ignored) with the fields
//
//	invoice_no  required  the bill being paid
//	cust_no     required  must be a known customer
//	amount      required  positive decimal, digits with at most 2 decimals
//	                      ("45", "45.5", "50000.00"; extra zero decimals are
//	                      tolerated; no sign, exponent, separators or spaces)
//	ccy         required  must equal the customer's currency
//	txn_ref     required  the gateway's transaction id
//	paid_at     optional  "2006-01-02 15:04:05", "2006-01-02T15:04:05[.frac]"
//	                      or RFC 3339; stored verbatim
//	channel     optional  e.g. the bank name
//	payer_name  optional
//
// and records the Idempotency-Key request header, if any, in the row without
// acting on it. It appends a ledger row, lowers the customer's amt_due by the
// amount (anything beyond amt_due goes to credit), sets last_paid_dt (from
// paid_at when it parses, else now) and answers 200
// {"result":"OK","receipt_no":"RC-000001"}. Receipt numbers count up from
// RC-000001. A missing or empty required field, a bad amount, an unknown
// customer or a currency mismatch: 400 {"result":"ERROR","error":"..."}; a
// body that is not a form: 415 with the same shape.
//
// # GET /api/payments?txn_ref=<ref>
//
// The lookup billbridge runs after an ambiguous timeout. If a row with that
// txn_ref exists, 200 with the first such row:
//
//	{"result":"OK","receipt_no":"RC-000001","invoice_no":"INV23001",
//	 "cust_no":"12340001","amount":50000.00,"ccy":"KHR","txn_ref":"174952172035635",
//	 "paid_at":"2023-05-10T15:47:12.890062","channel":"AMK","payer_name":"ជា សំណាង",
//	 "idempotency_key":"174952172035635","posted_at":"2024-03-01 09:00:00"}
//
// else 404 {"result":"NOT_FOUND"}; missing txn_ref: 400
// {"result":"ERROR","error":"txn_ref is required"}.
//
// # GET /api/ledger
//
// 200 with a JSON array of every row, oldest first, each shaped like the
// lookup answer without "result" ([] when empty).
//
// # Test hooks
//
// [New], [Server.Ledger], [Server.Customer], [Server.PaymentCalls],
// [Server.SetFailNext], [Server.SetDelay], [Server.SetAPIKey] and
// [Server.SetLogger] let other packages' integration tests drive failures:
// SetFailNext answers the next n payment posts with an error status without
// booking them; SetDelay books a payment and THEN waits before answering, like
// a system that committed the payment but answered too late (the "ambiguous
// timeout" case).
package legacy

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Customer is a customer record as the legacy API shows it. Amounts are
// exact decimal strings: AmtDue and Credit with 2 decimals ("10.00"), MinPay
// and MaxPay in whole units ("-1" = unlimited).
type Customer struct {
	CustNo     string
	FullName   string
	FullNameKh string
	Tel        string
	Ccy        string
	AmtDue     string
	MinPay     string
	MaxPay     string
	Credit     string
	Memo       string
	BillDt     string
	DueDt      string
	LastPaidDt string
	Overdue    bool
}

// Payment is one ledger row. Amount is an exact decimal string with 2
// decimals ("45.00"). IdempotencyKey is the request's Idempotency-Key header
// ("" when absent). PostedAt is when the row was booked.
type Payment struct {
	ReceiptNo      string
	InvoiceNo      string
	CustNo         string
	Amount         string
	Ccy            string
	TxnRef         string
	PaidAt         string
	Channel        string
	PayerName      string
	IdempotencyKey string
	PostedAt       string
}

// Server is the demo legacy billing API. It is an [http.Handler]; the zero
// value is not usable, call [New].
type Server struct {
	mu         sync.Mutex
	customers  map[string]*customer
	ledger     []Payment
	calls      int
	failNext   int
	failStatus int
	delay      time.Duration
	apiKey     string
	logger     *log.Logger
}

// customer is the stored record; money is in minor units (scale 2).
type customer struct {
	custNo, fullName, fullNameKh, tel, ccy string
	amtDue, credit                         int64
	minPay, maxPay                         int64
	memo, billDt, dueDt, lastPaidDt        string
	overdue                                bool
}

// phnomPenh is Cambodia's zone; fixed, so no tzdata is needed.
var phnomPenh = time.FixedZone("ICT", 7*60*60)

const (
	dateLayout   = "2006-01-02 15:04:05"
	maxBodyBytes = 64 << 10
	contentType  = "application/json; charset=utf-8"
)

// New returns a legacy billing API seeded with the demo customers, with no
// API key, no failures and no delay.
func New() *Server {
	s := &Server{customers: make(map[string]*customer)}
	for _, c := range []customer{
		{custNo: "CU003035", fullName: "Nheb Nim", fullNameKh: "ញ៉េប នីម", tel: "010888999", ccy: "USD",
			amtDue: 1000, minPay: -1, maxPay: 5000, memo: "Invoice on Feb-2024",
			billDt: "2024-02-29 10:46:33", dueDt: "2024-03-30 10:46:33", lastPaidDt: "2024-01-05 10:46:33"},
		{custNo: "37627011", fullName: "MAO SAMON", tel: "012345678", ccy: "USD",
			amtDue: 4500, minPay: -1, maxPay: -1, memo: "Internet Nov-2024",
			billDt: "2024-11-01 08:00:00", dueDt: "2024-12-01 08:00:00", lastPaidDt: "2024-10-28 14:12:09"},
		{custNo: "12340001", fullName: "CHEA Samnang", fullNameKh: "ជា សំណាង", tel: "017555123", ccy: "KHR",
			amtDue: 5000000, minPay: 1000, maxPay: -1, memo: "Water bill INV23001",
			billDt: "2023-05-01 09:00:00", dueDt: "2023-05-31 17:00:00", lastPaidDt: "2023-04-10 11:20:45"},
		{custNo: "CU000000", fullName: "SOK Dara", fullNameKh: "សុខ ដារ៉ា", tel: "092111222", ccy: "USD",
			amtDue: 0, credit: 500, minPay: -1, maxPay: 5000, memo: "Paid in full, Feb-2024",
			billDt: "2024-02-01 10:00:00", dueDt: "2024-03-01 10:00:00", lastPaidDt: "2024-02-20 16:03:11"},
		{custNo: "CU000001", fullName: "KEO Sophea", fullNameKh: "កែវ សុភា", tel: "011999000", ccy: "KHR",
			amtDue: 12000000, minPay: -1, maxPay: -1, memo: "Electricity Dec-2023 (overdue)",
			billDt: "2023-12-01 08:00:00", dueDt: "2023-12-31 17:00:00", lastPaidDt: "2023-11-15 09:41:27",
			overdue: true},
		{custNo: "CU000002", fullName: "Jean DUPONT", tel: "+33612345678", ccy: "EUR",
			amtDue: 2500, minPay: -1, maxPay: -1, memo: "Consulting Feb-2024",
			billDt: "2024-02-15 12:00:00", dueDt: "2024-03-15 12:00:00", lastPaidDt: "2024-01-15 12:30:00"},
	} {
		s.customers[c.custNo] = &c
	}
	return s
}

// Ledger returns a copy of every booked payment, oldest first.
func (s *Server) Ledger() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Payment, len(s.ledger))
	copy(out, s.ledger)
	return out
}

// Customer returns the current state of a customer, and whether it exists.
func (s *Server) Customer(code string) (Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[code]
	if !ok {
		return Customer{}, false
	}
	return Customer{
		CustNo: c.custNo, FullName: c.fullName, FullNameKh: c.fullNameKh, Tel: c.tel, Ccy: c.ccy,
		AmtDue: formatMinor(c.amtDue), MinPay: strconv.FormatInt(c.minPay, 10),
		MaxPay: strconv.FormatInt(c.maxPay, 10), Credit: formatMinor(c.credit),
		Memo: c.memo, BillDt: c.billDt, DueDt: c.dueDt, LastPaidDt: c.lastPaidDt, Overdue: c.overdue,
	}, true
}

// PaymentCalls reports how many POST /api/payments requests arrived,
// including failed, rejected and simulated-failure ones.
func (s *Server) PaymentCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// SetFailNext makes the next n POST /api/payments answer with the given
// HTTP status and {"result":"ERROR","error":"simulated failure"}, without
// booking anything. n <= 0 clears it; a status outside 100–599 means 500.
func (s *Server) SetFailNext(n int, status int) {
	if status < 100 || status > 599 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = max(n, 0)
	s.failStatus = status
}

// SetDelay makes every later successful POST /api/payments book the payment
// first and then wait d before answering (0 turns it off). A client that
// gives up meanwhile has still been charged: the ambiguous-timeout case.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetAPIKey makes every request require the X-Api-Key header with this
// value; "" (the default) accepts any request.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// SetLogger makes the server log one line per request to l; nil (the
// default) is silent.
func (s *Server) SetLogger(l *log.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logger = l
}

// ServeHTTP routes the legacy API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key, logger := s.apiKey, s.logger
	s.mu.Unlock()
	if logger != nil {
		logger.Printf("%s %s", r.Method, r.URL.RequestURI())
	}
	if key != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Api-Key")), []byte(key)) != 1 {
		writeJSON(w, http.StatusUnauthorized, errorBody("invalid or missing X-Api-Key"))
		return
	}

	var allow string
	switch r.URL.Path {
	case "/api/customers":
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.getCustomer(w, r)
			return
		}
		allow = "GET, HEAD"
	case "/api/payments":
		switch r.Method {
		case http.MethodPost:
			s.postPayment(w, r)
			return
		case http.MethodGet, http.MethodHead:
			s.getPayment(w, r)
			return
		}
		allow = "GET, HEAD, POST"
	case "/api/ledger":
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.getLedger(w)
			return
		}
		allow = "GET, HEAD"
	default:
		writeJSON(w, http.StatusNotFound, errorBody("no such endpoint"))
		return
	}
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody("method not allowed"))
}

// customerJSON is the wire shape of a customer; field order is the answer's.
type customerJSON struct {
	CustNo     string      `json:"cust_no"`
	FullName   string      `json:"full_name"`
	FullNameKh string      `json:"full_name_kh"`
	Tel        string      `json:"tel"`
	Ccy        string      `json:"ccy"`
	AmtDue     json.Number `json:"amt_due"`
	MinPay     json.Number `json:"min_pay"`
	MaxPay     json.Number `json:"max_pay"`
	Credit     json.Number `json:"credit"`
	Memo       string      `json:"memo"`
	BillDt     string      `json:"bill_dt"`
	DueDt      string      `json:"due_dt"`
	LastPaidDt string      `json:"last_paid_dt"`
	Overdue    bool        `json:"overdue"`
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if code == "" {
		writeJSON(w, http.StatusBadRequest, struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}{"ERROR", "code is required"})
		return
	}
	c, ok := s.Customer(code)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"status": "NOT_FOUND"})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Status   string       `json:"status"`
		Customer customerJSON `json:"customer"`
	}{"OK", customerJSON{
		CustNo: c.CustNo, FullName: c.FullName, FullNameKh: c.FullNameKh, Tel: c.Tel, Ccy: c.Ccy,
		AmtDue: json.Number(c.AmtDue), MinPay: json.Number(c.MinPay), MaxPay: json.Number(c.MaxPay),
		Credit: json.Number(c.Credit), Memo: c.Memo, BillDt: c.BillDt, DueDt: c.DueDt,
		LastPaidDt: c.LastPaidDt, Overdue: c.Overdue,
	}})
}

// paymentJSON is the wire shape of a ledger row.
type paymentJSON struct {
	ReceiptNo      string      `json:"receipt_no"`
	InvoiceNo      string      `json:"invoice_no"`
	CustNo         string      `json:"cust_no"`
	Amount         json.Number `json:"amount"`
	Ccy            string      `json:"ccy"`
	TxnRef         string      `json:"txn_ref"`
	PaidAt         string      `json:"paid_at"`
	Channel        string      `json:"channel"`
	PayerName      string      `json:"payer_name"`
	IdempotencyKey string      `json:"idempotency_key"`
	PostedAt       string      `json:"posted_at"`
}

func toJSON(p Payment) paymentJSON {
	return paymentJSON{
		ReceiptNo: p.ReceiptNo, InvoiceNo: p.InvoiceNo, CustNo: p.CustNo, Amount: json.Number(p.Amount),
		Ccy: p.Ccy, TxnRef: p.TxnRef, PaidAt: p.PaidAt, Channel: p.Channel, PayerName: p.PayerName,
		IdempotencyKey: p.IdempotencyKey, PostedAt: p.PostedAt,
	}
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("txn_ref")
	if ref == "" {
		writeJSON(w, http.StatusBadRequest, errorBody("txn_ref is required"))
		return
	}
	s.mu.Lock()
	var found *Payment
	for i := range s.ledger {
		if s.ledger[i].TxnRef == ref {
			p := s.ledger[i]
			found = &p
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"result": "NOT_FOUND"})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Result string `json:"result"`
		paymentJSON
	}{"OK", toJSON(*found)})
}

func (s *Server) getLedger(w http.ResponseWriter) {
	rows := s.Ledger()
	out := make([]paymentJSON, 0, len(rows))
	for _, p := range rows {
		out = append(out, toJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postPayment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	if s.failNext > 0 {
		s.failNext--
		status := s.failStatus
		s.mu.Unlock()
		writeJSON(w, status, errorBody("simulated failure"))
		return
	}
	s.mu.Unlock()

	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody("expected an application/x-www-form-urlencoded body"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("unreadable form: "+err.Error()))
		return
	}
	f := r.PostForm
	for _, name := range []string{"invoice_no", "cust_no", "amount", "ccy", "txn_ref"} {
		if strings.TrimSpace(f.Get(name)) == "" {
			writeJSON(w, http.StatusBadRequest, errorBody("missing field "+name))
			return
		}
	}
	amount, err := parseAmount(f.Get("amount"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(err.Error()))
		return
	}

	now := time.Now().In(phnomPenh)
	p := Payment{
		InvoiceNo:      f.Get("invoice_no"),
		CustNo:         f.Get("cust_no"),
		Amount:         formatMinor(amount),
		Ccy:            f.Get("ccy"),
		TxnRef:         f.Get("txn_ref"),
		PaidAt:         f.Get("paid_at"),
		Channel:        f.Get("channel"),
		PayerName:      f.Get("payer_name"),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		PostedAt:       now.Format(dateLayout),
	}
	lastPaid := p.PostedAt
	if t, ok := parsePaidAt(p.PaidAt); ok {
		lastPaid = t.Format(dateLayout)
	}

	s.mu.Lock()
	c, ok := s.customers[p.CustNo]
	switch {
	case !ok:
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, errorBody(fmt.Sprintf("unknown cust_no %q", p.CustNo)))
		return
	case c.ccy != p.Ccy:
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, errorBody(fmt.Sprintf("ccy %q does not match the customer's currency %s", p.Ccy, c.ccy)))
		return
	}
	p.ReceiptNo = fmt.Sprintf("RC-%06d", len(s.ledger)+1)
	s.ledger = append(s.ledger, p)
	if amount <= c.amtDue {
		c.amtDue -= amount
	} else {
		c.credit += amount - c.amtDue
		c.amtDue = 0
	}
	c.lastPaidDt = lastPaid
	delay, logger := s.delay, s.logger
	s.mu.Unlock()

	if logger != nil {
		logger.Printf("booked %s: %s %s, invoice %s, customer %s, txn_ref %s", p.ReceiptNo, p.Amount, p.Ccy, p.InvoiceNo, p.CustNo, p.TxnRef)
	}
	if delay > 0 {
		// Committed already; answer late (or never, if the client left).
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Result    string `json:"result"`
		ReceiptNo string `json:"receipt_no"`
	}{"OK", p.ReceiptNo})
}

// amountRE is a non-negative decimal without sign, exponent or separators.
var amountRE = regexp.MustCompile(`^([0-9]{1,13})(?:\.([0-9]+))?$`)

// parseAmount parses a positive decimal with at most 2 significant decimals
// into minor units (scale 2).
func parseAmount(s string) (int64, error) {
	m := amountRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("amount %q is not a decimal number", s)
	}
	frac := m[2]
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, fmt.Errorf("amount %q has more than 2 decimals", s)
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	units, err := strconv.ParseInt(m[1]+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	if units <= 0 {
		return 0, errors.New("amount must be positive")
	}
	return units, nil
}

// formatMinor writes minor units (scale 2) as a decimal: 1000 → "10.00".
func formatMinor(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// parsePaidAt understands the date shapes gateways send; zoneless ones are
// taken as Phnom Penh time.
func parsePaidAt(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(phnomPenh), true
	}
	for _, layout := range []string{"2006-1-2 15:04:05", "2006-1-2T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, phnomPenh); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// errorJSON is {"result":"ERROR","error":"..."}, in that order.
type errorJSON struct {
	Result string `json:"result"`
	Error  string `json:"error"`
}

func errorBody(msg string) errorJSON { return errorJSON{"ERROR", msg} }

// writeJSON writes v as JSON, leaving non-ASCII text (Khmer) and <>&
// unescaped.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"result":"ERROR","error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
