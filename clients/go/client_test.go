package dropboxconnector_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

func TestCreateConnectionThenUseIt(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	created, err := client.CreateConnection(ctx, &pb.Connection{
		DisplayName: "go-client-created",
		Credentials: &pb.Credentials{AccessToken: server.DropboxToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.GetName(), "connections/") || created.GetDisplayName() != "go-client-created" {
		t.Fatalf("created connection %q named %q", created.GetName(), created.GetDisplayName())
	}
	if !created.GetCredentialState().GetHasAccessToken() || created.GetCredentials() != nil {
		t.Fatalf("the token must be stored and never returned: %v", created)
	}
	folder := uniqueFolder("go-connection")
	if _, err := client.CreateFolder(ctx, created.GetName(), folder, false); err != nil {
		t.Fatal(err)
	}
	items, err := client.List(ctx, created.GetName(), &pb.RemoteFileFilter{Kind: pb.ItemKind_ITEM_KIND_FOLDER})
	if err != nil {
		t.Fatal(err)
	}
	if !containsPath(items, folder) {
		t.Fatalf("the folder made through the new connection is not listed: %v", items)
	}
}

// Not parallel: the heap is measured while no other test allocates.
func TestUpload20MiBWithBoundedMemoryThenListDownloadDelete(t *testing.T) {
	const size = 20 << 20
	ctx := testContext(t)
	client := dial(t, ctx)
	dir := t.TempDir()
	local := writeRandomFile(t, dir, "big.bin", size)
	folder := uniqueFolder("go-upload")

	var result *pb.FileResult
	growth := peakHeapGrowth(func() {
		var err error
		result, err = client.UploadFile(ctx, &pb.UploadSpec{Connection: server.Connection, DestinationFolder: folder}, local, "big.bin")
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("peak heap growth while uploading 20 MiB: %.1f MiB", float64(growth)/(1<<20))
	// Held whole, the file alone would add 20 MiB. Streaming holds a few 2 MiB chunks: the
	// one read, the one marshalled and those gRPC has queued for the wire.
	if growth > 14<<20 {
		t.Fatalf("the upload grew the heap by %d bytes: the file must be streamed, not held", growth)
	}
	uploaded := result.GetUploaded()
	wantHash := contentHashOf(t, local)
	if uploaded.GetSize() != size || uploaded.GetContentHash() != wantHash || uploaded.GetPathDisplay() != folder+"/big.bin" {
		t.Fatalf("uploaded %v; want %d bytes with content_hash %s", uploaded, size, wantHash)
	}

	items, err := client.List(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].GetName() != "big.bin" || items[0].GetSize() != size || items[0].GetContentHash() != wantHash {
		t.Fatalf("listed %v", items)
	}

	downloaded := filepath.Join(dir, "downloaded.bin")
	metadata, err := client.DownloadFile(ctx, server.Connection, folder+"/big.bin", downloaded)
	if err != nil {
		t.Fatal(err)
	}
	if metadata.GetContentHash() != wantHash {
		t.Fatalf("download metadata %v", metadata)
	}
	assertSameBytes(t, local, downloaded)

	deleted, err := client.Delete(ctx, server.Connection, folder)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0].GetPathDisplay() != folder {
		t.Fatalf("deleted %v", deleted)
	}
	_, err = client.DownloadFile(ctx, server.Connection, folder+"/big.bin", filepath.Join(dir, "gone.bin"))
	assertReason(t, err, codes.NotFound, pb.ErrorReason_ERROR_REASON_PATH_NOT_FOUND)
}

func TestPathNotFoundIsATypedErrorAndLeavesNoFile(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	dir := t.TempDir()
	missing := uniqueFolder("go-missing") + "/report.csv"
	_, err := client.DownloadFile(ctx, server.Connection, missing, filepath.Join(dir, "report.csv"))
	failure := assertReason(t, err, codes.NotFound, pb.ErrorReason_ERROR_REASON_PATH_NOT_FOUND)
	if !strings.EqualFold(failure.Metadata["path"], missing) {
		t.Fatalf("metadata %v does not name %s", failure.Metadata, missing)
	}
	if leftovers, _ := os.ReadDir(dir); len(leftovers) != 0 {
		t.Fatalf("a failed download left %v", leftovers)
	}

	_, err = client.List(ctx, server.Connection, &pb.RemoteFileFilter{Folder: uniqueFolder("go-missing")})
	assertReason(t, err, codes.NotFound, pb.ErrorReason_ERROR_REASON_PATH_NOT_FOUND)
}

// Not parallel: the emulator's fault applies to the next list_folder of any test.
func TestRateLimitedIsATypedErrorWithItsRetryDelay(t *testing.T) {
	ctx := testContext(t)
	client := dial(t, ctx)
	// A connection of its own: Dropbox's Retry-After pauses the connection it was sent to.
	connection, err := server.NewConnection("go-rate-limited")
	if err != nil {
		t.Fatal(err)
	}
	err = server.InjectFault(ctx, map[string]any{
		"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 300, "count": 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Shorter than the delay Dropbox asks for, so the service answers instead of waiting.
	callCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = client.List(callCtx, connection, &pb.RemoteFileFilter{})
	failure := assertReason(t, err, codes.ResourceExhausted, pb.ErrorReason_ERROR_REASON_RATE_LIMITED)
	if failure.RetryDelay != 300*time.Second {
		t.Fatalf("retry delay %s, want the 300 s Dropbox asked for", failure.RetryDelay)
	}
}

func TestResumableUploadResumesByItselfAfterABrokenStream(t *testing.T) {
	t.Parallel()
	const size = 16 << 20
	ctx := testContext(t)
	dir := t.TempDir()
	local := writeRandomFile(t, dir, "resumable.bin", size)
	path := uniqueFolder("go-resumable") + "/resumable.bin"

	// The client reaches the server through a relay that holds the stream after 10 MiB
	// until the service has persisted part of the upload, then cuts every connection.
	relay := startRelay(t, server.Address, 10<<20)
	client, err := dropboxconnector.Dial(ctx, relay.address, dropboxconnector.Options{CAFile: server.CAFile, Token: server.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	direct := dial(t, ctx)

	var resumedAt []uint64
	var persistedBeforeCut uint64
	var watchers sync.WaitGroup
	result, err := client.UploadResumable(ctx, server.Connection, local, path, dropboxconnector.ResumableOptions{
		OnStart: func(uploadID string) {
			watchers.Add(1)
			go func() {
				defer watchers.Done()
				persistedBeforeCut = waitForPersistedBytes(t, ctx, direct, uploadID, relay)
				relay.cut()
			}()
		},
		OnResume: func(offset uint64) { resumedAt = append(resumedAt, offset) },
	})
	watchers.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !relay.wasCut() || len(resumedAt) == 0 {
		t.Fatalf("the stream was not broken and resumed (cut: %v, resumed at %v)", relay.wasCut(), resumedAt)
	}
	t.Logf("%d bytes persisted before the cut; resumed at %v", persistedBeforeCut, resumedAt)
	if resumedAt[0] < persistedBeforeCut || resumedAt[0] >= size {
		t.Fatalf("resumed at %d; %d bytes were persisted before the cut", resumedAt[0], persistedBeforeCut)
	}
	if uploaded := result.GetUploaded(); uploaded.GetSize() != size || uploaded.GetContentHash() != contentHashOf(t, local) {
		t.Fatalf("uploaded %v", uploaded)
	}
	downloaded := filepath.Join(dir, "downloaded.bin")
	if _, err := direct.DownloadFile(ctx, server.Connection, path, downloaded); err != nil {
		t.Fatal(err)
	}
	assertSameBytes(t, local, downloaded)
}

// waitForPersistedBytes waits until the relay holds the stream and the service reports some
// bytes of the upload persisted, and returns how many.
func waitForPersistedBytes(t *testing.T, ctx context.Context, client *dropboxconnector.Client, uploadID string, relay *relay) uint64 {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if relay.isHolding() {
			query, err := client.Tasks.QueryUpload(ctx, &pb.QueryUploadRequest{UploadId: uploadID})
			if err != nil {
				t.Error(err)
				return 0
			}
			if query.GetPersistedSize() > 0 {
				return query.GetPersistedSize()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("no bytes of the upload were persisted within 60 s")
	return 0
}

func assertReason(t *testing.T, err error, code codes.Code, reason pb.ErrorReason) *dropboxconnector.Error {
	t.Helper()
	failure, ok := dropboxconnector.AsError(err)
	if !ok {
		t.Fatalf("want a *dropboxconnector.Error with %s, got %v", dropboxconnector.ReasonName(reason), err)
	}
	if failure.Code != code || !failure.HasReason(reason) || failure.Reason != dropboxconnector.ReasonName(reason) {
		t.Fatalf("want %s %s, got %s %q: %s", code, dropboxconnector.ReasonName(reason), failure.Code, failure.Reason, failure.Message)
	}
	return failure
}

func containsPath(items []*pb.ItemMetadata, path string) bool {
	for _, item := range items {
		if strings.EqualFold(item.GetPathDisplay(), path) {
			return true
		}
	}
	return false
}

// peakHeapGrowth runs work while sampling the heap and returns the highest growth seen
// over the heap in use before it started. The collector runs often meanwhile, so that the
// samples follow the memory held rather than garbage waiting for a collection.
func peakHeapGrowth(work func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	baseline := stats.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var stats runtime.MemStats
		ticker := time.NewTicker(2 * time.Millisecond)
		defer ticker.Stop()
		for {
			runtime.ReadMemStats(&stats)
			if stats.HeapAlloc > peak.Load() {
				peak.Store(stats.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-ticker.C:
			}
		}
	}()
	work()
	close(done)
	<-sampled
	if peak.Load() < baseline {
		return 0
	}
	return peak.Load() - baseline
}

func TestUploadFolderKeepsSubFolders(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "2026", "q3"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeRandomFile(t, dir, "notes.txt", 10)
	writeRandomFile(t, filepath.Join(dir, "2026", "q3"), "sales.csv", 3<<20)
	folder := uniqueFolder("go-folder")

	results, err := client.UploadFolder(ctx, &pb.UploadSpec{Connection: server.Connection, DestinationFolder: folder}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("results %v", results)
	}
	items, err := client.List(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder, IncludeSubfolders: true})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]uint64{}
	for _, item := range items {
		listed[item.GetRelativePath()] = item.GetSize()
	}
	if len(listed) != 2 || listed["notes.txt"] != 10 || listed["2026/q3/sales.csv"] != 3<<20 {
		t.Fatalf("listed %v", listed)
	}
}
