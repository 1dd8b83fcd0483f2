package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls payd's API with signed requests. It is what xckit's bench, smoke tests
// and demo use, and an example for a site's own clients (docs/api.md).
type Client struct {
	BaseURL    string
	Merchant   string
	Key        string
	SignMethod string // hmac-sha256 (default) or hmac-sm3
	HTTP       *http.Client
}

// Response is one API answer.
type Response struct {
	Status       int
	Body         []byte
	PlatformTime time.Duration // from X-Platform-Time-Us
	Replay       bool          // X-Idempotent-Replay
	RetryAfter   string
}

// Decode reads the JSON body into v.
func (r *Response) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// Do sends a signed request with a JSON body (nil for none).
func (c *Client) Do(ctx context.Context, method, path string, body any) (*Response, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	SignRequest(req, c.Merchant, c.Key, c.SignMethod, raw, time.Now())
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	us, _ := strconv.ParseInt(resp.Header.Get(HeaderPlatformTime), 10, 64)
	return &Response{Status: resp.StatusCode, Body: b, PlatformTime: time.Duration(us) * time.Microsecond,
		Replay: resp.Header.Get("X-Idempotent-Replay") == "true", RetryAfter: resp.Header.Get("Retry-After")}, nil
}

// Pay posts a payment.
func (c *Client) Pay(ctx context.Context, p PaymentRequest) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/payments", p)
}

// Identify asks the platform who it is (its /readyz: version, database, schema), within
// 5 s: the evidence of an acceptance run names the system it measured.
func (c *Client) Identify(ctx context.Context) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&out); err != nil {
		return nil, fmt.Errorf("/readyz answered HTTP %s, not JSON", resp.Status)
	}
	return out, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}
