// Package dbxctest starts a real dropbox-connector server in front of a real
// dropbox-emulator, for tests of code that calls the service (as net/http/httptest does
// for HTTP). The server is set up as in production: TLS with a certificate from a CA made
// for the test, and a callers file that lets in one bearer token. A connection to the
// emulator's account is created and named in Server.Connection.
//
// The binaries come from DBXC_SERVER_BIN and DROPBOX_EMULATOR_BIN, or from PATH.
package dbxctest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// Server is a running server and emulator.
type Server struct {
	// Where the server listens ("127.0.0.1:port").
	Address string
	// PEM file of the CA that signed the server's certificate.
	CAFile string
	// The bearer token the callers file lets in (as an admin of every group).
	Token string
	// With WithMutualTLS: a client certificate and key the server accepts, signed by the
	// same CA; the server refuses clients without one.
	ClientCertFile, ClientKeyFile string
	// The display name of a connection to the emulator's account.
	Connection string
	// The emulator's base URL, its CA and the Dropbox access token of its account.
	EmulatorURL    string
	EmulatorCAFile string
	DropboxToken   string

	dir       string
	processes []*process
}

// startTimeout bounds how long each binary may take to print its address.
const startTimeout = 60 * time.Second

// Option changes how the server is set up.
type Option func(*settings)

type settings struct{ mutualTLS bool }

// WithMutualTLS has the server require a client certificate (Server.ClientCertFile).
func WithMutualTLS() Option { return func(s *settings) { s.mutualTLS = true } }

