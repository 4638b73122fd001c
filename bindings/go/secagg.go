// Package secagg is the Go binding of libsecaggc, the secagg secure-aggregation client (C header secagg.h).
//
// A client loads its enrolled identity, then contributes one vector to a round of a coordinator task with
// Participate; callers that carry messages themselves use the sans-IO Client instead. Failures are *Error
// values; test them with errors.Is against the Err* codes (and context.Canceled or context.DeadlineExceeded
// when a context ended the call).
//
// Import it as
//
//	import secagg "github.com/secagg/secagg/bindings/go"
//
// Build: cgo finds secagg.h and libsecaggc through pkg-config (package "secagg"). With the client tarball of
// scripts/package-client unpacked in DIR:
//
//	export PKG_CONFIG_PATH=DIR/lib/pkgconfig
//	export LD_LIBRARY_PATH=DIR/lib   # or install DIR/lib where the dynamic loader looks, or link with -rpath
package secagg

/*
#cgo pkg-config: secagg
#include <stdlib.h>
#include "secagg.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ABIVersion is the C ABI version this binding was written for.
const ABIVersion = C.SECAGG_ABI_VERSION

// Sizes of fixed-length values.
const (
	SeedBytes      = C.SECAGG_SEED_BYTES
	PublicKeyBytes = C.SECAGG_PUBLIC_KEY_BYTES
	RoundIDBytes   = C.SECAGG_ROUND_ID_BYTES
)

// Code is a libsecaggc result code. Each non-zero code is also an error, for errors.Is.
type Code int

// The result codes of secagg.h.
const (
	ErrInvalidArgument Code = C.SECAGG_E_INVALID_ARGUMENT
	ErrBufferTooSmall  Code = C.SECAGG_E_BUFFER_TOO_SMALL
	ErrIdentity        Code = C.SECAGG_E_IDENTITY
	ErrIO              Code = C.SECAGG_E_IO
	ErrUnreachable     Code = C.SECAGG_E_UNREACHABLE
	ErrHandshake       Code = C.SECAGG_E_HANDSHAKE
	ErrJoinRefused     Code = C.SECAGG_E_JOIN_REFUSED
	ErrProtocol        Code = C.SECAGG_E_PROTOCOL
	ErrConnectionLost  Code = C.SECAGG_E_CONNECTION_LOST
	ErrTimeout         Code = C.SECAGG_E_TIMEOUT
	ErrCancelled       Code = C.SECAGG_E_CANCELLED
	ErrState           Code = C.SECAGG_E_STATE
	ErrInternal        Code = C.SECAGG_E_INTERNAL
	// Refusals: the coordinator said why it would not take this client.
	ErrNotEnrolled   Code = C.SECAGG_E_NOT_ENROLLED   // this identity is not enrolled (or not endorsed)
	ErrRevoked       Code = C.SECAGG_E_REVOKED        // this identity's enrollment was revoked
	ErrUnknownTask   Code = C.SECAGG_E_UNKNOWN_TASK   // the coordinator has no task of that name
	ErrQueueFull     Code = C.SECAGG_E_QUEUE_FULL     // the task's queue is full (try later)
	ErrShuttingDown  Code = C.SECAGG_E_SHUTTING_DOWN  // the coordinator or task is stopping (try later)
	ErrAlreadyJoined Code = C.SECAGG_E_ALREADY_JOINED // this identity is already connected or in a round (try later)
	// Ends of a round without a receipt.
	ErrDropped        Code = C.SECAGG_E_DROPPED         // dropped by the coordinator; the input is in no sum
	ErrOutcomeUnknown Code = C.SECAGG_E_OUTCOME_UNKNOWN // the input may or may not have been counted
)

// RetryLater reports whether the code is a refusal that may succeed on a later attempt.
func (c Code) RetryLater() bool {
	return c == ErrQueueFull || c == ErrShuttingDown || c == ErrAlreadyJoined
}

// Error returns the library's message for the code.
func (c Code) Error() string { return C.GoString(C.secagg_strerror(C.int(c))) }

// Error is a failed call: its result code, a detail (from the receipt, when the library gave one), and the
// context error when a context ended the call.
type Error struct {
	Code   Code
	Detail string
	Cause  error
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "secagg: " + e.Code.Error()
	}
	return fmt.Sprintf("secagg: %s: %s", e.Code.Error(), e.Detail)
}

// Unwrap returns the result code, so errors.Is(err, secagg.ErrTimeout) works.
func (e *Error) Unwrap() error { return e.Code }

// Is also matches the context error that ended the call (context.Canceled, context.DeadlineExceeded).
func (e *Error) Is(target error) bool { return e.Cause != nil && e.Cause == target }

// check turns a result code into nil or an *Error.
func check(code C.int, detail string) error {
	if code == C.SECAGG_OK {
		return nil
	}
	return &Error{Code: Code(code), Detail: detail}
}

// Version is the library's version string.
func Version() string { return C.GoString(C.secagg_version()) }

// LibraryABIVersion is the ABI version of the loaded library; it must equal ABIVersion.
func LibraryABIVersion() int { return int(C.secagg_abi_version()) }

// bytePointer is the address of b's first byte for a C call, or nil for an empty slice.
func bytePointer(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// wordPointer is the address of v's first element for a C call, or nil for an empty slice.
func wordPointer(v []uint64) *C.uint64_t {
	if len(v) == 0 {
		return nil
	}
	return (*C.uint64_t)(unsafe.Pointer(&v[0]))
}
