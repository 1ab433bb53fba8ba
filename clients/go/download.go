package dropboxconnector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// DownloadFile downloads the Dropbox file at dropboxPath to localPath. The bytes go to a
// temporary file beside localPath, which is renamed into place only when its content_hash
// matches the one the service sent at the end: localPath never holds a partial or corrupt
// file. Returns the file's metadata as Dropbox reported it.
func (c *Client) DownloadFile(ctx context.Context, connection, dropboxPath, localPath string) (*pb.ItemMetadata, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Tasks.DownloadFiles(ctx, &pb.DownloadFilesRequest{
		Connection: connection,
		Selection:  &pb.DownloadFilesRequest_Items{Items: &pb.ItemRefs{Items: []*pb.ItemRef{{Path: dropboxPath}}}},
	})
	if err != nil {
		return nil, fromStatus(err)
	}
	temp, err := os.CreateTemp(filepath.Dir(localPath), "."+filepath.Base(localPath)+".part-*")
	if err != nil {
		return nil, err
	}
	renamed := false
	defer func() {
		if !renamed {
			temp.Close()
			os.Remove(temp.Name())
		}
	}()
	metadata, err := receiveFile(stream, temp)
	if err != nil {
		return nil, err
	}
	if err := temp.Sync(); err != nil {
		return nil, err
	}
	if err := temp.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(temp.Name(), localPath); err != nil {
		return nil, err
	}
	renamed = true
	return metadata, nil
}

// receiveFile writes one file of a DownloadFiles stream to out and checks its length and
// content_hash against the DownloadEnd.
func receiveFile(stream pb.CloudTaskService_DownloadFilesClient, out io.Writer) (*pb.ItemMetadata, error) {
	var metadata *pb.ItemMetadata
	hash := NewContentHash()
	var received uint64
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("dropbox-connector: the download ended before the file did")
		}
		if err != nil {
			return nil, fromStatus(err)
		}
		switch m := res.GetMessage().(type) {
		case *pb.DownloadFilesResponse_Header:
			metadata = m.Header.GetMetadata()
		case *pb.DownloadFilesResponse_Chunk:
			if m.Chunk.GetOffset() != received {
				return nil, fmt.Errorf("dropbox-connector: chunk at offset %d, expected %d", m.Chunk.GetOffset(), received)
			}
			if _, err := out.Write(m.Chunk.GetData()); err != nil {
				return nil, err
			}
			hash.Write(m.Chunk.GetData())
			received += uint64(len(m.Chunk.GetData()))
		case *pb.DownloadFilesResponse_End:
			if m.End.GetBytesSent() != received {
				return nil, fmt.Errorf("dropbox-connector: received %d bytes, the service sent %d", received, m.End.GetBytesSent())
			}
			if got := hash.Hex(); got != m.End.GetContentHash() {
				return nil, fmt.Errorf("dropbox-connector: content_hash %s of the received bytes differs from Dropbox's %s", got, m.End.GetContentHash())
			}
			return metadata, nil
		case *pb.DownloadFilesResponse_Error:
			failure := fromItemError(m.Error.GetError())
			if _, named := failure.Metadata["path"]; !named {
				failure.Metadata["path"] = m.Error.GetPath()
			}
			return nil, failure
		}
	}
}
