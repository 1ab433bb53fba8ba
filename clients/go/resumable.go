package dropboxconnector

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// ResumableOptions tunes UploadResumable. The zero value is usable.
type ResumableOptions struct {
	Overwrite  *pb.OverwritePolicy
	Autorename bool
	// How many broken streams are survived before giving up. 0 means 5.
	MaxAttempts int
	// Called once the upload exists, with its id. The id lets anyone holding it write the
	// upload: keep it as a secret. It serves QueryUpload and CancelUpload.
	OnStart func(uploadID string)
	// Called before each resumed stream with the offset the service asked to go on from.
	OnResume func(offset uint64)
}

// UploadResumable uploads localPath to dropboxPath through a resumable upload. When a stream
// breaks (the network, a restart of the service), it asks the service how much was
// persisted and goes on from there, up to MaxAttempts times. The file's size and
// content_hash are given at the start, so nothing is committed unless every byte arrived.
func (c *Client) UploadResumable(ctx context.Context, connection, localPath, dropboxPath string, opts ResumableOptions) (*pb.FileResult, error) {
	file, err := os.Open(localPath)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	hash := NewContentHash()
	if _, err := io.Copy(hash, file); err != nil {
		return nil, err
	}
	size := uint64(info.Size())
	started, err := c.Tasks.StartResumableUpload(ctx, &pb.StartResumableUploadRequest{
		Connection:   connection,
		Path:         dropboxPath,
		Overwrite:    opts.Overwrite,
		ModifiedTime: timestamppb.New(info.ModTime()),
		Autorename:   opts.Autorename,
		Size:         &size,
		ContentHash:  hash.Hex(),
	})
	if err != nil {
		return nil, fromStatus(err)
	}
	if skipped := started.GetSkipped(); skipped != nil {
		return &pb.FileResult{RelativePath: dropboxPath, Outcome: &pb.FileResult_Skipped{Skipped: skipped}}, nil
	}
	if opts.OnStart != nil {
		opts.OnStart(started.GetUploadId())
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	upload := resumableUpload{tasks: c.Tasks, id: started.GetUploadId(), file: file, size: size}
	var offset uint64
	for attempt := 1; ; attempt++ {
		result, err := upload.writeFrom(ctx, offset)
		if err == nil {
			return finished(result)
		}
		if attempt >= attempts || !worthResuming(ctx, err) {
			return nil, fromStatus(err)
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
		// The channel may still be reconnecting after the break: wait for it rather than fail.
		query, err := c.Tasks.QueryUpload(ctx, &pb.QueryUploadRequest{UploadId: upload.id}, grpc.WaitForReady(true))
		if err != nil {
			if !worthResuming(ctx, err) {
				return nil, fromStatus(err)
			}
			// The next stream starts where this one did; the service skips what it has.
			continue
		}
		if query.GetResult() != nil {
			return finished(query.GetResult())
		}
		offset = query.GetPersistedSize()
		if opts.OnResume != nil {
			opts.OnResume(offset)
		}
	}
}

func finished(result *pb.FileResult) (*pb.FileResult, error) {
	if item := result.GetError(); item != nil {
		return result, fromItemError(item)
	}
	return result, nil
}

type resumableUpload struct {
	tasks pb.CloudTaskServiceClient
	id    string
	file  io.ReaderAt
	size  uint64
}

// writeFrom sends the file from offset to its end in one WriteResumableUpload stream.
func (u resumableUpload) writeFrom(ctx context.Context, offset uint64) (*pb.FileResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := u.tasks.WriteResumableUpload(ctx)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, ChunkSize)
	for {
		want := u.size - offset
		if want > ChunkSize {
			want = ChunkSize
		}
		n, err := u.file.ReadAt(buf[:want], int64(offset))
		if err != nil && !(errors.Is(err, io.EOF) && uint64(n) == want) {
			return nil, err
		}
		last := offset+uint64(n) == u.size
		req := &pb.WriteResumableUploadRequest{UploadId: u.id, WriteOffset: offset, Data: buf[:n], FinishWrite: last}
		if err := stream.Send(req); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = stream.CloseAndRecv()
			}
			return nil, err
		}
		offset += uint64(n)
		if last {
			break
		}
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	if res.GetResult() == nil {
		return nil, errors.New("dropbox-connector: the upload was not finished after its last byte")
	}
	return res.GetResult(), nil
}

// worthResuming tells a broken stream (worth asking QueryUpload and going on) from a refusal.
func worthResuming(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	failure, ok := fromStatus(err).(*Error)
	if !ok {
		return false
	}
	switch failure.Code {
	case codes.Unavailable, codes.Aborted:
		return true
	case codes.Internal, codes.Unknown, codes.Canceled:
		// Without a reason these come from the transport (a reset stream), not the service.
		return failure.Reason == ""
	}
	return false
}

// pause waits a little longer after each broken stream.
func pause(ctx context.Context, attempt int) error {
	timer := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
