package dropboxconnector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// UploadFile uploads one local file to spec.DestinationFolder/relativePath. The file is read
// lazily in 2 MiB chunks (memory stays bounded whatever its size) and its content_hash,
// computed on the way, is sent at the end so the service commits only what was read.
// A file the service refused comes back as an *Error; one the overwrite policy kept
// comes back with result.GetSkipped() set.
func (c *Client) UploadFile(ctx context.Context, spec *pb.UploadSpec, localPath, relativePath string) (*pb.FileResult, error) {
	results, err := c.upload(ctx, spec, []localFile{{path: localPath, relativePath: relativePath}})
	if err != nil {
		return nil, err
	}
	if len(results) != 1 {
		return nil, fmt.Errorf("dropbox-connector: %d results for one uploaded file", len(results))
	}
	if item := results[0].GetError(); item != nil {
		return results[0], fromItemError(item)
	}
	return results[0], nil
}

// UploadFolder uploads every file under localDir, in one call, to spec.DestinationFolder,
// keeping the sub folders. One call takes at most 10,000 files (fewer with long paths). It returns a result per file; when some
// files failed, the others are still uploaded and the first failure is returned as an
// *Error (its Metadata["relative_path"] names the file).
func (c *Client) UploadFolder(ctx context.Context, spec *pb.UploadSpec, localDir string) ([]*pb.FileResult, error) {
	var files []localFile
	err := filepath.WalkDir(localDir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || !entry.Type().IsRegular() {
			return err
		}
		relative, err := filepath.Rel(localDir, path)
		if err != nil {
			return err
		}
		files = append(files, localFile{path: path, relativePath: filepath.ToSlash(relative)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	results, err := c.upload(ctx, spec, files)
	if err != nil {
		return nil, err
	}
	for _, result := range results {
		if item := result.GetError(); item != nil {
			failure := fromItemError(item)
			failure.Metadata["relative_path"] = result.GetRelativePath()
			return results, failure
		}
	}
	return results, nil
}

type localFile struct{ path, relativePath string }

// upload sends the spec and each file in one UploadFiles stream.
func (c *Client) upload(ctx context.Context, spec *pb.UploadSpec, files []localFile) ([]*pb.FileResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Tasks.UploadFiles(ctx)
	if err != nil {
		return nil, fromStatus(err)
	}
	send := func(req *pb.UploadFilesRequest) error {
		if err := stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				// The service ended the call: its status says why.
				_, err = collectUploadResults(stream)
			}
			return fromStatus(err)
		}
		return nil
	}
	if err := send(&pb.UploadFilesRequest{Message: &pb.UploadFilesRequest_Spec{Spec: spec}}); err != nil {
		return nil, err
	}
	for _, file := range files {
		if err := sendFile(send, file.path, file.relativePath); err != nil {
			return nil, err
		}
	}
	results, err := collectUploadResults(stream)
	if err != nil {
		return nil, fromStatus(err)
	}
	return results, nil
}

// sendFile sends a FileHeader, the file's chunks and a FileEnd with its content_hash.
func sendFile(send func(*pb.UploadFilesRequest) error, localPath, relativePath string) error {
	file, err := os.Open(localPath)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	size := uint64(info.Size())
	header := &pb.FileHeader{RelativePath: relativePath, Size: &size, ModifiedTime: timestamppb.New(info.ModTime())}
	if err := send(&pb.UploadFilesRequest{Message: &pb.UploadFilesRequest_FileHeader{FileHeader: header}}); err != nil {
		return err
	}
	hash := NewContentHash()
	buf := make([]byte, ChunkSize)
	var offset uint64
	for {
		n, readErr := io.ReadFull(file, buf)
		if n > 0 {
			hash.Write(buf[:n])
			chunk := &pb.DataChunk{Offset: offset, Data: buf[:n]}
			if err := send(&pb.UploadFilesRequest{Message: &pb.UploadFilesRequest_Chunk{Chunk: chunk}}); err != nil {
				return err
			}
			offset += uint64(n)
		}
		if errors.Is(readErr, io.EOF) || errors.Is(readErr, io.ErrUnexpectedEOF) {
			break
		}
		if readErr != nil {
			return readErr
		}
	}
	end := &pb.FileEnd{ContentHash: hash.Hex()}
	return send(&pb.UploadFilesRequest{Message: &pb.UploadFilesRequest_FileEnd{FileEnd: end}})
}

// collectUploadResults ends the sending side and gathers the FileResults, which the service
// sends as files finish, in one or more messages. It is the one place that knows how
// UploadFiles answers. Reading only after sending is safe: the service queues every result
// of a call.
func collectUploadResults(stream pb.CloudTaskService_UploadFilesClient) ([]*pb.FileResult, error) {
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	var results []*pb.FileResult
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return results, nil
		}
		if err != nil {
			return nil, err
		}
		results = append(results, res.GetResults()...)
	}
}
