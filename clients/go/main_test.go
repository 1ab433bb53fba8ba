package dropboxconnector_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	"github.com/dropbox-connector/dropbox-connector/clients/go/dbxctest"
)

// One server and emulator for the whole suite; each test works in its own Dropbox folder.
var server *dbxctest.Server

func TestMain(m *testing.M) {
	started, err := dbxctest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server = started
	code := m.Run()
	if code != 0 {
		fmt.Fprint(os.Stderr, server.Log())
	}
	server.Close()
	os.Exit(code)
}

// testContext bounds a test's calls, so that a hang fails the test instead of the suite.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, ctx context.Context) *dropboxconnector.Client {
	client, err := server.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// uniqueFolder is a Dropbox folder no other test uses.
func uniqueFolder(prefix string) string {
	raw := make([]byte, 6)
	rand.Read(raw)
	return "/" + prefix + "-" + hex.EncodeToString(raw)
}

// writeRandomFile writes size random bytes a megabyte at a time and returns the path.
func writeRandomFile(t *testing.T, dir, name string, size int) string {
	path := filepath.Join(dir, name)
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := io.CopyN(file, rand.Reader, int64(size)); err != nil {
		t.Fatal(err)
	}
	return path
}

func contentHashOf(t *testing.T, path string) string {
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	hash := dropboxconnector.NewContentHash()
	if _, err := io.Copy(hash, file); err != nil {
		t.Fatal(err)
	}
	return hash.Hex()
}

func assertSameBytes(t *testing.T, want, got string) {
	t.Helper()
	wantBytes, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	gotBytes, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wantBytes, gotBytes) {
		t.Fatalf("%s (%d bytes) differs from %s (%d bytes)", got, len(gotBytes), want, len(wantBytes))
	}
}