// Start starts a server for the test and stops it when the test ends.
func Start(tb testing.TB, options ...Option) *Server {
	tb.Helper()
	server, err := New(options...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(server.Close)
	return server
}

// New starts a server; Close stops it and removes its files.
func New(options ...Option) (server *Server, err error) {
	var chosen settings
	for _, option := range options {
		option(&chosen)
	}
	dir, err := os.MkdirTemp("", "dbxctest-")
	if err != nil {
		return nil, err
	}
	server = &Server{dir: dir, Token: randomToken(), DropboxToken: randomToken()}
	defer func() {
		if err != nil {
			server.Close()
		}
	}()
	server.EmulatorCAFile = filepath.Join(dir, "emulator-ca.pem")
	// `--token=VALUE` in one argument: a random token may begin with "-", which a separate
	// argument would turn into an unknown flag.
	emulator, err := server.start(binary("DROPBOX_EMULATOR_BIN", "dropbox-emulator"), "emulator",
		[]string{"--tls", "--ca-out", server.EmulatorCAFile, "--token=" + server.DropboxToken}, nil)
	if err != nil {
		return server, err
	}
	server.EmulatorURL = emulator.address
	if err := server.writeServerFiles(chosen.mutualTLS); err != nil {
		return server, err
	}
	env := []string{
		"DBXC_LISTEN=127.0.0.1:0",
		"DBXC_DATA_DIR=" + filepath.Join(dir, "data"),
		"DBXC_SECRETS__KEY_FILE=" + filepath.Join(dir, "secrets.key"),
		"DBXC_TLS__CERT_FILE=" + filepath.Join(dir, "server.crt"),
		"DBXC_TLS__KEY_FILE=" + filepath.Join(dir, "server.key"),
		"DBXC_AUTH__CALLERS_FILE=" + filepath.Join(dir, "callers.toml"),
		"DBXC_DROPBOX__API_URL=" + server.EmulatorURL,
		"DBXC_DROPBOX__CONTENT_URL=" + server.EmulatorURL,
		"DBXC_DROPBOX__OAUTH_URL=" + server.EmulatorURL,
		"DBXC_DROPBOX__CA_FILE=" + server.EmulatorCAFile,
	}
	if chosen.mutualTLS {
		env = append(env, "DBXC_TLS__CLIENT_CA_FILE="+server.CAFile)
	}
	listener, err := server.start(binary("DBXC_SERVER_BIN", "dropbox-connector"), "server", nil, env)
	if err != nil {
		return server, err
	}
	server.Address = listener.address
	server.Connection, err = server.NewConnection("dbxctest")
	return server, err
}

// Dial returns a client of the server, with its CA, token and (with WithMutualTLS) client
// certificate.
func (s *Server) Dial(ctx context.Context) (*dropboxconnector.Client, error) {
	return dropboxconnector.Dial(ctx, s.Address, dropboxconnector.Options{
		CAFile: s.CAFile, Token: s.Token, ClientCertFile: s.ClientCertFile, ClientKeyFile: s.ClientKeyFile,
	})
}

// NewConnection creates one more connection to the emulator's account and returns its
// display name. Each connection is throttled on its own when Dropbox rate-limits it.
func (s *Server) NewConnection(displayName string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := s.Dial(ctx)
	if err != nil {
		return "", err
	}
	defer client.Close()
	_, err = client.CreateConnection(ctx, &pb.Connection{
		DisplayName: displayName,
		Credentials: &pb.Credentials{AccessToken: s.DropboxToken},
	})
	if err != nil {
		return "", fmt.Errorf("dbxctest: create connection %q: %w", displayName, err)
	}
	return displayName, nil
}

// InjectFault adds a fault to the emulator (POST /__emulator/faults), e.g.
// {"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 300}.
func (s *Server) InjectFault(ctx context.Context, fault map[string]any) error {
	body, err := json.Marshal(fault)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(s.EmulatorCAFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer httpClient.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.EmulatorURL+"/__emulator/faults", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("dbxctest: the emulator refused the fault: %s %s", res.Status, answer)
	}
	return nil
}

// Log returns what the server and the emulator wrote to stderr so far.
func (s *Server) Log() string {
	var all strings.Builder
	for _, p := range s.processes {
		content, _ := os.ReadFile(p.logFile)
		fmt.Fprintf(&all, "--- %s\n%s", p.name, content)
	}
	return all.String()
}

// Close stops the processes and removes the files.
func (s *Server) Close() {
	for i := len(s.processes) - 1; i >= 0; i-- {
		s.processes[i].stop()
	}
	s.processes = nil
	os.RemoveAll(s.dir)
}

func (s *Server) writeServerFiles(mutualTLS bool) error {
	ca, err := newTestCA()
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.issueServer("localhost", "127.0.0.1")
	if err != nil {
		return err
	}
	if mutualTLS {
		clientCertPEM, clientKeyPEM, err := ca.issueClient("dbxctest-client")
		if err != nil {
			return err
		}
		s.ClientCertFile, s.ClientKeyFile = filepath.Join(s.dir, "client.crt"), filepath.Join(s.dir, "client.key")
		if err := os.WriteFile(s.ClientCertFile, clientCertPEM, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(s.ClientKeyFile, clientKeyPEM, 0o600); err != nil {
			return err
		}
	}
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	secretsKey := make([]byte, 32)
	if _, err := rand.Read(secretsKey); err != nil {
		return err
	}
	tokenHash := sha256.Sum256([]byte(s.Token))
	callers := fmt.Sprintf("[[caller]]\nname = \"dbxctest\"\ntoken_sha256 = \"%s\"\nrole = \"admin\"\ngroups = [\"*\"]\n",
		hex.EncodeToString(tokenHash[:]))
	files := map[string][]byte{
		"ca.pem":       ca.certPEM,
		"server.crt":   certPEM,
		"server.key":   keyPEM,
		"secrets.key":  []byte(base64.StdEncoding.EncodeToString(secretsKey)),
		"callers.toml": []byte(callers),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), content, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func binary(variable, name string) string {
	if path := os.Getenv(variable); path != "" {
		return path
	}
	return name
}

func randomToken() string {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

type process struct {
	name    string
	cmd     *exec.Cmd
	address string
	logFile string
	exited  chan struct{}
}

// start runs a binary that prints "listening on ADDRESS" on stdout when it is ready.
func (s *Server) start(path, name string, args, env []string) (*process, error) {
	logFile := filepath.Join(s.dir, name+".log")
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	cmd.Env = append(withoutServerSettings(os.Environ()), env...)
	cmd.Stderr = log
	cmd.SysProcAttr = dieWithParent()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dbxctest: start %s (set DBXC_SERVER_BIN and DROPBOX_EMULATOR_BIN): %w", path, err)
	}
	p := &process{name: name, cmd: cmd, logFile: logFile, exited: make(chan struct{})}
	s.processes = append(s.processes, p)
	addresses := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if line := lines.Text(); strings.HasPrefix(line, "listening on ") {
				addresses <- strings.TrimPrefix(line, "listening on ")
				break
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.address = <-addresses:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("dbxctest: %s exited before listening:\n%s", name, s.Log())
	case <-time.After(startTimeout):
		return nil, fmt.Errorf("dbxctest: %s printed no address within %s:\n%s", name, startTimeout, s.Log())
	}
}

func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// withoutServerSettings drops the caller's DBXC_* settings, which would change the server.
func withoutServerSettings(environ []string) []string {
	kept := environ[:0:0]
	for _, entry := range environ {
		if !strings.HasPrefix(entry, "DBXC_") {
			kept = append(kept, entry)
		}
	}
	return kept
}
