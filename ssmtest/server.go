package ssmtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is an emulated AWS side of Session Manager listening on one loopback address:
// SSM, ECS and KMS over AWS JSON 1.1, STS GetCallerIdentity over the query protocol, and
// the data-channel websockets of MGS, each session relayed to an in-process emulated SSM Agent.
type Server struct {
	// URL is the endpoint for every service, "http://127.0.0.1:port" (https from StartTLS; the host is
	// Options.Hostname when set), set by Start or StartTLS.
	URL string

	// Listener is where the server accepts connections. NewUnstartedServer sets a
	// 127.0.0.1:0 listener; a caller may replace it before Start.
	Listener net.Listener

	opts       Options
	log        *slog.Logger
	ops        map[string]operation
	kms        *kmsKeys
	faults     *Faults
	startAgent agentStarter
	httpSrv    *http.Server
	tls        *tlsState       // nil without TLS; set by StartTLS before serving
	ctx        context.Context // ends in Close; agents run under it
	cancel     context.CancelFunc

	mu sync.Mutex

	docMu   sync.Mutex
	created map[string]createdDocument // documents made with CreateDocument, under docMu

	ecsMu         sync.Mutex
	ecsContainers map[string][]string // "cluster/task" → container names ExecuteCommand was asked for
	started       bool
	closed        bool
	sessions      map[string]*session
	order         []*session // in creation order
	conns         map[*clientConn]struct{}

	work        sync.WaitGroup // every goroutine the server started, handlers included
	tasks       taskSet        // names of those goroutines, for Close's report
	stats       serverCounters
	closeReport io.Writer   // where Close reports what is stuck; os.Stderr
	mgsSecret   string      // the secret of the key stream URLs are presigned with
	eic         eicKeys     // keys pushed with SendSSHPublicKey
	access      accessState // just-in-time access requests and their credentials
}

// NewServer starts and returns a new Server on 127.0.0.1 with a random port. The
// caller should call Close when finished.
func NewServer(opts *Options) *Server {
	s := NewUnstartedServer(opts)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server that is not yet listening for requests
// beyond accepting them on its Listener. The caller calls Start, then Close.
func NewUnstartedServer(opts *Options) *Server {
	o := opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		Listener: newLocalListener(),
		opts:     o,
		log:      o.Logger,
		kms:      newKMSKeys(),
		ctx:      ctx,
		cancel:   cancel,
		sessions: make(map[string]*session),
		conns:    make(map[*clientConn]struct{}),

		closeReport: os.Stderr,
		mgsSecret:   rand.Text(),
	}
	s.ops = s.operations()
	s.faults = newFaults(s, o.FaultSeed)
	s.startAgent = s.defaultAgentStarter()
	return s
}

func newLocalListener() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if l, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("ssmtest: failed to listen on a port: %v", err))
		}
	}
	return l
}

// Start starts serving plain http and ws on Listener. It panics if called twice, like httptest.
func (s *Server) Start() {
	s.start("http", func() { s.httpSrv.Serve(s.Listener) }, nil)
}

// start serves with serve after configure has adjusted the http.Server.
func (s *Server) start(scheme string, serve func(), configure func(*http.Server)) {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		panic("ssmtest: Server already started")
	}
	s.started = true
	s.mu.Unlock()
	s.URL = scheme + "://" + s.hostForURL()
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if configure != nil {
		configure(s.httpSrv)
	}
	s.goTask("http serve", serve)
}

// now is the server's clock: Options.Now, else time.Now.
func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// Instances returns the managed nodes the server knows, defaults filled in.
func (s *Server) Instances() []Instance { return slices.Clone(s.opts.Instances) }

// Faults returns the server's fault switches.
func (s *Server) Faults() *Faults { return s.faults }

// ServeHTTP routes API calls and data-channel websockets.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := "HTTP " + r.Method + " " + r.URL.Path
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		name = "API " + t
	}
	if !s.enter(name) {
		http.Error(w, "ssmtest: server closed", http.StatusServiceUnavailable)
		return
	}
	defer s.leave(name)
	switch {
	case strings.HasPrefix(r.URL.Path, dataChannelPath):
		s.serveDataChannel(w, r, strings.TrimPrefix(r.URL.Path, dataChannelPath))
	case strings.HasPrefix(r.URL.Path, instanceConnectPath):
		s.serveInstanceConnect(w, r)
	case r.URL.Path == "/" && r.Header.Get("X-Amz-Target") != "":
		s.serveAPI(w, r)
	case isSTSRequest(r):
		s.serveSTS(w, r)
	case isQueryRequest(r):
		s.serveQuery(w, r)
	default:
		s.writeError(w, "", &apiError{Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "unknown path or missing X-Amz-Target"})
	}
}

