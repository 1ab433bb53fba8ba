package dropboxconnector_test

import (
	"context"
	"fmt"
	"time"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// The README's example: upload a report, tell a rate limit from other failures, list.
func Example() {
	upload := func(ctx context.Context, retryLater func(time.Duration) error) error {
		client, err := dropboxconnector.Dial(ctx, "dropbox-connector:50051", dropboxconnector.Options{
			CAFile: "/etc/dbxc/ca.pem", TokenFile: "/var/run/secrets/dbxc/token"})
		if err != nil {
			return err
		}
		defer client.Close()
		spec := &pb.UploadSpec{Connection: "reports", DestinationFolder: "/reports/2026"}
		if _, err := client.UploadFile(ctx, spec, "q3.csv", "q3.csv"); err != nil {
			if e, ok := dropboxconnector.AsError(err); ok && e.Reason == "RATE_LIMITED" {
				return retryLater(e.RetryDelay)
			}
			return err
		}
		items, err := client.List(ctx, "reports", &pb.RemoteFileFilter{Folder: "/reports/2026"})
		fmt.Println(len(items), err)
		return nil
	}
	_ = upload
}
