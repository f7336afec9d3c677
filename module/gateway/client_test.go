package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNoRedirects(t *testing.T) {
	if NoRedirects(nil).CheckRedirect == nil {
		t.Error("a new client follows redirects")
	}
	own := &http.Client{Timeout: time.Second}
	c := NoRedirects(own)
	if own.CheckRedirect != nil || c == own || c.CheckRedirect == nil || c.Timeout != time.Second {
		t.Error("the caller's client was changed, or not copied")
	}
	keep := func(*http.Request, []*http.Request) error { return errors.New("mine") }
	if err := NoRedirects(&http.Client{CheckRedirect: keep}).CheckRedirect(nil, nil); err == nil || err.Error() != "mine" {
		t.Errorf("the owner's CheckRedirect was replaced: %v", err)
	}
}

func TestSendRedirectIsTheAnswer(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { leaked.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := NewClient(nil, time.Second, 1<<10)
	resp, err := c.Send(t.Context(), Request{Method: http.MethodPost, URL: srv.URL, Header: http.Header{"Key": {"k"}}, Body: []byte("{}")})
	if err != nil || resp.Status != http.StatusTemporaryRedirect || resp.Header.Get("Location") != other.URL {
		t.Errorf("Send = %+v, %v", resp, err)
	}
	if leaked.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestSend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Key", r.Header.Get("Key"))
			_, _ = w.Write(append([]byte(r.Method+" "), body...))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/cut":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("short"))
		}
	}))
	defer srv.Close()
	c := NewClient(nil, 200*time.Millisecond, 10)

	resp, err := c.Send(t.Context(), Request{Method: http.MethodPost, URL: srv.URL + "/echo", Header: http.Header{"Key": {"k1"}}, Body: []byte("{}")})
	if err != nil || resp.Status != 200 || string(resp.Body) != "POST {}" || resp.Header.Get("X-Key") != "k1" || resp.TooLarge {
		t.Errorf("echo: %+v, %v", resp, err)
	}
	resp, err = c.Send(t.Context(), Request{Method: http.MethodGet, URL: srv.URL + "/echo"})
	if err != nil || string(resp.Body) != "GET " {
		t.Errorf("echo without a body: %+v, %v", resp, err)
	}

	resp, err = c.Send(t.Context(), Request{Method: http.MethodGet, URL: srv.URL + "/big"})
	if err != nil || !resp.TooLarge || len(resp.Body) != 11 {
		t.Errorf("big: TooLarge %v, %d bytes, %v", resp.TooLarge, len(resp.Body), err)
	}

	_, err = c.Send(t.Context(), Request{Method: http.MethodGet, URL: srv.URL + "/slow"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 200ms") || !IsTemporary(err) {
		t.Errorf("slow: %v", err)
	}
	// The caller's own deadline is not the attempt's timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Send(ctx, Request{Method: http.MethodGet, URL: srv.URL + "/slow"})
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no answer within") {
		t.Errorf("slow, caller's deadline: %v", err)
	}

	resp, err = c.Send(t.Context(), Request{Method: http.MethodGet, URL: srv.URL + "/cut"})
	if err == nil || resp.Status != 200 || !strings.Contains(err.Error(), "reading the answer") {
		t.Errorf("cut: %+v, %v", resp, err)
	}

	if _, err := c.Send(t.Context(), Request{Method: "BAD METHOD", URL: srv.URL}); err == nil {
		t.Error("a bad method was sent")
	}
}