// enter registers a running goroutine; false once the server is closing.
func (s *Server) enter(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.work.Add(1)
	s.tasks.add(name)
	return true
}

func (s *Server) leave(name string) {
	s.tasks.remove(name)
	s.work.Done()
}

// goTask runs fn on a tracked goroutine unless the server is closing.
func (s *Server) goTask(name string, fn func()) bool {
	if !s.enter(name) {
		return false
	}
	go func() {
		defer s.leave(name)
		fn()
	}()
	return true
}

// after runs fn after d on a tracked goroutine, unless the server closes first.
func (s *Server) after(name string, d time.Duration, fn func()) {
	s.goTask(name, func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			fn()
		case <-s.ctx.Done():
		}
	})
}

// CloseClientConnections abruptly closes every client data-channel websocket (no close
// frame), as a network failure would. Sessions and agents keep running; clients may
// reconnect.
func (s *Server) CloseClientConnections() {
	for _, c := range s.clientConns() {
		c.kill(&c.sess.counters.kills)
	}
}

func (s *Server) clientConns() []*clientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*clientConn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// Close shuts the server down: it stops accepting connections, drops every websocket,
// terminates every agent and waits for all of the server's goroutines. While it waits
// longer than Options.CloseTimeout it reports what is stuck on standard error, like
// httptest.Server.Close.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	sessions := slices.Clone(s.order)
	s.mu.Unlock()

	s.cancel()
	if started {
		s.httpSrv.Close()
	} else {
		s.Listener.Close()
	}
	for _, c := range s.clientConns() {
		c.kill(nil)
	}
	for _, ss := range sessions {
		ss.terminate()
	}
	done := make(chan struct{})
	go func() {
		s.work.Wait()
		close(done)
	}()
	t := time.NewTicker(s.opts.CloseTimeout)
	defer t.Stop()
	for {
		select {
		case <-done:
			s.tls.close()
			return
		case <-t.C:
			fmt.Fprintf(s.closeReport, "ssmtest: Server blocked in Close after %v, waiting for: %s\n",
				s.opts.CloseTimeout, strings.Join(s.tasks.list(), ", "))
		}
	}
}

// Stats returns server-wide counters.
func (s *Server) Stats() Stats {
	st := Stats{
		APIRequests:        s.stats.apiRequests.Load(),
		APIErrors:          s.stats.apiErrors.Load(),
		SessionsStarted:    s.stats.sessionsStarted.Load(),
		WebsocketsAccepted: s.stats.wsAccepted.Load(),
		WebsocketsRejected: s.stats.wsRejected.Load(),
		Upgrades: UpgradeStats{
			Signed:          s.stats.upgradesSigned.Load(),
			Presigned:       s.stats.upgradesPresigned.Load(),
			UnsignedAllowed: s.stats.upgradesUnsigned.Load(),
			Refused:         s.stats.upgradesRefused.Load(),
		},
		DataKeys: s.stats.dataKeys.Load(),
		Decrypts: s.kms.decrypts.Load(),
	}
	s.mu.Lock()
	sessions := slices.Clone(s.order)
	s.mu.Unlock()
	for _, ss := range sessions {
		info := ss.info()
		if !info.Ended {
			st.SessionsActive++
		}
		st.SessionStats.add(info.Stats)
	}
	return st
}

// Session returns a snapshot of the session with the given ID, or nil if there is none.
func (s *Server) Session(id string) *SessionInfo {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		return nil
	}
	info := ss.info()
	return &info
}

// SessionIDs returns the IDs of every session the server has started, oldest first.
func (s *Server) SessionIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(s.order))
	for i, ss := range s.order {
		ids[i] = ss.id
	}
	return ids
}

// taskSet counts running goroutines by name.
type taskSet struct {
	mu    sync.Mutex
	count map[string]int
}

func (t *taskSet) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count == nil {
		t.count = make(map[string]int)
	}
	t.count[name]++
}

func (t *taskSet) remove(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count[name]--; t.count[name] <= 0 {
		delete(t.count, name)
	}
}

func (t *taskSet) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var l []string
	for name, n := range t.count {
		l = append(l, fmt.Sprintf("%s (%d)", name, n))
	}
	slices.Sort(l)
	return l
}
