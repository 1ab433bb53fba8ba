package dropboxconnector_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// A download whose bytes do not match DownloadEnd.content_hash must not reach the target.
// The real service checks what Dropbox sends, so bytes damaged between it and the client
// are played by a stand-in stream.
func TestADownloadThatFailsVerificationLeavesTheTargetUntouched(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(target, []byte("the old report"), 0o600); err != nil {
		t.Fatal(err)
	}
	honest := dropboxconnector.NewContentHash()
	honest.Write([]byte("the new report"))
	client := &dropboxconnector.Client{Tasks: downloadOf([]*pb.DownloadFilesResponse{
		{Message: &pb.DownloadFilesResponse_Header{Header: &pb.DownloadHeader{Length: 14}}},
		{Message: &pb.DownloadFilesResponse_Chunk{Chunk: &pb.DataChunk{Data: []byte("the bad report")}}},
		{Message: &pb.DownloadFilesResponse_End{End: &pb.DownloadEnd{ContentHash: honest.Hex(), BytesSent: 14}}},
	})}

	_, err := client.DownloadFile(context.Background(), "c", "/report.csv", target)
	if err == nil || !strings.Contains(err.Error(), "content_hash") {
		t.Fatalf("want a content_hash mismatch, got %v", err)
	}
	if kept, _ := os.ReadFile(target); string(kept) != "the old report" {
		t.Fatalf("the target was changed to %q", kept)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("a temporary file was left: %v", entries)
	}
}

// downloadOf is a CloudTaskServiceClient whose DownloadFiles answers with responses.
func downloadOf(responses []*pb.DownloadFilesResponse) pb.CloudTaskServiceClient {
	return fakeTasks{responses: responses}
}

type fakeTasks struct {
	pb.CloudTaskServiceClient
	responses []*pb.DownloadFilesResponse
}

func (f fakeTasks) DownloadFiles(context.Context, *pb.DownloadFilesRequest, ...grpc.CallOption) (pb.CloudTaskService_DownloadFilesClient, error) {
	return &fakeDownload{responses: f.responses}, nil
}

type fakeDownload struct {
	grpc.ClientStream
	responses []*pb.DownloadFilesResponse
}

func (f *fakeDownload) Recv() (*pb.DownloadFilesResponse, error) {
	if len(f.responses) == 0 {
		return nil, io.EOF
	}
	next := f.responses[0]
	f.responses = f.responses[1:]
	return next, nil
}

// What the helper tells the service about a held file: nothing for ALWAYS (the service
// never looks), size and time for IF_NEWER, and no content_hash unless the policy uses it.
func TestDownloadSendsLocalFilesOnlyAsThePolicyNeeds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "held.txt"), []byte("held"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[pb.OverwriteMode]func(*pb.LocalFile) bool{
		pb.OverwriteMode_OVERWRITE_MODE_ALWAYS: func(f *pb.LocalFile) bool { return f == nil },
		pb.OverwriteMode_OVERWRITE_MODE_IF_NEWER: func(f *pb.LocalFile) bool {
			return f != nil && f.GetRelativePath() == "held.txt" && f.GetSize() == 4 && f.GetModifiedTime() != nil && f.GetContentHash() == ""
		},
		pb.OverwriteMode_OVERWRITE_MODE_NEVER: func(f *pb.LocalFile) bool { return f != nil && f.GetContentHash() == "" },
	}
	for mode, ok := range cases {
		tasks := &recordingTasks{}
		client := &dropboxconnector.Client{Tasks: tasks}
		if _, err := client.DownloadFileTo(context.Background(), "c", "/in/held.txt", dir,
			dropboxconnector.DownloadOptions{Overwrite: &pb.OverwritePolicy{Mode: mode}}); err != nil {
			t.Fatal(err)
		}
		var held *pb.LocalFile
		if files := tasks.request.GetLocalFiles(); len(files) == 1 {
			held = files[0]
		} else if len(files) > 1 {
			t.Fatalf("%v: %v", mode, files)
		}
		if !ok(held) {
			t.Fatalf("%v: sent %v", mode, held)
		}
	}
}

// recordingTasks keeps the DownloadFiles request and answers with an empty stream.
type recordingTasks struct {
	pb.CloudTaskServiceClient
	request *pb.DownloadFilesRequest
}

func (r *recordingTasks) DownloadFiles(_ context.Context, request *pb.DownloadFilesRequest, _ ...grpc.CallOption) (pb.CloudTaskService_DownloadFilesClient, error) {
	r.request = request
	return &fakeDownload{}, nil
}
