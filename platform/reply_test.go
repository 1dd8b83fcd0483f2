package platform

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A payment whose database went away (a failover) answers 503 with Retry-After and
// says the retry with the same req_id is safe; any other failure stays a 500.
func TestPaymentReplyToADatabaseFailure(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"connection refused (the primary is gone)", fmt.Errorf("pay: %w", syscall.ECONNREFUSED), 503, "database_unavailable"},
		{"connection reset", fmt.Errorf("commit: %w", syscall.ECONNRESET), 503, "database_unavailable"},
		{"anything else", errors.New("division by zero"), 500, "internal"},
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.paymentReply(w, time.Now(), "r1", Payment{}, false, tc.err)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), `"`+tc.code+`"`) {
				t.Fatalf("HTTP %d %s, want %d %s", w.Code, w.Body.String(), tc.status, tc.code)
			}
			if retry := w.Header().Get("Retry-After"); (tc.status == http.StatusServiceUnavailable) != (retry == "1") {
				t.Errorf("Retry-After %q for HTTP %d", retry, w.Code)
			}
		})
	}
}
