package cdc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xckit/xckit/cdc"
	"github.com/xckit/xckit/internal/dbx"
)

// proxy forwards a port to the legacy database; cut drops every connection and refuses
// new ones for a while, as a restarting database does.
type proxy struct {
	addr, to string
	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
}

func newProxy(t *testing.T, to string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), to: to}
	p.serve(ln)
	t.Cleanup(func() { p.cut(0) })
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection; after d (if > 0) it listens again.
func (p *proxy) cut(d time.Duration) {
	p.mu.Lock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	if d <= 0 {
		return
	}
	time.Sleep(d)
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		panic(err)
	}
	p.serve(ln)
}

// TestTargetOutage: the legacy database goes away in the middle of a run; the pipeline
// waits, resumes when it is back, and verify is clean.
func TestTargetOutage(t *testing.T) {
	p := newPair(t, "legacy")
	execSQL(t, p.src, "CREATE TABLE ev (id BIGINT PRIMARY KEY, v TEXT)")
	execSQL(t, p.dst, "CREATE TABLE ev (id BIGINT PRIMARY KEY, v TEXT)")
	d, _ := dbx.ParseDSN(p.dstDSN)
	px := newProxy(t, fmt.Sprintf("%s:%d", d.Host, d.Port))
	host, port, _ := net.SplitHostPort(px.addr)
	d.Host = host
	fmt.Sscan(port, &d.Port)
	viaProxy, err := dbx.OpenDSN(context.Background(), d, dbx.Options{ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer viaProxy.Close()
	slot := slotName(t)
	if _, err := cdc.Init(context.Background(), cdc.InitOptions{Source: p.src, Target: viaProxy, Slot: slot, Plugin: labPlugin}); err != nil {
		t.Fatal(err)
	}
	dec, _ := cdc.DecoderFor(labPlugin)
	stats := &cdc.Stats{}
	pl := &cdc.Pipeline{Reader: cdc.NewSQLReader(p.src, slot, dec, 50), Sink: cdc.NewSink(viaProxy, slot), Stats: stats,
		MaxWait: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	for i := 1; i <= 300; i++ {
		execSQL(t, p.src, fmt.Sprintf("INSERT INTO ev VALUES (%d, 'v%d')", i, i))
		if i == 100 {
			go px.cut(2 * time.Second)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lsn, _ := cdc.CurrentLSN(context.Background(), p.src)
	if err := cdc.WaitApplied(context.Background(), p.dst, slot, lsn, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if stats.Retries.Load() == 0 {
		t.Error("the outage should have made the pipeline wait and retry")
	}
	rep, err := cdc.Verify(context.Background(), cdc.VerifyOptions{Source: p.src, Target: p.dst})
	if err != nil || !rep.Equal() || rep.Tables[0].SourceRows != 300 {
		t.Errorf("after the outage: %+v %v", rep.Tables, err)
	}
}
