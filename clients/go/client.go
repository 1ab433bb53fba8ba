// Package dropboxconnector calls the dropbox-connector service: the generated stubs (package
// dropboxconnectorv1) plus a few helpers that do what every caller would otherwise write
// again: TLS and bearer-token dialing, chunked uploads with Dropbox's content_hash, verified
// downloads, resumable uploads that resume by themselves, and typed errors (*Error).
package dropboxconnector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// MaxMessageSize is the largest message the helpers send or accept. A chunk is at most
// 2 MiB, but a page of list results or an UploadFiles answer can pass gRPC-Go's 4 MiB default.
const MaxMessageSize = 8 << 20

// ChunkSize is the size of the data chunks the helpers send: the contract's maximum.
const ChunkSize = 2 << 20

// Options says how to reach the service.
type Options struct {
	// PEM file of the CA that signed the server's certificate. Empty: the system roots.
	CAFile string
	// A client certificate and its key, for servers that require mutual TLS.
	ClientCertFile, ClientKeyFile string
	// The bearer token sent on every call. TokenFile is read again on every call, so a
	// mounted token that is rotated is picked up; Token is used when TokenFile is empty.
	Token     string
	TokenFile string
	// Overrides the name the server's certificate is checked against.
	ServerName string
	// More grpc.DialOptions, e.g. grpc.WithBlock().
	DialOptions []grpc.DialOption
}

// Client holds a connection to the service. Tasks and Connections are the generated stubs
// for anything the helpers do not cover.
type Client struct {
	Conn        *grpc.ClientConn
	Tasks       pb.CloudTaskServiceClient
	Connections pb.ConnectionServiceClient
}

// Dial connects to target ("host:port") over TLS, sending the bearer token on every call.
func Dial(ctx context.Context, target string, opts Options) (*Client, error) {
	tlsConfig, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	if opts.Token == "" && opts.TokenFile == "" {
		return nil, errors.New("dropbox-connector: a Token or TokenFile is required")
	}
	dialOptions := append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
		grpc.WithPerRPCCredentials(bearerToken{token: opts.Token, file: opts.TokenFile}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	}, opts.DialOptions...)
	conn, err := grpc.DialContext(ctx, target, dialOptions...)
	if err != nil {
		return nil, fmt.Errorf("dropbox-connector: dial %s: %w", target, err)
	}
	return &Client{
		Conn:        conn,
		Tasks:       pb.NewCloudTaskServiceClient(conn),
		Connections: pb.NewConnectionServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

func tlsConfig(opts Options) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: opts.ServerName}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("dropbox-connector: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("dropbox-connector: CA file %s holds no PEM certificate", opts.CAFile)
		}
		config.RootCAs = pool
	}
	if opts.ClientCertFile != "" || opts.ClientKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.ClientCertFile, opts.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("dropbox-connector: client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return config, nil
}

// bearerToken sends "authorization: Bearer ..." on every call, only over TLS.
type bearerToken struct {
	token string
	file  string
}

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	token := b.token
	if b.file != "" {
		content, err := os.ReadFile(b.file)
		if err != nil {
			// The path is named, never the content.
			return nil, fmt.Errorf("dropbox-connector: token file: %w", err)
		}
		token = strings.TrimSpace(string(content))
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return true }
