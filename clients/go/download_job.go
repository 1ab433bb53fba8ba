package dropboxconnector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// downloadBatch files go in one DownloadFiles call, keeping the request (with its
// local_files) far below the service's 8 MiB message limit.
const downloadBatch = 1000

// downloadJob downloads named files into a local folder with the options.
type downloadJob struct {
	c          *Client
	connection string
	folder     string
	opts       DownloadOptions
}

// run downloads refs (each with its RelativePath set) batch by batch. sizes holds the
// listed size of each relative path, when known, so a content_hash is read only when
// the service could use it.
func (j *downloadJob) run(ctx context.Context, refs []*pb.ItemRef, sizes map[string]uint64) ([]*DownloadResult, error) {
	results := make([]*DownloadResult, 0, len(refs))
	for start := 0; start < len(refs); start += downloadBatch {
		end := start + downloadBatch
		if end > len(refs) {
			end = len(refs)
		}
		got, err := j.batch(ctx, refs[start:end], sizes)
		results = append(results, got...)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func (j *downloadJob) batch(ctx context.Context, refs []*pb.ItemRef, sizes map[string]uint64) ([]*DownloadResult, error) {
	results := make([]*DownloadResult, 0, len(refs))
	rx := &receiving{job: j, byRelative: map[string]*DownloadResult{}, bySelected: map[string]*DownloadResult{}}
	request := &pb.DownloadFilesRequest{
		Connection:       j.connection,
		Overwrite:        j.opts.Overwrite,
		KeepModifiedDate: j.opts.KeepModifiedDate,
	}
	var sent []*pb.ItemRef
	for _, ref := range refs {
		r := &DownloadResult{RelativePath: ref.GetRelativePath()}
		results = append(results, r)
		local, err := localPathOf(j.folder, ref.GetRelativePath())
		if err != nil {
			r.Outcome, r.Err = Failed, err
			continue
		}
		r.LocalPath = local
		size, sizeKnown := sizes[ref.GetRelativePath()]
		held, err := heldLocally(local, j.opts.Overwrite, size, sizeKnown)
		if err != nil {
			r.Outcome, r.Err = Failed, err
			continue
		}
		if held != nil {
			held.RelativePath = ref.GetRelativePath()
			request.LocalFiles = append(request.LocalFiles, held)
		}
		sent = append(sent, ref)
		rx.byRelative[ref.GetRelativePath()] = r
		rx.bySelected[strings.ToLower(ref.GetPath())] = r
	}
	if len(sent) == 0 {
		return results, nil
	}
	request.Selection = &pb.DownloadFilesRequest_Items{Items: &pb.ItemRefs{Items: sent}}

	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var callErr error
	stream, err := j.c.Tasks.DownloadFiles(callCtx, request)
	if err != nil {
		callErr = fromStatus(err)
	} else {
		callErr = rx.consume(stream)
	}
	rx.abandon()
	for _, r := range results {
		if r.Outcome == 0 {
			r.Outcome, r.Err = Failed, callErr
			if r.Err == nil {
				r.Err = errors.New("dropbox-connector: the service sent no outcome for this file")
			}
		}
	}
	if j.opts.DeleteSource {
		if err := j.c.DeleteDownloadedSources(ctx, j.connection, results); err != nil && callErr == nil {
			callErr = err
		}
	}
	return results, callErr
}

// heldLocally describes the file at local for the service's overwrite decision: nil when
// nothing is there or the policy never looks at it (ALWAYS). A directory in the way is an
// error. The content_hash is read only for IF_SIZE with DIFFERENT when the sizes match (or
// the remote size is unknown), the one case the service compares it.
func heldLocally(local string, policy *pb.OverwritePolicy, remoteSize uint64, sizeKnown bool) (*pb.LocalFile, error) {
	info, err := os.Stat(local)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("dropbox-connector: %s is a directory; a file cannot replace it", local)
	}
	mode := policy.GetMode()
	if mode == pb.OverwriteMode_OVERWRITE_MODE_UNSPECIFIED || mode == pb.OverwriteMode_OVERWRITE_MODE_ALWAYS {
		return nil, nil
	}
	held := &pb.LocalFile{Size: uint64(info.Size()), ModifiedTime: timestamppb.New(info.ModTime())}
	if mode == pb.OverwriteMode_OVERWRITE_MODE_IF_SIZE &&
		policy.GetSizeComparison() == pb.SizeComparison_SIZE_COMPARISON_DIFFERENT &&
		(!sizeKnown || remoteSize == held.Size) {
		if held.ContentHash, err = contentHashOfFile(local); err != nil {
			return nil, err
		}
	}
	return held, nil
}

func contentHashOfFile(local string) (string, error) {
	file, err := os.Open(local)
	if err != nil {
		return "", err
	}
	defer file.Close()
	hash := NewContentHash()
	if _, err := io.Copy(hash, file); err != nil {
		return "", err
	}
	return hash.Hex(), nil
}

// receiving writes the files of one DownloadFiles stream, each to a temporary file beside
// its target that is renamed into place only once verified.
type receiving struct {
	job        *downloadJob
	byRelative map[string]*DownloadResult
	bySelected map[string]*DownloadResult
	// The file whose chunks are arriving; its Outcome is Failed when its bytes are being
	// thrown away after a local failure.
	current  *DownloadResult
	temp     *os.File
	hash     *ContentHash
	received uint64
	modified *timestamppb.Timestamp
}

func (rx *receiving) consume(stream pb.CloudTaskService_DownloadFilesClient) error {
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus(err)
		}
		switch m := res.GetMessage().(type) {
		case *pb.DownloadFilesResponse_Header:
			rx.start(m.Header)
		case *pb.DownloadFilesResponse_Chunk:
			rx.write(m.Chunk)
		case *pb.DownloadFilesResponse_End:
			rx.finish(m.End)
		case *pb.DownloadFilesResponse_Error:
			rx.fail(m.Error)
		case *pb.DownloadFilesResponse_Skipped:
			rx.skip(m.Skipped)
		}
	}
}

