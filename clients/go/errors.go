package dropboxconnector

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/dropbox-connector/dropbox-connector/clients/go/dropboxconnectorv1"
)

// Error is a failure the service reported: the gRPC code, the stable reason from
// google.rpc.ErrorInfo ("PATH_NOT_FOUND"), its metadata, and how long to wait before
// retrying when the service sent google.rpc.RetryInfo (RATE_LIMITED). Every helper of this
// package returns service failures as *Error; use errors.As to reach it.
type Error struct {
	Code     codes.Code
	Reason   string
	Message  string
	Metadata map[string]string
	// Zero when the service gave no retry delay.
	RetryDelay time.Duration
	status     *status.Status
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("dropbox-connector: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("dropbox-connector: %s (%s): %s", e.Reason, e.Code, e.Message)
}

// HasReason reports whether the error carries reason, e.g.
// err.HasReason(pb.ErrorReason_ERROR_REASON_PATH_NOT_FOUND).
func (e *Error) HasReason(reason pb.ErrorReason) bool { return e.Reason == ReasonName(reason) }

// GRPCStatus keeps status.FromError and status.Code working on an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.status != nil {
		return e.status
	}
	return status.New(e.Code, e.Message)
}

// ReasonName is the text the service puts in ErrorInfo.reason for an ErrorReason value:
// its name without the ERROR_REASON_ prefix.
func ReasonName(reason pb.ErrorReason) string {
	return strings.TrimPrefix(reason.String(), "ERROR_REASON_")
}

// AsError returns err as an *Error when it is one (or wraps one).
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// fromStatus turns a failed call's error into an *Error, decoding ErrorInfo and RetryInfo
// from the status details. Errors that are not gRPC statuses (a local file that cannot be
// read, a cancelled context noticed before any call) are returned unchanged.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, already := AsError(err); already {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: st.Code(), Message: st.Message(), Metadata: map[string]string{}, status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.Reason = d.GetReason()
			for k, v := range d.GetMetadata() {
				e.Metadata[k] = v
			}
		case *errdetails.RetryInfo:
			if delay := d.GetRetryDelay(); delay != nil {
				e.RetryDelay = time.Duration(delay.GetSeconds())*time.Second + time.Duration(delay.GetNanos())
			}
		}
	}
	return e
}

// fromItemError turns the per-item failure of a multi-item call into an *Error.
func fromItemError(item *pb.ItemError) *Error {
	metadata := map[string]string{}
	for k, v := range item.GetMetadata() {
		metadata[k] = v
	}
	return &Error{
		Code:     codes.Code(item.GetCode()),
		Reason:   item.GetReason(),
		Message:  item.GetMessage(),
		Metadata: metadata,
	}
}
