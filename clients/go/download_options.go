package dropboxconnector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/status"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// DownloadOptions are VisualCron's download options.
type DownloadOptions struct {
	// When to replace a file already in the local folder; nil means always. The service
	// decides, from what the helper tells it about the local files.
	Overwrite *pb.OverwritePolicy
	// Set each written file's modification time to its Dropbox client_modified.
	KeepModifiedDate bool
	// Delete each downloaded file from Dropbox once it is verified and in place, pinned to
	// the revision downloaded: a file changed in Dropbox since is kept (SourceKept,
	// REVISION_CHANGED).
	DeleteSource bool
	// Called for each file once it is verified and renamed into place, before its source is
	// deleted.
	OnStored func(*DownloadResult)
}

// DownloadOutcome is what happened to one file of a download.
type DownloadOutcome int

const (
	// Downloaded: verified against Dropbox's content_hash and renamed into place.
	Downloaded DownloadOutcome = iota + 1
	// Skipped: the overwrite policy kept the local file; SkipReason says why.
	Skipped
	// Failed: Err says why; the local file is untouched.
	Failed
)

func (o DownloadOutcome) String() string {
	switch o {
	case Downloaded:
		return "downloaded"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// SourceOutcome is what happened to a downloaded file's source in Dropbox.
type SourceOutcome int

const (
	// SourceUntouched: no deletion was asked for, or the file was not downloaded.
	SourceUntouched SourceOutcome = iota
	// SourceDeleted: the revision downloaded was deleted from Dropbox.
	SourceDeleted
	// SourceKept: the deletion was refused; SourceErr says why (REVISION_CHANGED when the
	// file changed in Dropbox after it was downloaded).
	SourceKept
)

func (o SourceOutcome) String() string {
	switch o {
	case SourceDeleted:
		return "source deleted"
	case SourceKept:
		return "source kept"
	}
	return "source untouched"
}

// DownloadResult is the outcome for one file.
type DownloadResult struct {
	// The file's path below the local folder, `/`-separated.
	RelativePath string
	// Where the file is (or would have been) written.
	LocalPath string
	Outcome   DownloadOutcome
	// The Dropbox file as downloaded (or as not downloaded, when skipped). Nil when the
	// service never named it (e.g. it does not exist).
	Metadata   *pb.ItemMetadata
	SkipReason string
	// With Failed: an *Error from the service, or a local failure.
	Err       error
	Source    SourceOutcome
	SourceErr *Error
}

// DownloadFileTo downloads the Dropbox file at dropboxPath ("/a/b.txt") into localFolder,
// under its own name, with the options. The returned error is for the call as a whole;
// the file's own failure is in the result.
func (c *Client) DownloadFileTo(ctx context.Context, connection, dropboxPath, localFolder string, opts DownloadOptions) (*DownloadResult, error) {
	name := path.Base(dropboxPath)
	if name == "/" || name == "." || strings.HasPrefix(dropboxPath, "id:") || strings.HasPrefix(dropboxPath, "ns:") {
		return nil, fmt.Errorf("dropbox-connector: %q does not name a file by its path", dropboxPath)
	}
	job := &downloadJob{c: c, connection: connection, folder: localFolder, opts: opts}
	results, err := job.run(ctx, []*pb.ItemRef{{Path: dropboxPath, RelativePath: name}}, nil)
	if len(results) != 1 {
		return nil, err
	}
	return results[0], err
}

// DownloadFolder downloads every file the filter matches into localFolder, keeping the sub
// folders below filter.Folder, with the options: a result per file. The returned error is
// for the calls as a whole (the listing, a broken stream); files that failed alone are
// reported in their results only.
func (c *Client) DownloadFolder(ctx context.Context, connection string, filter *pb.RemoteFileFilter, localFolder string, opts DownloadOptions) ([]*DownloadResult, error) {
	var refs []*pb.ItemRef
	sizes := map[string]uint64{}
	err := c.ListEach(ctx, connection, filter, func(item *pb.ItemMetadata) error {
		if item.GetKind() == pb.ItemKind_ITEM_KIND_FOLDER {
			return nil
		}
		relative := item.GetRelativePath()
		if relative == "" {
			relative = item.GetName()
		}
		// Pinned to the listed revision: what is compared with the local file is what is
		// downloaded.
		refs = append(refs, &pb.ItemRef{Path: stableRef(item), Rev: item.GetRev(), RelativePath: relative})
		sizes[relative] = item.GetSize()
		return nil
	})
	if err != nil {
		return nil, err
	}
	job := &downloadJob{c: c, connection: connection, folder: localFolder, opts: opts}
	return job.run(ctx, refs, sizes)
}

// DeleteDownloadedSources deletes from Dropbox the revisions that results downloaded, as
// DownloadOptions.DeleteSource does, and records each outcome in its result: a file changed
// since is kept with SourceErr.Reason "REVISION_CHANGED". Results not Downloaded are left
// alone.
func (c *Client) DeleteDownloadedSources(ctx context.Context, connection string, results []*DownloadResult) error {
	bySelected := map[string][]*DownloadResult{}
	var refs []*pb.ItemRef
	for _, r := range results {
		if r.Outcome != Downloaded || r.Metadata == nil {
			continue
		}
		ref := stableRef(r.Metadata)
		if _, seen := bySelected[ref]; !seen {
			refs = append(refs, &pb.ItemRef{Path: ref, Rev: r.Metadata.GetRev()})
		}
		bySelected[ref] = append(bySelected[ref], r)
	}
	if len(refs) == 0 {
		return nil
	}
	stream, err := c.Tasks.DeleteItems(ctx, &pb.DeleteItemsRequest{
		Connection: connection,
		Selection:  &pb.DeleteItemsRequest_Items{Items: &pb.ItemRefs{Items: refs}},
	})
	if err == nil {
		err = receiveDeletions(stream, bySelected)
	}
	if err == nil {
		return nil
	}
	failure := fromStatus(err)
	typed, ok := AsError(failure)
	if !ok {
		typed = &Error{Code: status.Code(failure), Message: failure.Error(), Metadata: map[string]string{}}
	}
	for _, group := range bySelected {
		for _, r := range group {
			if r.Source == SourceUntouched {
				r.Source, r.SourceErr = SourceKept, typed
			}
		}
	}
	return failure
}

func receiveDeletions(stream pb.CloudTaskService_DeleteItemsClient, bySelected map[string][]*DownloadResult) error {
	for {
		res, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		for _, r := range bySelected[res.GetPath()] {
			if item := res.GetError(); item != nil {
				r.Source, r.SourceErr = SourceKept, fromItemError(item)
			} else {
				r.Source = SourceDeleted
			}
		}
	}
}

// stableRef names a Dropbox file by its id when it has one, so a rename between listing
// and downloading (or deleting) cannot make the path name another file.
func stableRef(item *pb.ItemMetadata) string {
	if item.GetId() != "" {
		return item.GetId()
	}
	return item.GetPathLower()
}

// localPathOf joins a service-given relative path below folder, refusing any that would
// leave it.
func localPathOf(folder, relative string) (string, error) {
	for _, part := range strings.Split(relative, "/") {
		if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "\\\x00") {
			return "", fmt.Errorf("dropbox-connector: refusing the unsafe relative path %q", relative)
		}
	}
	return filepath.Join(folder, filepath.FromSlash(relative)), nil
}