func (rx *receiving) start(header *pb.DownloadHeader) {
	rx.abandon()
	meta := header.GetMetadata()
	r := rx.byRelative[meta.GetRelativePath()]
	if r == nil {
		// Not a file this call asked for: its bytes are read and dropped.
		r = &DownloadResult{}
	}
	rx.current, rx.hash, rx.received, rx.modified = r, NewContentHash(), 0, header.GetModifiedTime()
	r.Metadata = meta
	if r.LocalPath == "" {
		rx.localFailure(fmt.Errorf("dropbox-connector: the service sent %q, which was not asked for", meta.GetPathDisplay()))
		return
	}
	if err := os.MkdirAll(filepath.Dir(r.LocalPath), 0o755); err != nil {
		rx.localFailure(err)
		return
	}
	temp, err := os.CreateTemp(filepath.Dir(r.LocalPath), "."+filepath.Base(r.LocalPath)+".part-*")
	if err != nil {
		rx.localFailure(err)
		return
	}
	rx.temp = temp
}

func (rx *receiving) write(chunk *pb.DataChunk) {
	if rx.temp == nil {
		return
	}
	if chunk.GetOffset() != rx.received {
		rx.localFailure(fmt.Errorf("dropbox-connector: chunk at offset %d, expected %d", chunk.GetOffset(), rx.received))
		return
	}
	if _, err := rx.temp.Write(chunk.GetData()); err != nil {
		rx.localFailure(err)
		return
	}
	rx.hash.Write(chunk.GetData())
	rx.received += uint64(len(chunk.GetData()))
}

func (rx *receiving) finish(end *pb.DownloadEnd) {
	r := rx.current
	defer func() { rx.current = nil }()
	if rx.temp == nil {
		return
	}
	if err := rx.store(end); err != nil {
		rx.localFailure(err)
		return
	}
	rx.temp = nil
	r.Outcome = Downloaded
	if rx.job.opts.OnStored != nil {
		rx.job.opts.OnStored(r)
	}
}

// store verifies the temporary file against DownloadEnd, dates it when asked and renames
// it into place.
func (rx *receiving) store(end *pb.DownloadEnd) error {
	if end.GetBytesSent() != rx.received {
		return fmt.Errorf("dropbox-connector: received %d bytes, the service sent %d", rx.received, end.GetBytesSent())
	}
	if got := rx.hash.Hex(); got != end.GetContentHash() {
		return fmt.Errorf("dropbox-connector: content_hash %s of the received bytes differs from Dropbox's %s", got, end.GetContentHash())
	}
	if err := rx.temp.Sync(); err != nil {
		return err
	}
	if err := rx.temp.Close(); err != nil {
		return err
	}
	if rx.modified != nil {
		when := rx.modified.AsTime()
		if err := os.Chtimes(rx.temp.Name(), when, when); err != nil {
			return err
		}
	}
	return os.Rename(rx.temp.Name(), rx.current.LocalPath)
}

func (rx *receiving) fail(failure *pb.DownloadError) {
	r := rx.current
	if r == nil {
		r = rx.bySelected[strings.ToLower(failure.GetPath())]
	}
	rx.abandon()
	rx.current = nil
	if r == nil {
		return
	}
	typed := fromItemError(failure.GetError())
	if _, named := typed.Metadata["path"]; !named {
		typed.Metadata["path"] = failure.GetPath()
	}
	r.Outcome, r.Err = Failed, typed
}

func (rx *receiving) skip(skipped *pb.DownloadSkipped) {
	existing := skipped.GetSkipped().GetExisting()
	r := rx.byRelative[existing.GetRelativePath()]
	if r == nil {
		r = rx.bySelected[strings.ToLower(skipped.GetPath())]
	}
	if r == nil {
		return
	}
	r.Outcome, r.SkipReason, r.Metadata = Skipped, skipped.GetSkipped().GetReason(), existing
}

// localFailure fails the current file for a reason of this side; its remaining chunks
// are dropped.
func (rx *receiving) localFailure(err error) {
	rx.abandon()
	if rx.current != nil {
		rx.current.Outcome, rx.current.Err = Failed, err
	}
}

// abandon removes the temporary file of a file that will not be stored.
func (rx *receiving) abandon() {
	if rx.temp != nil {
		rx.temp.Close()
		os.Remove(rx.temp.Name())
		rx.temp = nil
	}
}
