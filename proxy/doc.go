// Package proxy is a SOCKS5 (RFC 1928) and HTTP CONNECT (RFC 9110 §9.3.6) proxy on one listener, with a
// pluggable dial function. ssmwire uses it to reach any host a Session Manager target can reach from any
// program that speaks a proxy protocol, dialling every destination through a port-forwarding session; with
// a plain net.Dialer it is an ordinary local proxy, which is how its tests drive it.
//
// # One port, two protocols
//
// The first byte a client sends tells the protocols apart:
//
//	0x05          SOCKS5: greeting, request, reply (socks5.go)
//	0x04          SOCKS4: refused with a SOCKS4 "request rejected" reply (91)
//	'A'-'Z'       HTTP: a CONNECT request; any other method gets 405 Method Not Allowed
//	anything else the connection is closed
//
// SOCKS5 offers only "no authentication required" (method 0); a client that does not offer it gets 0xFF
// and the connection is closed. Only CONNECT is served: BIND and UDP ASSOCIATE get reply 7 (command not
// supported), an unknown address type reply 8. Destinations may be IPv4, IPv6 or domain names; a domain
// name is handed to the dial function as it is, so the far end resolves it (curl --socks5-hostname,
// ssh's ProxyCommand with nc -X 5).
//
// # Failures
//
// The dial function's error chooses the reply, by [Classify]:
//
//	kind             matched by                                         SOCKS5  HTTP
//	Forbidden        ErrForbidden                                          2     403
//	NetUnreachable   syscall.ENETUNREACH                                   3     502
//	HostUnreachable  ErrUnreachable, EHOSTUNREACH, *net.DNSError           4     502
//	Refused          ErrRefused, ECONNREFUSED                              5     502
//	Timeout          the dial ran past Config.DialTimeout, or any timeout  4     504
//	General          anything else                                         1     502
//
// A dial never hangs the client: it runs under Config.DialTimeout. A client that does not complete its
// request within Config.HandshakeTimeout is dropped.
//
// # After the reply
//
// Bytes are copied both ways until either side ends; then both connections are closed (a destination
// connection with CloseWrite gets a half-close when the client stops sending, others are closed).
// Config.OnEvent reports every connection: opened (with its destination), failed (with the reply sent and
// the reason) and closed (with the bytes each way).
package proxy
