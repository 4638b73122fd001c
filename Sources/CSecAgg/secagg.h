/*
 * secagg.h: the C interface of libsecagg (secure aggregation client).
 *
 * Conventions (they hold for every function below):
 *   - Functions return an int result code: SECAGG_OK (0) on success, a positive SECAGG_E_* code otherwise.
 *     secagg_strerror() turns a code into a static message. Nothing is thrown, no signal is raised, and the
 *     process is never aborted by the library because of its arguments or a peer's bytes.
 *   - Outputs come first, then inputs. Buffers are (pointer, length) pairs with explicit lengths in bytes (or in
 *     elements where the name says so). Every pointer is checked for NULL and every length for its required
 *     value; a violation returns SECAGG_E_INVALID_ARGUMENT (or SECAGG_E_BUFFER_TOO_SMALL) and writes nothing.
 *   - Ownership: the library never keeps a pointer the caller passed in after the call returns, and never
 *     frees one. Objects the library creates are opaque handles returned through an out parameter
 *     (`T **out`); the caller owns them and releases them with the matching *_free function (NULL is
 *     accepted and ignored). Strings are NUL-terminated UTF-8.
 *   - Thread safety: handles are not internally synchronised, except that a secagg_identity may be shared by
 *     any number of threads for reading and secagg_cancel_trigger may be called from any thread at any time.
 *
 * Stability: the ABI described here is version SECAGG_ABI_VERSION. Structures are plain C, defined in full
 * below; a change to any of them or to a function signature increments SECAGG_ABI_VERSION. Compare
 * secagg_abi_version() with the macro at run time to detect a mismatched library.
 */
#ifndef SECAGG_H
#define SECAGG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SECAGG_ABI_VERSION 2

/* Sizes of fixed-length values. */
#define SECAGG_SEED_BYTES 32          /* Ed25519 identity seed */
#define SECAGG_PUBLIC_KEY_BYTES 32    /* Ed25519 public key */
#define SECAGG_ROUND_ID_BYTES 16      /* round identifier */
#define SECAGG_MESSAGE_BYTES 256      /* text in secagg_receipt.message, NUL included */

/* Result codes. */
#define SECAGG_OK 0
#define SECAGG_E_INVALID_ARGUMENT 1   /* a NULL pointer, a wrong length, a value out of range */
#define SECAGG_E_BUFFER_TOO_SMALL 2   /* an output buffer is too small; the size needed is reported */
#define SECAGG_E_IDENTITY 3           /* a malformed identity file, seed or public key */
#define SECAGG_E_IO 4                 /* a file could not be read or written (or exists, or is too permissive) */
#define SECAGG_E_UNREACHABLE 5        /* no TCP connection to the coordinator after every attempt */
#define SECAGG_E_HANDSHAKE 6          /* the Noise handshake failed, or the coordinator is not the pinned key */
#define SECAGG_E_JOIN_REFUSED 7       /* not returned since ABI 2: each refusal has its own code, 14-19 */
#define SECAGG_E_PROTOCOL 8           /* the coordinator sent a malformed or disallowed message */
#define SECAGG_E_CONNECTION_LOST 9    /* the connection closed before the round ended, before the masked input was sent */
#define SECAGG_E_TIMEOUT 10           /* a timeout expired (handshake, admission, idle or total) */
#define SECAGG_E_CANCELLED 11         /* the call was cancelled through its secagg_cancel handle */
#define SECAGG_E_STATE 12             /* the call is not allowed in the object's current state */
#define SECAGG_E_INTERNAL 13          /* an unexpected internal failure (a bug) */
/* Refusals: the coordinator said why it would not take this client (SPEC 4.9). Final for the call; the ones marked
 * "later" may succeed on a later attempt. */
