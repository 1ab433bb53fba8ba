package dropboxconnector_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// The Dropbox modification time every remote file of these tests carries.
var remoteModified = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// putRemote uploads name with contents into folder, dated `modified` in Dropbox
// (client_modified), replacing what is there.
func putRemote(t *testing.T, ctx context.Context, client *dropboxconnector.Client, folder, name, contents string, modified time.Time) *pb.ItemMetadata {
	t.Helper()
	local := writeDated(t, t.TempDir(), name, contents, modified)
	spec := &pb.UploadSpec{Connection: server.Connection, DestinationFolder: folder, KeepModifiedDate: true,
		Overwrite: &pb.OverwritePolicy{Mode: pb.OverwriteMode_OVERWRITE_MODE_ALWAYS}}
	result, err := client.UploadFile(ctx, spec, local, name)
	if err != nil {
		t.Fatal(err)
	}
	return result.GetUploaded()
}

// writeDated writes a local file and sets its modification time.
func writeDated(t *testing.T, dir, name, contents string, modified time.Time) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, modified, modified); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertContents(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s holds %q, want %q", path, got, want)
	}
}

func byName(t *testing.T, results []*dropboxconnector.DownloadResult, want int) map[string]*dropboxconnector.DownloadResult {
	t.Helper()
	if len(results) != want {
		t.Fatalf("%d results, want %d: %+v", len(results), want, results)
	}
	out := map[string]*dropboxconnector.DownloadResult{}
	for _, r := range results {
		out[r.RelativePath] = r
	}
	return out
}

func TestDownloadIfNewerSkipsANewerLocalFileAndReplacesAnOlderOne(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	folder := uniqueFolder("go-if-newer")
	putRemote(t, ctx, client, folder, "newer-here.txt", "remote one", remoteModified)
	putRemote(t, ctx, client, folder, "older-here.txt", "remote two", remoteModified)
	dir := t.TempDir()
	newer := writeDated(t, dir, "newer-here.txt", "local, newer", remoteModified.Add(time.Hour))
	older := writeDated(t, dir, "older-here.txt", "local, older", remoteModified.Add(-time.Hour))

	results, err := client.DownloadFolder(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder}, dir,
		dropboxconnector.DownloadOptions{Overwrite: &pb.OverwritePolicy{Mode: pb.OverwriteMode_OVERWRITE_MODE_IF_NEWER}})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(t, results, 2)
	if r := got["newer-here.txt"]; r.Outcome != dropboxconnector.Skipped || r.SkipReason == "" || r.Metadata.GetName() != "newer-here.txt" {
		t.Fatalf("the local file newer than Dropbox's must be skipped with a reason: %+v", r)
	}
	assertContents(t, newer, "local, newer")
	if r := got["older-here.txt"]; r.Outcome != dropboxconnector.Downloaded || r.LocalPath != older {
		t.Fatalf("the local file older than Dropbox's must be replaced: %+v", r)
	}
	assertContents(t, older, "remote two")
}

func TestDownloadNeverLeavesAnExistingFileUntouchedAndFetchesNewOnes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	folder := uniqueFolder("go-never")
	putRemote(t, ctx, client, folder, "held.txt", "remote, should not land", remoteModified)
	putRemote(t, ctx, client, folder, "sub/new.txt", "remote, new here", remoteModified)
	dir := t.TempDir()
	// Older and smaller than the remote file: only NEVER keeps it.
	held := writeDated(t, dir, "held.txt", "mine", remoteModified.Add(-24*time.Hour))

	results, err := client.DownloadFolder(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder, IncludeSubfolders: true}, dir,
		dropboxconnector.DownloadOptions{Overwrite: &pb.OverwritePolicy{Mode: pb.OverwriteMode_OVERWRITE_MODE_NEVER}})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(t, results, 2)
	if r := got["held.txt"]; r.Outcome != dropboxconnector.Skipped {
		t.Fatalf("NEVER must keep the held file: %+v", r)
	}
	assertContents(t, held, "mine")
	if r := got["sub/new.txt"]; r.Outcome != dropboxconnector.Downloaded {
		t.Fatalf("a file not held must be downloaded: %+v (%v)", r, r.Err)
	}
	assertContents(t, filepath.Join(dir, "sub", "new.txt"), "remote, new here")
}

