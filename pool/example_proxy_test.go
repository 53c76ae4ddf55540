package pool_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/pool"
	"github.com/ssmwire/ssmwire/proxy"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// Serve a SOCKS5 and HTTP CONNECT proxy that reaches every host the instance can reach, with the names
// resolved there: each destination gets one port-forwarding session, shared by its connections. Here an
// HTTP client goes through it to a web server the emulated instance knows as wiki.internal.
func ExampleNewDialer() {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		fmt.Fprintln(w, "hello from", host)
	}))
	defer web.Close()
	_, port, _ := net.SplitHostPort(web.Listener.Addr().String())
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, Hosts: map[string]string{"wiki.internal": "127.0.0.1"}})
	defer srv.Close()
	c := ssmwire.NewFromAWSConfig(srv.AWSConfig())

	d := pool.NewDialer(c, "i-0123456789abcdef0", nil)
	defer d.Close()
	ps, err := proxy.New(&proxy.Config{Dial: d.Dial})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ps.Serve(ctx, l)

	// Any program that speaks SOCKS5 or HTTP CONNECT can use it; Go's HTTP client speaks SOCKS5.
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: l.Addr().String()})}}
	resp, err := client.Get("http://wiki.internal:" + port + "/")
	if err != nil {
		fmt.Println("get:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: hello from wiki.internal
}