#define SECAGG_E_NOT_ENROLLED 14      /* this identity is not enrolled (or, with an enrollment authority, not endorsed) */
#define SECAGG_E_REVOKED 15           /* this identity's enrollment was revoked */
#define SECAGG_E_UNKNOWN_TASK 16      /* the coordinator has no task of that name */
#define SECAGG_E_QUEUE_FULL 17        /* the task's waiting queue is full (later) */
#define SECAGG_E_SHUTTING_DOWN 18     /* the coordinator is stopping, or the task runs no more rounds (later) */
#define SECAGG_E_ALREADY_JOINED 19    /* this identity already has a connection, or waits for or is in a round (later) */
/* Ends of a round without a receipt. */
#define SECAGG_E_DROPPED 20           /* the coordinator dropped this client (too slow, or a message it refused; the
                                         message names the phase). From secagg_participate: the input is in no released
                                         sum, submitting it again is safe. From the sans-IO client: the same unless the
                                         masked input was already sent (the message says; ask, SPEC 4.10) */
#define SECAGG_E_OUTCOME_UNKNOWN 21   /* the connection was lost after the masked input was sent and the coordinator
                                         could not say (SPEC 4.10) whether it was counted: do not submit it again blindly */

/* Round outcomes, in secagg_receipt.outcome. */
#define SECAGG_OUTCOME_NONE 0         /* no outcome (yet): the round is running, or the call failed */
#define SECAGG_OUTCOME_COMPLETED 1    /* the sum was released and this client's input is in it */
#define SECAGG_OUTCOME_ABORTED 2      /* the round aborted (abort_code and message say why) */

/* Round phases, as returned by secagg_client_phase. */
#define SECAGG_PHASE_NONE (-1)        /* before the first request, or after the end */
#define SECAGG_PHASE_ADVERTISE 0
#define SECAGG_PHASE_SHARE 1
#define SECAGG_PHASE_MASKED_INPUT 2
#define SECAGG_PHASE_CONSISTENCY 3
#define SECAGG_PHASE_UNMASK 4

/* ---------------------------------------------------------------------------------------------------------- */
/* Library                                                                                                     */

/* The ABI version the library implements (compare with SECAGG_ABI_VERSION). */
int secagg_abi_version(void);

/* The library's version as a static NUL-terminated string ("MAJOR.MINOR.PATCH"); never free it. */
const char *secagg_version(void);

/* A static, NUL-terminated English message for a result code (never NULL; unknown codes get a generic
 * message); never free it. */
const char *secagg_strerror(int code);

/* ---------------------------------------------------------------------------------------------------------- */
/* Identity keys: an Ed25519 key pair. The same key signs protocol messages and, derived, authenticates the    */
/* Noise transport. The secret never leaves the handle except through secagg_identity_seed.                   */

typedef struct secagg_identity secagg_identity;

/* A new identity from libsodium's CSPRNG. On success *identity_out owns a new handle. */
int secagg_identity_generate(secagg_identity **identity_out);

/* The identity with the given 32-byte seed (seed_len must be SECAGG_SEED_BYTES). The seed is copied. */
int secagg_identity_from_seed(secagg_identity **identity_out, const uint8_t *seed, size_t seed_len);

/* Loads an identity file (format `secagg-identity-v1`, as written by `secagg keygen` and secagg_identity_save).
 * Fails with SECAGG_E_IO if the file is unreadable or readable by others (it must be mode 0600), with
 * SECAGG_E_IDENTITY if it is malformed. */
int secagg_identity_load(secagg_identity **identity_out, const char *path);

/* Writes the identity to a new file at path with mode 0600. Refuses (SECAGG_E_IO) to overwrite a file. */
int secagg_identity_save(const secagg_identity *identity, const char *path);

/* Copies the 32-byte secret seed into seed_out (seed_out_len must be at least SECAGG_SEED_BYTES). The caller
 * owns the copy and should wipe it after use. */
int secagg_identity_seed(uint8_t *seed_out, size_t seed_out_len, const secagg_identity *identity);

/* Copies the 32-byte Ed25519 public key into public_key_out (at least SECAGG_PUBLIC_KEY_BYTES). This is the
 * key a coordinator enrolls. */
int secagg_identity_public_key(uint8_t *public_key_out, size_t public_key_out_len, const secagg_identity *identity);

/* Releases the handle and wipes its secret. NULL is ignored. */
void secagg_identity_free(secagg_identity *identity);

/* ---------------------------------------------------------------------------------------------------------- */
/* Receipts and policy                                                                                         */