func TestDownloadKeepsDropboxsModifiedDate(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	folder := uniqueFolder("go-keep-dates")
	dated := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	uploaded := putRemote(t, ctx, client, folder, "dated.txt", "from 2021", dated)
	clientModified := uploaded.GetClientModified().AsTime()
	if !clientModified.Equal(dated) {
		t.Fatalf("Dropbox's client_modified is %v, want %v", clientModified, dated)
	}
	dir := t.TempDir()

	kept, err := client.DownloadFileTo(ctx, server.Connection, folder+"/dated.txt", dir,
		dropboxconnector.DownloadOptions{KeepModifiedDate: true})
	if err != nil || kept.Outcome != dropboxconnector.Downloaded {
		t.Fatalf("%+v %v", kept, err)
	}
	assertContents(t, kept.LocalPath, "from 2021")
	info, err := os.Stat(kept.LocalPath)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime().Equal(clientModified) {
		t.Fatalf("the file's mtime is %v, want Dropbox's client_modified %v", info.ModTime(), clientModified)
	}

	// Without the option the file is dated when it was written.
	plain, err := client.DownloadFileTo(ctx, server.Connection, folder+"/dated.txt", t.TempDir(), dropboxconnector.DownloadOptions{})
	if err != nil || plain.Outcome != dropboxconnector.Downloaded {
		t.Fatalf("%+v %v", plain, err)
	}
	if info, _ := os.Stat(plain.LocalPath); info.ModTime().Equal(clientModified) {
		t.Fatal("without KeepModifiedDate the file must not carry Dropbox's date")
	}
}

// The source of a verified file is deleted; one changed in Dropbox after it was downloaded
// (by a second upload made from OnStored, i.e. after verification and before deletion) is
// kept and reported REVISION_CHANGED.
func TestDownloadDeleteSourceDeletesOnlyTheRevisionDownloaded(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	folder := uniqueFolder("go-delete-source")
	putRemote(t, ctx, client, folder, "stable.txt", "stays as downloaded", remoteModified)
	putRemote(t, ctx, client, folder, "changing.txt", "as downloaded", remoteModified)
	dir := t.TempDir()

	var storedBeforeDeletion []string
	opts := dropboxconnector.DownloadOptions{
		DeleteSource: true,
		OnStored: func(r *dropboxconnector.DownloadResult) {
			// The file is in place and verified; its source is still there.
			assertContents(t, r.LocalPath, map[string]string{"stable.txt": "stays as downloaded", "changing.txt": "as downloaded"}[r.RelativePath])
			storedBeforeDeletion = append(storedBeforeDeletion, r.RelativePath)
			if r.RelativePath == "changing.txt" {
				putRemote(t, ctx, client, folder, "changing.txt", "changed meanwhile", remoteModified.Add(time.Hour))
			}
		},
	}
	results, err := client.DownloadFolder(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder}, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(storedBeforeDeletion) != 2 {
		t.Fatalf("OnStored saw %v", storedBeforeDeletion)
	}
	got := byName(t, results, 2)
	if r := got["stable.txt"]; r.Outcome != dropboxconnector.Downloaded || r.Source != dropboxconnector.SourceDeleted {
		t.Fatalf("stable.txt: %v, %v (%v)", r.Outcome, r.Source, r.SourceErr)
	}
	changed := got["changing.txt"]
	if changed.Outcome != dropboxconnector.Downloaded || changed.Source != dropboxconnector.SourceKept ||
		changed.SourceErr == nil || !changed.SourceErr.HasReason(pb.ErrorReason_ERROR_REASON_REVISION_CHANGED) {
		t.Fatalf("changing.txt must be kept with REVISION_CHANGED: %v, %v (%v)", changed.Outcome, changed.Source, changed.SourceErr)
	}
	if changed.SourceErr.Metadata["expected_rev"] != changed.Metadata.GetRev() {
		t.Fatalf("the deletion must be pinned to the downloaded rev %s: %v", changed.Metadata.GetRev(), changed.SourceErr.Metadata)
	}
	assertContents(t, filepath.Join(dir, "changing.txt"), "as downloaded")
	assertContents(t, filepath.Join(dir, "stable.txt"), "stays as downloaded")

	left, err := client.List(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].GetName() != "changing.txt" {
		t.Fatalf("only the changed file may remain in Dropbox: %v", left)
	}
	again, err := client.DownloadFileTo(ctx, server.Connection, folder+"/changing.txt", t.TempDir(), dropboxconnector.DownloadOptions{})
	if err != nil || again.Outcome != dropboxconnector.Downloaded {
		t.Fatalf("%+v %v", again, err)
	}
	assertContents(t, again.LocalPath, "changed meanwhile")
}

