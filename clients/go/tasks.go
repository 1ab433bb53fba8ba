package dropboxconnector

import (
	"context"
	"errors"
	"io"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// CreateConnection creates a connection; its Name ("connections/{id}") or DisplayName
// names it in every other call.
func (c *Client) CreateConnection(ctx context.Context, connection *pb.Connection) (*pb.Connection, error) {
	res, err := c.Connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: connection})
	if err != nil {
		return nil, fromStatus(err)
	}
	return res.GetConnection(), nil
}

// ListEach calls fn for every item the filter matches, as the pages arrive; an error from
// fn stops the listing and is returned.
func (c *Client) ListEach(ctx context.Context, connection string, filter *pb.RemoteFileFilter, fn func(*pb.ItemMetadata) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Tasks.ListItems(ctx, &pb.ListItemsRequest{Connection: connection, Filter: filter})
	if err != nil {
		return fromStatus(err)
	}
	for {
		page, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus(err)
		}
		for _, item := range page.GetItems() {
			if err := fn(item); err != nil {
				return err
			}
		}
	}
}

// List returns every item the filter matches.
func (c *Client) List(ctx context.Context, connection string, filter *pb.RemoteFileFilter) ([]*pb.ItemMetadata, error) {
	var items []*pb.ItemMetadata
	err := c.ListEach(ctx, connection, filter, func(item *pb.ItemMetadata) error {
		items = append(items, item)
		return nil
	})
	return items, err
}

// CreateFolder creates a folder; with existOK an existing folder is fine.
func (c *Client) CreateFolder(ctx context.Context, connection, path string, existOK bool) (*pb.ItemMetadata, error) {
	res, err := c.Tasks.CreateFolder(ctx, &pb.CreateFolderRequest{Connection: connection, Path: path, ExistOk: existOK})
	if err != nil {
		return nil, fromStatus(err)
	}
	return res.GetFolder(), nil
}

// Delete deletes the items at paths and returns what was deleted. When some items could not
// be deleted, the others are still deleted and the first failure is returned as an *Error
// (its Metadata["path"] names the item).
func (c *Client) Delete(ctx context.Context, connection string, paths ...string) ([]*pb.ItemMetadata, error) {
	refs := make([]*pb.ItemRef, 0, len(paths))
	for _, path := range paths {
		refs = append(refs, &pb.ItemRef{Path: path})
	}
	stream, err := c.Tasks.DeleteItems(ctx, &pb.DeleteItemsRequest{
		Connection: connection,
		Selection:  &pb.DeleteItemsRequest_Items{Items: &pb.ItemRefs{Items: refs}},
	})
	if err != nil {
		return nil, fromStatus(err)
	}
	var deleted []*pb.ItemMetadata
	var firstFailure *Error
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return deleted, fromStatus(err)
		}
		if item := res.GetError(); item != nil {
			if firstFailure == nil {
				firstFailure = fromItemError(item)
				if _, named := firstFailure.Metadata["path"]; !named {
					firstFailure.Metadata["path"] = res.GetPath()
				}
			}
			continue
		}
		deleted = append(deleted, res.GetDeleted())
	}
	if firstFailure != nil {
		return deleted, firstFailure
	}
	return deleted, nil
}