/* How a round ended for this client. Filled by secagg_participate and secagg_client_receipt. */
typedef struct secagg_receipt {
    int32_t outcome;                         /* SECAGG_OUTCOME_* */
    uint32_t survivors;                      /* COMPLETED: number of inputs in the released sum */
    uint32_t participant;                    /* this client's index in the round, if has_participant */
    uint16_t abort_code;                     /* ABORTED: the spec's abort code (SPEC §9.1), e.g. 0x0204, or the
                                                join refusal code (0x0301-0x0307) of a refused sans-IO join */
    uint8_t has_round_id;                    /* 1 if round_id is set */
    uint8_t has_participant;                 /* 1 if participant is set */
    uint8_t round_id[SECAGG_ROUND_ID_BYTES]; /* the round's identifier, if has_round_id */
    char message[SECAGG_MESSAGE_BYTES];      /* ABORTED: the reason; on a failed call: what failed; else "" */
} secagg_receipt;

/* The rules this client holds the coordinator to; rounds that break them are refused (aborted). */
typedef struct secagg_client_policy {
    uint32_t min_threshold;                  /* smallest Shamir threshold accepted (default 2) */
    uint32_t min_survivors;                  /* smallest number of survivors accepted in any phase (default 3) */
    uint32_t require_active_mode;            /* 1: join only rounds with the consistency check (default 0) */
    uint32_t has_enrollment_authority;       /* 1: neighbours must carry an endorsement by the key below */
    uint8_t enrollment_authority[SECAGG_PUBLIC_KEY_BYTES];
    double min_local_noise_variance;         /* > 0: join only distributed-noise rounds in which this client adds at
                                                least this discrete Gaussian variance itself (SPEC 5.10); 0: no floor */
} secagg_client_policy;

/* Fills *policy_out with the defaults. */
int secagg_client_policy_default(secagg_client_policy *policy_out);

/* ---------------------------------------------------------------------------------------------------------- */
/* Cancellation: a handle another thread triggers to stop a blocking call (e.g. from a Go context or a Rust   */
/* task). Triggering is permanent: every call given a triggered handle returns SECAGG_E_CANCELLED promptly.   */

typedef struct secagg_cancel secagg_cancel;

/* A new, untriggered cancellation handle. */
int secagg_cancel_create(secagg_cancel **cancel_out);

/* Cancels the calls using this handle. Safe from any thread, at any time, any number of times. */
void secagg_cancel_trigger(secagg_cancel *cancel);

/* Releases the handle. It must not be freed while a call using it is still running. NULL is ignored. */
void secagg_cancel_free(secagg_cancel *cancel);

/* ---------------------------------------------------------------------------------------------------------- */
/* Blocking participation: TCP + Noise XX + the round, in one call.                                           */

/* Timeouts and retries for secagg_participate. Zero in any field means the default. */
typedef struct secagg_participate_options {
    uint32_t connect_attempts;               /* TCP connection attempts, with backoff (default 5) */
    uint32_t handshake_timeout_ms;           /* the Noise handshake and the join answer (default 10000) */
    uint32_t admission_timeout_ms;           /* connected, waiting for a round to start (default 600000) */
    uint32_t idle_timeout_ms;                /* in a round, waiting for the coordinator's next message (default 300000) */
    uint32_t total_timeout_ms;               /* the whole call (default: none) */
} secagg_participate_options;

/* Fills *options_out with the defaults (all zero). */
int secagg_participate_options_default(secagg_participate_options *options_out);

/* Connects to the coordinator at host:port, authenticates it against coordinator_public_key (32 bytes), joins
 * `task`, waits to be invited to a round, and runs the client side of that round with `input` (input_len
 * entries, each in 0...the round's maximum input). Blocks until the round ends for this client, a timeout
 * expires, or `cancel` is triggered.
 *
 * policy and options may be NULL (defaults); cancel may be NULL (not cancellable).
 * Returns SECAGG_OK when the round produced an outcome, completed or aborted: read receipt_out->outcome.
 * Otherwise returns the failure's code, with receipt_out->outcome SECAGG_OUTCOME_NONE and receipt_out->message
 * describing it. *receipt_out is written in both cases (unless receipt_out is NULL). */