// DeleteDownloadedSources, called later with the results of a download, deletes only what
// is still the revision downloaded.
func TestDeleteDownloadedSourcesLaterKeepsAFileChangedSince(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	folder := uniqueFolder("go-delete-later")
	putRemote(t, ctx, client, folder, "report.csv", "v1", remoteModified)

	result, err := client.DownloadFileTo(ctx, server.Connection, folder+"/report.csv", t.TempDir(), dropboxconnector.DownloadOptions{})
	if err != nil || result.Outcome != dropboxconnector.Downloaded || result.Source != dropboxconnector.SourceUntouched {
		t.Fatalf("%+v %v", result, err)
	}
	putRemote(t, ctx, client, folder, "report.csv", "v2", remoteModified.Add(time.Hour))

	results := []*dropboxconnector.DownloadResult{result}
	if err := client.DeleteDownloadedSources(ctx, server.Connection, results); err != nil {
		t.Fatal(err)
	}
	if result.Source != dropboxconnector.SourceKept || !result.SourceErr.HasReason(pb.ErrorReason_ERROR_REASON_REVISION_CHANGED) {
		t.Fatalf("%v (%v)", result.Source, result.SourceErr)
	}
	left, err := client.List(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder})
	if err != nil || len(left) != 1 || left[0].GetSize() != 2 {
		t.Fatalf("the changed file must stay: %v %v", left, err)
	}
}

func TestDownloadFileToReportsAMissingFileAsFailedWithItsReason(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	dir := t.TempDir()
	result, err := client.DownloadFileTo(ctx, server.Connection, uniqueFolder("go-absent")+"/gone.txt", dir, dropboxconnector.DownloadOptions{DeleteSource: true})
	if err != nil {
		t.Fatal(err)
	}
	failure, ok := dropboxconnector.AsError(result.Err)
	if result.Outcome != dropboxconnector.Failed || !ok || !failure.HasReason(pb.ErrorReason_ERROR_REASON_PATH_NOT_FOUND) || result.Source != dropboxconnector.SourceUntouched {
		t.Fatalf("%+v", result)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

// IF_SIZE with DIFFERENT compares content_hash when the sizes match, so the helper must
// send the local file's hash: a same-size file with other bytes is replaced, an identical
// one is skipped.
func TestDownloadIfSizeDifferentComparesTheLocalContentHash(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	folder := uniqueFolder("go-if-size")
	putRemote(t, ctx, client, folder, "same.txt", "remote bytes", remoteModified)
	putRemote(t, ctx, client, folder, "other.txt", "remote bytes", remoteModified)
	dir := t.TempDir()
	same := writeDated(t, dir, "same.txt", "remote bytes", remoteModified)
	other := writeDated(t, dir, "other.txt", "local!bytes!", remoteModified)

	results, err := client.DownloadFolder(ctx, server.Connection, &pb.RemoteFileFilter{Folder: folder}, dir,
		dropboxconnector.DownloadOptions{Overwrite: &pb.OverwritePolicy{Mode: pb.OverwriteMode_OVERWRITE_MODE_IF_SIZE,
			SizeComparison: pb.SizeComparison_SIZE_COMPARISON_DIFFERENT}})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(t, results, 2)
	if r := got["same.txt"]; r.Outcome != dropboxconnector.Skipped {
		t.Fatalf("an identical local file must be skipped: %+v", r)
	}
	if r := got["other.txt"]; r.Outcome != dropboxconnector.Downloaded {
		t.Fatalf("a same-size file with other bytes must be replaced: %+v (%v)", r, r.Err)
	}
	assertContents(t, same, "remote bytes")
	assertContents(t, other, "remote bytes")
}

// A call that fails as a whole is the returned error, and each file's result says so too.
func TestDownloadFileToWithAnUnknownConnectionFailsTheCallAndTheFile(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := dial(t, ctx)
	result, err := client.DownloadFileTo(ctx, "no-such-connection", "/a.txt", t.TempDir(), dropboxconnector.DownloadOptions{})
	failure, ok := dropboxconnector.AsError(err)
	if !ok || !failure.HasReason(pb.ErrorReason_ERROR_REASON_CONNECTION_NOT_FOUND) {
		t.Fatalf("want CONNECTION_NOT_FOUND, got %v", err)
	}
	if result == nil || result.Outcome != dropboxconnector.Failed || result.Err != err {
		t.Fatalf("%+v", result)
	}
}
