package cutover

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HAProxySwitchConfig drives an HAProxy through its runtime API: one backend whose
// servers are the sides, exactly one of them in the "ready" state (none: drained,
// HAProxy answers 503).
type HAProxySwitchConfig struct {
	// Socket is the runtime API's UNIX socket; HAProxy's global section needs
	// "stats socket <path> level admin" for the state changes.
	Socket  string            `yaml:"socket"`
	Backend string            `yaml:"backend"`
	Servers map[string]string `yaml:"servers"` // side (new, legacy) -> server name in the backend
	// SideURL, when set, is a URL through HAProxy whose response carries the name of
	// the server that answered in X-Served-By (http-response set-header X-Served-By
	// %[srv_name]): the route is then proven by requests, not only by the API.
	SideURL string        `yaml:"side_url"`
	Timeout time.Duration `yaml:"timeout"` // per API command, default 5 s
}

type haproxySwitch struct{ c HAProxySwitchConfig }

func newHAProxySwitch(c HAProxySwitchConfig) (*haproxySwitch, error) {
	switch {
	case c.Socket == "":
		return nil, fmt.Errorf("switch.haproxy.socket: give the runtime API's socket (stats socket PATH level admin)")
	case c.Backend == "":
		return nil, fmt.Errorf("switch.haproxy.backend: name the backend whose servers are the sides")
	case c.Servers[string(SideNew)] == "" || c.Servers[string(SideLegacy)] == "":
		return nil, fmt.Errorf("switch.haproxy.servers: name the server of each side (new: NAME, legacy: NAME)")
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	return &haproxySwitch{c: c}, nil
}

// command sends one runtime API command and returns its answer.
func (h *haproxySwitch) command(ctx context.Context, cmd string) (string, error) {
	d := net.Dialer{Timeout: h.c.Timeout}
	conn, err := d.DialContext(ctx, "unix", h.c.Socket)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime API %s: %w", h.c.Socket, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(h.c.Timeout))
	if _, err := conn.Write([]byte(cmd + "\n")); err != nil {
		return "", fmt.Errorf("haproxy runtime API: %s: %w", cmd, err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("haproxy runtime API: %s: %w", cmd, err)
	}
	return b.String(), nil
}

// setState puts a side's server in state ready or maint; HAProxy answers nothing on
// success.
func (h *haproxySwitch) setState(ctx context.Context, side Side, state string) error {
	cmd := fmt.Sprintf("set server %s/%s state %s", h.c.Backend, h.c.Servers[string(side)], state)
	out, err := h.command(ctx, cmd)
	if err != nil {
		return err
	}
	if out = strings.TrimSpace(out); out != "" {
		if strings.Contains(out, "ermission denied") {
			out += " (the stats socket needs \"level admin\")"
		}
		return fmt.Errorf("haproxy refused %q: %s", cmd, out)
	}
	return nil
}

// Route takes every other side out first (maintenance: no new requests; those in
// flight finish), then puts the chosen side in; never two sides at once.
func (h *haproxySwitch) Route(ctx context.Context, to Side) error {
	if to != SideNone && h.c.Servers[string(to)] == "" {
		return fmt.Errorf("switch.haproxy.servers has no %s", to)
	}
	for _, side := range []Side{SideNew, SideLegacy} {
		if side != to {
			if err := h.setState(ctx, side, "maint"); err != nil {
				return err
			}
		}
	}
	if to != SideNone {
		if err := h.setState(ctx, to, "ready"); err != nil {
			return err
		}
	}
	if cur, err := h.Current(ctx); err != nil || cur != to {
		return fmt.Errorf("haproxy reports %q after routing to %s: %v", cur, to, err)
	}
	if h.c.SideURL == "" {
		return nil
	}
	return untilAgreed(ctx, func(ctx context.Context) (bool, string) {
		got, err := h.probe(ctx)
		return err == nil && got == to, fmt.Sprintf("%q %v", got, err)
	}, fmt.Sprintf("requests through haproxy do not reach %s 10 s after the switch", to))
}

// probe asks through HAProxy which side answers: 503 is none.
func (h *haproxySwitch) probe(ctx context.Context) (Side, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.c.SideURL, nil)
	if err != nil {
		return "", fmt.Errorf("switch.haproxy.side_url %q: %w", h.c.SideURL, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return SideNone, nil
	}
	srv := resp.Header.Get("X-Served-By")
	for side, name := range h.c.Servers {
		if name == srv {
			return Side(side), nil
		}
	}
	return "", fmt.Errorf("HTTP %d served by %q, not a server of switch.haproxy.servers (is X-Served-By set?)", resp.StatusCode, srv)
}

// notReady are HAProxy's srv_admin_state flags that keep a server from new requests:
// forced, inherited, resolution and health maintenance (0x01, 0x02, 0x20, 0x40) and
// forced or inherited drain (0x08, 0x10). 0x04 only remembers that the configuration
// said "disabled"; it stays after "set server ... state ready".
const notReady = 0x01 | 0x02 | 0x08 | 0x10 | 0x20 | 0x40

// Current reads the servers' administrative states from the runtime API.
func (h *haproxySwitch) Current(ctx context.Context) (Side, error) {
	out, err := h.command(ctx, "show servers state "+h.c.Backend)
	if err != nil {
		return "", err
	}
	var cols []string
	ready := map[string]bool{}
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "#":
			cols = f[1:]
		case cols != nil && len(f) >= len(cols):
			row := map[string]string{}
			for i, c := range cols {
				row[c] = f[i]
			}
			st, err := strconv.Atoi(row["srv_admin_state"])
			if err != nil {
				return "", fmt.Errorf("haproxy show servers state: srv_admin_state %q", row["srv_admin_state"])
			}
			seen[row["srv_name"]] = true
			ready[row["srv_name"]] = st&notReady == 0
		}
	}
	if cols == nil {
		return "", fmt.Errorf("haproxy show servers state %s: %s", h.c.Backend, strings.TrimSpace(out))
	}
	var live []string
	for _, side := range []Side{SideNew, SideLegacy} {
		name := h.c.Servers[string(side)]
		if !seen[name] {
			return "", fmt.Errorf("haproxy backend %s has no server %s (the %s side)", h.c.Backend, name, side)
		}
		if ready[name] {
			live = append(live, string(side))
		}
	}
	sort.Strings(live)
	switch len(live) {
	case 0:
		return SideNone, nil
	case 1:
		return Side(live[0]), nil
	}
	return "", fmt.Errorf("haproxy backend %s sends traffic to both sides (%s): route one of them", h.c.Backend, strings.Join(live, ", "))
}

func (h *haproxySwitch) Drain(ctx context.Context) error { return h.Route(ctx, SideNone) }
