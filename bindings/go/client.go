package secagg

/*
#include <stdlib.h>
#include "secagg.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Phase is a round phase, or PhaseNone before the first request and after the end.
type Phase int

// The round phases of secagg.h.
const (
	PhaseNone        Phase = C.SECAGG_PHASE_NONE
	PhaseAdvertise   Phase = C.SECAGG_PHASE_ADVERTISE
	PhaseShare       Phase = C.SECAGG_PHASE_SHARE
	PhaseMaskedInput Phase = C.SECAGG_PHASE_MASKED_INPUT
	PhaseConsistency Phase = C.SECAGG_PHASE_CONSISTENCY
	PhaseUnmask      Phase = C.SECAGG_PHASE_UNMASK
)

// Client is the sans-IO client state machine: the caller moves whole decrypted application messages between
// it and the coordinator over its own secure channel. Not safe for concurrent use. Close it when done.
type Client struct {
	handle *C.secagg_client
}

// NewClient creates a client contributing input under policy (nil: the default). If task is not empty, the
// first outgoing message is the join request for it and the first message handled must be the join answer.
func NewClient(identity *Identity, input []uint64, policy *Policy, task string) (*Client, error) {
	cPolicy, err := policy.c()
	if err != nil {
		return nil, err
	}
	var cTask *C.char
	if task != "" {
		cTask = C.CString(task)
		defer C.free(unsafe.Pointer(cTask))
	}
	var handle *C.secagg_client
	code := C.secagg_client_create(&handle, identity.raw(), wordPointer(input), C.size_t(len(input)), cPolicy, cTask)
	runtime.KeepAlive(identity)
	if err := check(code, ""); err != nil {
		return nil, err
	}
	client := &Client{handle: handle}
	runtime.SetFinalizer(client, (*Client).Close)
	return client, nil
}

// Handle feeds one message from the coordinator. On an error the client has left the round: for ErrProtocol and
// a refusal (ErrNotEnrolled … ErrAlreadyJoined) its Receipt says why and an abort message may be queued for the
// coordinator; for ErrDropped (the coordinator's drop notice) there is no receipt and the error's Detail holds
// the notice.
func (c *Client) Handle(message []byte) error {
	code := C.secagg_client_handle(c.handle, bytePointer(message), C.size_t(len(message)))
	runtime.KeepAlive(c)
	if code == C.SECAGG_OK {
		return nil
	}
	// The receipt's message says why, also when there is no receipt (a drop notice).
	var receipt C.secagg_receipt
	C.secagg_client_receipt(&receipt, c.handle)
	runtime.KeepAlive(c)
	return &Error{Code: Code(code), Detail: C.GoString(&receipt.message[0])}
}

// NextMessage removes and returns the next queued outgoing message, or nil if none is queued.
func (c *Client) NextMessage() ([]byte, error) {
	var size C.size_t
	if err := check(C.secagg_client_next_message_size(&size, c.handle), ""); err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	buffer := make([]byte, int(size))
	var length C.size_t
	err := check(C.secagg_client_next_message(bytePointer(buffer), size, &length, c.handle), "")
	runtime.KeepAlive(c)
	if err != nil {
		return nil, err
	}
	return buffer[:int(length)], nil
}

// Phase is the current round phase.
func (c *Client) Phase() (Phase, error) {
	var phase C.int
	err := check(C.secagg_client_phase(&phase, c.handle), "")
	runtime.KeepAlive(c)
	return Phase(phase), err
}

// Abort leaves the round with a spec'd abort code (e.g. 0x0206, cancelled) and a reason.
func (c *Client) Abort(code uint16, reason string) error {
	cReason := C.CString(reason)
	defer C.free(unsafe.Pointer(cReason))
	err := check(C.secagg_client_abort(c.handle, C.uint16_t(code), cReason), "")
	runtime.KeepAlive(c)
	return err
}

// Receipt returns the receipt and true once the client has finished.
func (c *Client) Receipt() (Receipt, bool) {
	var receipt C.secagg_receipt
	code := C.secagg_client_receipt(&receipt, c.handle)
	runtime.KeepAlive(c)
	if code != C.SECAGG_OK {
		return Receipt{}, false
	}
	return receiptFrom(&receipt), true
}

// Close releases the client and wipes its secrets. Calling it again does nothing.
func (c *Client) Close() error {
	if c.handle != nil {
		C.secagg_client_free(c.handle)
		c.handle = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}
