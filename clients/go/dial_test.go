package dropboxconnector_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	dropboxconnector "github.com/dropbox-connector/dropbox-connector/clients/go"
	"github.com/dropbox-connector/dropbox-connector/clients/go/dbxctest"
	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

func TestAnUnknownTokenIsRefusedAsATypedError(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client, err := dropboxconnector.Dial(ctx, server.Address, dropboxconnector.Options{CAFile: server.CAFile, Token: "not-a-caller"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.List(ctx, server.Connection, &pb.RemoteFileFilter{})
	failure, ok := dropboxconnector.AsError(err)
	if !ok || failure.Code != codes.Unauthenticated {
		t.Fatalf("want UNAUTHENTICATED, got %v", err)
	}
}

func TestMutualTLSSendsTheClientCertificate(t *testing.T) {
	t.Parallel()
	mutual := dbxctest.Start(t, dbxctest.WithMutualTLS())
	ctx := testContext(t)

	withCert, err := mutual.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer withCert.Close()
	if _, err := withCert.List(ctx, mutual.Connection, &pb.RemoteFileFilter{}); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}

	withoutCert, err := dropboxconnector.Dial(ctx, mutual.Address, dropboxconnector.Options{CAFile: mutual.CAFile, Token: mutual.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer withoutCert.Close()
	_, err = withoutCert.List(ctx, mutual.Connection, &pb.RemoteFileFilter{})
	if failure, ok := dropboxconnector.AsError(err); !ok || failure.Code != codes.Unavailable {
		t.Fatalf("without a client certificate the handshake must fail, got %v", err)
	}
}
