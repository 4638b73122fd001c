package secagg

/*
#include <stdlib.h>
#include "secagg.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Outcome is how a round ended for this client.
type Outcome int

const (
	// OutcomeNone: no outcome (the round is still running).
	OutcomeNone Outcome = C.SECAGG_OUTCOME_NONE
	// OutcomeCompleted: the sum was released with this client's input in it.
	OutcomeCompleted Outcome = C.SECAGG_OUTCOME_COMPLETED
	// OutcomeAborted: the round aborted; AbortCode and Message say why.
	OutcomeAborted Outcome = C.SECAGG_OUTCOME_ABORTED
)

// Receipt is what a client learns about the round it took part in.
type Receipt struct {
	Outcome Outcome
	// RoundID is the round's identifier (nil before a round started).
	RoundID []byte
	// Participant is this client's index in the round (-1 if it had none).
	Participant int64
	// Survivors is the number of inputs in the released sum (completed rounds).
	Survivors uint32
	// AbortCode is the spec's abort (or join refusal) code (aborted rounds).
	AbortCode uint16
	// Message is the abort reason.
	Message string
}

func receiptFrom(r *C.secagg_receipt) Receipt {
	receipt := Receipt{
		Outcome:     Outcome(r.outcome),
		Participant: -1,
		Survivors:   uint32(r.survivors),
		AbortCode:   uint16(r.abort_code),
		Message:     C.GoString(&r.message[0]),
	}
	if r.has_round_id == 1 {
		receipt.RoundID = C.GoBytes(unsafe.Pointer(&r.round_id[0]), RoundIDBytes)
	}
	if r.has_participant == 1 {
		receipt.Participant = int64(r.participant)
	}
	return receipt
}

// Policy is what the client requires of the coordinator's rounds; rounds breaking it are refused.
type Policy struct {
	MinThreshold      uint32 // smallest Shamir threshold accepted (default 2)
	MinSurvivors      uint32 // smallest number of survivors in any phase (default 3)
	RequireActiveMode bool   // join only rounds with the consistency check
	// EnrollmentAuthority, if set (32 bytes), must have endorsed every neighbour.
	EnrollmentAuthority []byte
	// MinLocalNoiseVariance > 0: join only distributed-noise rounds in which this client adds at least this
	// discrete Gaussian variance itself (SPEC 5.10); 0: no floor.
	MinLocalNoiseVariance float64
}

// DefaultPolicy returns the library's default policy.
func DefaultPolicy() Policy {
	var policy C.secagg_client_policy
	C.secagg_client_policy_default(&policy)
	return Policy{
		MinThreshold:          uint32(policy.min_threshold),
		MinSurvivors:          uint32(policy.min_survivors),
		RequireActiveMode:     policy.require_active_mode == 1,
		MinLocalNoiseVariance: float64(policy.min_local_noise_variance),
	}
}

func (p *Policy) c() (*C.secagg_client_policy, error) {
	if p == nil {
		return nil, nil
	}
	policy := &C.secagg_client_policy{
		min_threshold:            C.uint32_t(p.MinThreshold),
		min_survivors:            C.uint32_t(p.MinSurvivors),
		min_local_noise_variance: C.double(p.MinLocalNoiseVariance),
	}
	if p.RequireActiveMode {
		policy.require_active_mode = 1
	}
	if p.EnrollmentAuthority != nil {
		if len(p.EnrollmentAuthority) != PublicKeyBytes {
			return nil, &Error{Code: ErrInvalidArgument, Detail: "EnrollmentAuthority must be 32 bytes"}
		}
		policy.has_enrollment_authority = 1
		for index, b := range p.EnrollmentAuthority {
			policy.enrollment_authority[index] = C.uint8_t(b)
		}
	}
	return policy, nil
}

// Coordinator is where a client joins rounds: address and the pinned public key.
type Coordinator struct {
	Host      string
	Port      uint16
	PublicKey []byte // 32 bytes; the handshake fails unless the coordinator holds the matching secret
}

// Options tunes Participate. Zero values mean the library's defaults.
type Options struct {
	Policy           *Policy       // nil: DefaultPolicy()
	ConnectAttempts  uint32        // TCP attempts with backoff (default 5)
	HandshakeTimeout time.Duration // Noise handshake and join answer (default 10s)
	AdmissionTimeout time.Duration // connected, waiting for a round (default 10min)
	IdleTimeout      time.Duration // in a round, waiting for the next message (default 5min)
	TotalTimeout     time.Duration // the whole call (default none; a context deadline also ends it)
}

func milliseconds(d time.Duration) C.uint32_t {
	if d <= 0 {
		return 0
	}
	if ms := d.Milliseconds(); ms < 1<<32 {
		if ms == 0 {
			return 1
		}
		return C.uint32_t(ms)
	}
	return C.uint32_t(1<<32 - 1)
}

// Participate joins the next round of task at the coordinator with input (entries in 0...the task's max_input)
// and runs it to its end. It blocks until the round ends for this client, a timeout expires, or ctx is done.
//
// A round that ran returns its Receipt (completed or aborted) and a nil error; otherwise the error is an *Error
// (errors.Is(err, ErrUnreachable), ErrNotEnrolled, ErrUnknownTask, ErrTimeout, ErrDropped, …, and context.Canceled or DeadlineExceeded when
// ctx ended the call).
func Participate(ctx context.Context, identity *Identity, coordinator Coordinator, task string, input []uint64, options *Options) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, &Error{Code: ErrCancelled, Cause: err}
	}
	if options == nil {
		options = &Options{}
	}
	policy, err := options.Policy.c()
	if err != nil {
		return Receipt{}, err
	}
	cOptions := C.secagg_participate_options{
		connect_attempts:     C.uint32_t(options.ConnectAttempts),
		handshake_timeout_ms: milliseconds(options.HandshakeTimeout),
		admission_timeout_ms: milliseconds(options.AdmissionTimeout),
		idle_timeout_ms:      milliseconds(options.IdleTimeout),
		total_timeout_ms:     milliseconds(options.TotalTimeout),
	}
	host := C.CString(coordinator.Host)
	defer C.free(unsafe.Pointer(host))
	cTask := C.CString(task)
	defer C.free(unsafe.Pointer(cTask))
	var cancel *C.secagg_cancel
	if err := check(C.secagg_cancel_create(&cancel), ""); err != nil {
		return Receipt{}, err
	}
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case <-ctx.Done():
			C.secagg_cancel_trigger(cancel)
		case <-done:
		}
	}()

	var receipt C.secagg_receipt
	code := C.secagg_participate(&receipt, identity.raw(), host, C.uint16_t(coordinator.Port),
		bytePointer(coordinator.PublicKey), C.size_t(len(coordinator.PublicKey)), cTask,
		wordPointer(input), C.size_t(len(input)), policy, &cOptions, cancel)
	close(done)
	watcher.Wait()
	C.secagg_cancel_free(cancel)
	runtime.KeepAlive(identity)

	result := receiptFrom(&receipt)
	if code != C.SECAGG_OK {
		failure := &Error{Code: Code(code), Detail: result.Message}
		if failure.Code == ErrCancelled {
			failure.Cause = ctx.Err()
		}
		return Receipt{}, failure
	}
	return result, nil
}