int secagg_participate(secagg_receipt *receipt_out,
                       const secagg_identity *identity,
                       const char *host, uint16_t port,
                       const uint8_t *coordinator_public_key, size_t coordinator_public_key_len,
                       const char *task,
                       const uint64_t *input, size_t input_len,
                       const secagg_client_policy *policy,
                       const secagg_participate_options *options,
                       secagg_cancel *cancel);

/* ---------------------------------------------------------------------------------------------------------- */
/* Sans-IO client: the round's state machine, bytes in and bytes out, for callers with their own I/O. The     */
/* caller carries each message over its own secure channel (the spec's Noise XX transport), delivering whole  */
/* decrypted application messages.                                                                             */
/*                                                                                                             */
/* Use: create; send every message secagg_client_next_message yields; feed each message received with         */
/* secagg_client_handle, then again send what is queued; stop when secagg_client_receipt returns SECAGG_OK.    */

typedef struct secagg_client secagg_client;

/* A client contributing `input` (input_len entries), with `policy` (NULL: defaults). If task is not NULL,
 * the first queued message is the session layer's join request for that task and the first message handled
 * must be the coordinator's join answer; with task NULL, the caller has joined already and the first message
 * handled is the round's first request. The identity is not retained beyond the call (its key is copied). */
int secagg_client_create(secagg_client **client_out,
                         const secagg_identity *identity,
                         const uint64_t *input, size_t input_len,
                         const secagg_client_policy *policy,
                         const char *task);

/* Handles one message from the coordinator (message_len bytes, copied). Returns SECAGG_OK if accepted; the
 * refusal's code (SECAGG_E_NOT_ENROLLED ... SECAGG_E_ALREADY_JOINED) if it is a join refusal — which a coordinator
 * may also send unasked as its first message, before any join, to an identity it does not accept; SECAGG_E_DROPPED
 * if it is the coordinator's notice that it dropped this client; SECAGG_E_PROTOCOL if it is malformed or not
 * allowed here.
 * On either error the client leaves the round: it is finished, its receipt says why (ABORTED with 0x0204,
 * coordinator misbehaved, or with the refusal code), and, if the round had started, an abort message for the
 * coordinator is queued. After the end, returns SECAGG_E_STATE. */
int secagg_client_handle(secagg_client *client, const uint8_t *message, size_t message_len);

/* The size in bytes of the next queued outgoing message, or 0 in *size_out if none is queued. */
int secagg_client_next_message_size(size_t *size_out, const secagg_client *client);

/* Moves the next queued outgoing message into out (capacity out_capacity bytes) and its length into *out_len.
 * If no message is queued, returns SECAGG_OK with *out_len = 0. If out is too small, returns
 * SECAGG_E_BUFFER_TOO_SMALL with the size needed in *out_len, and the message stays queued. */
int secagg_client_next_message(uint8_t *out, size_t out_capacity, size_t *out_len, secagg_client *client);

/* The current phase (SECAGG_PHASE_*) into *phase_out. */
int secagg_client_phase(int *phase_out, const secagg_client *client);

/* Leaves the round on the caller's initiative (e.g. shutdown): the client finishes with an ABORTED receipt
 * carrying abort_code and reason (NUL-terminated, may be NULL), and, if the round had started, queues the abort
 * message to send. Returns SECAGG_E_STATE if the client had already finished. */
int secagg_client_abort(secagg_client *client, uint16_t abort_code, const char *reason);

/* Writes the receipt once the client has finished (SECAGG_OK); before that returns SECAGG_E_STATE and writes
 * an outcome of SECAGG_OUTCOME_NONE. After a drop notice there is no receipt: returns SECAGG_E_DROPPED with
 * SECAGG_OUTCOME_NONE and the notice in message. */
int secagg_client_receipt(secagg_receipt *receipt_out, const secagg_client *client);

/* Releases the client and wipes its secrets. NULL is ignored. */
void secagg_client_free(secagg_client *client);

#ifdef __cplusplus
}
#endif

#endif /* SECAGG_H */
