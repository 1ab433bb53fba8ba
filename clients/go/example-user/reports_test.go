package reports

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	"github.com/dropbox-connector/dropbox-connector/clients/go/dbxctest"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

func TestListsAFolder(t *testing.T) {
	server := dbxctest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	content := []byte("region,total\nnorth,12\n")
	local := filepath.Join(t.TempDir(), "q3.csv")
	if err := os.WriteFile(local, content, 0o600); err != nil {
		t.Fatal(err)
	}

	client, err := dropboxconnector.Dial(ctx, server.Address, dropboxconnector.Options{CAFile: server.CAFile, Token: server.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	spec := &pb.UploadSpec{Connection: server.Connection, DestinationFolder: "/reports"}
	if _, err := client.UploadFile(ctx, spec, local, "q3.csv"); err != nil {
		t.Fatal(err)
	}
	items, err := client.List(ctx, server.Connection, &pb.RemoteFileFilter{Folder: "/reports"})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].GetPathDisplay() != "/reports/q3.csv" || items[0].GetSize() != uint64(len(content)) {
		t.Fatalf("listed %v", items)
	}
}
