//! Safe Rust binding of libsecaggc, the secagg secure-aggregation client (C header `secagg.h`).
//!
//! A client loads its enrolled [`Identity`], then contributes one vector to a round with [`participate`]
//! (TCP + Noise + protocol in one blocking call, cancellable from another thread with a [`CancelToken`]).
//! Callers that carry messages themselves use the sans-IO [`Client`]. Every failure is an [`Error`].
//!
//! The library is found at build time through `SECAGG_LIB_DIR`, else pkg-config (package `secagg`, e.g.
//! `PKG_CONFIG_PATH=<client package>/lib/pkgconfig`); at run time through the dynamic loader (this crate's own
//! tests and examples get a run path).

pub mod sys;

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};
use std::time::Duration;

/// Bytes in an identity seed.
pub const SEED_BYTES: usize = sys::SECAGG_SEED_BYTES;
/// Bytes in an Ed25519 public key.
pub const PUBLIC_KEY_BYTES: usize = sys::SECAGG_PUBLIC_KEY_BYTES;
/// Bytes in a round identifier.
pub const ROUND_ID_BYTES: usize = sys::SECAGG_ROUND_ID_BYTES;

/// What kind of failure a call reported (the result codes of `secagg.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    InvalidArgument,
    BufferTooSmall,
    Identity,
    Io,
    Unreachable,
    Handshake,
    JoinRefused,
    Protocol,
    ConnectionLost,
    Timeout,
    Cancelled,
    State,
    Internal,
    /// This identity is not enrolled at the coordinator (or, with an enrollment authority, not endorsed).
    NotEnrolled,
    /// This identity's enrollment was revoked.
    Revoked,
    /// The coordinator has no task of that name.
    UnknownTask,
    /// The task's waiting queue is full (try later).
    QueueFull,
    /// The coordinator is stopping, or the task runs no more rounds (try later).
    ShuttingDown,
    /// This identity already has a connection, or waits for or is in a round (try later).
    AlreadyJoined,
    /// The coordinator dropped this client; its input is in no released sum (submitting it again is safe).
    Dropped,
    /// The connection was lost after the masked input was sent and the coordinator could not say whether it was
    /// counted: do not submit it again blindly.
    OutcomeUnknown,
    /// A code this binding does not know (a newer library).
    Unknown(i32),
}

impl ErrorKind {
    fn from_code(code: c_int) -> ErrorKind {
        match code {
            1 => ErrorKind::InvalidArgument,
            2 => ErrorKind::BufferTooSmall,
            3 => ErrorKind::Identity,
            4 => ErrorKind::Io,
            5 => ErrorKind::Unreachable,
            6 => ErrorKind::Handshake,
            7 => ErrorKind::JoinRefused,
            8 => ErrorKind::Protocol,
            9 => ErrorKind::ConnectionLost,
            10 => ErrorKind::Timeout,
            11 => ErrorKind::Cancelled,
            12 => ErrorKind::State,
            13 => ErrorKind::Internal,
            14 => ErrorKind::NotEnrolled,
            15 => ErrorKind::Revoked,
            16 => ErrorKind::UnknownTask,
            17 => ErrorKind::QueueFull,
            18 => ErrorKind::ShuttingDown,
            19 => ErrorKind::AlreadyJoined,
            20 => ErrorKind::Dropped,
            21 => ErrorKind::OutcomeUnknown,
            other => ErrorKind::Unknown(other),
        }
    }

    /// The C result code.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument => 1,
            ErrorKind::BufferTooSmall => 2,
            ErrorKind::Identity => 3,
            ErrorKind::Io => 4,
            ErrorKind::Unreachable => 5,
            ErrorKind::Handshake => 6,
            ErrorKind::JoinRefused => 7,
            ErrorKind::Protocol => 8,
            ErrorKind::ConnectionLost => 9,
            ErrorKind::Timeout => 10,
            ErrorKind::Cancelled => 11,
            ErrorKind::State => 12,
            ErrorKind::Internal => 13,
            ErrorKind::NotEnrolled => 14,
            ErrorKind::Revoked => 15,
            ErrorKind::UnknownTask => 16,
            ErrorKind::QueueFull => 17,
            ErrorKind::ShuttingDown => 18,
            ErrorKind::AlreadyJoined => 19,
            ErrorKind::Dropped => 20,
            ErrorKind::OutcomeUnknown => 21,
            ErrorKind::Unknown(code) => code,
        }
    }

    /// The kind for a C result code (`Unknown` for a code this binding does not know).
    pub fn from_raw(code: i32) -> ErrorKind {
        ErrorKind::from_code(code)
    }

    /// True for refusals that may succeed on a later attempt (queue full, shutting down, already joined).
    pub fn retry_later(self) -> bool {
        matches!(self, ErrorKind::QueueFull | ErrorKind::ShuttingDown | ErrorKind::AlreadyJoined)
    }
}

/// A failed call: its kind and, when the library gave one, a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub detail: String,
}

impl Error {
    fn new(kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error { kind, detail: detail.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: secagg_strerror returns a static NUL-terminated string for any code.
        let message = unsafe { CStr::from_ptr(sys::secagg_strerror(self.kind.code())) }.to_string_lossy();
        if self.detail.is_empty() {
            write!(f, "secagg: {message}")
        } else {
            write!(f, "secagg: {message}: {}", self.detail)
        }
    }
}

impl std::error::Error for Error {}

/// Turns a result code into `Ok(())` or an error with `detail`.
fn check(code: c_int, detail: &str) -> Result<(), Error> {
    if code == sys::SECAGG_OK {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::from_code(code), detail))
    }
}

fn c_string(text: &str, name: &str) -> Result<CString, Error> {
    CString::new(text).map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{name} contains a NUL byte")))
}

fn c_path(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "the path contains a NUL byte"))
}

/// The library's version string.
pub fn version() -> String {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::secagg_version()) }.to_string_lossy().into_owned()
}

/// The ABI version of the loaded library; equal to [`sys::SECAGG_ABI_VERSION`] for this binding.
pub fn abi_version() -> i32 {
    // SAFETY: no arguments.
    unsafe { sys::secagg_abi_version() }
}

/// Lowercase hexadecimal of `bytes` (the format of enrollment files and `--coordinator-key`).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of an even-length hexadecimal string, or None.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok()).collect()
}

/// A client's Ed25519 identity. Its secret is wiped when dropped.
pub struct Identity {
    raw: NonNull<sys::secagg_identity>,
}

// SAFETY: the library allows an identity to be read from any number of threads; it is never mutated.
unsafe impl Send for Identity {}
unsafe impl Sync for Identity {}

impl Identity {
    fn from_out(call: impl FnOnce(*mut *mut sys::secagg_identity) -> c_int, detail: &str) -> Result<Identity, Error> {
        let mut raw = ptr::null_mut();
        check(call(&mut raw), detail)?;
        NonNull::new(raw)
            .map(|raw| Identity { raw })
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no handle"))
    }

    /// A new identity from libsodium's CSPRNG.
    pub fn generate() -> Result<Identity, Error> {
        // SAFETY: the out pointer is valid for the call.
        Identity::from_out(|out| unsafe { sys::secagg_identity_generate(out) }, "")
    }

    /// The identity with the given 32-byte seed.
    pub fn from_seed(seed: &[u8]) -> Result<Identity, Error> {
        // SAFETY: (pointer, length) describe `seed`.
        Identity::from_out(|out| unsafe { sys::secagg_identity_from_seed(out, seed.as_ptr(), seed.len()) }, "")
    }

    /// Loads an identity file (`secagg-identity-v1`, mode 0600) as `secagg keygen` writes.
    pub fn load(path: impl AsRef<Path>) -> Result<Identity, Error> {
        let path = path.as_ref();
        let c = c_path(path)?;
        // SAFETY: `c` is a NUL-terminated string alive for the call.
        Identity::from_out(|out| unsafe { sys::secagg_identity_load(out, c.as_ptr()) }, &path.display().to_string())
    }

    /// Writes the identity to a new file (mode 0600); never overwrites.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let c = c_path(path)?;
        // SAFETY: valid handle and string.
        check(unsafe { sys::secagg_identity_save(self.raw.as_ptr(), c.as_ptr()) }, &path.display().to_string())
    }

    /// A copy of the 32-byte secret seed.
    pub fn seed(&self) -> Result<[u8; SEED_BYTES], Error> {
        let mut seed = [0u8; SEED_BYTES];
        // SAFETY: the buffer has the length passed.
        check(unsafe { sys::secagg_identity_seed(seed.as_mut_ptr(), seed.len(), self.raw.as_ptr()) }, "")?;
        Ok(seed)
    }

    /// The 32-byte Ed25519 public key (the one a coordinator enrolls).
    pub fn public_key(&self) -> Result<[u8; PUBLIC_KEY_BYTES], Error> {
        let mut key = [0u8; PUBLIC_KEY_BYTES];
        // SAFETY: the buffer has the length passed.
        check(unsafe { sys::secagg_identity_public_key(key.as_mut_ptr(), key.len(), self.raw.as_ptr()) }, "")?;
        Ok(key)
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and freed once.
        unsafe { sys::secagg_identity_free(self.raw.as_ptr()) }
    }
}

/// Cancels a blocking [`participate`] from another thread (share it with `Arc` or a scoped thread).
/// Cancelling is permanent: later calls given this token fail with [`ErrorKind::Cancelled`] at once.
pub struct CancelToken {
    raw: NonNull<sys::secagg_cancel>,
}

// SAFETY: secagg_cancel_trigger is safe from any thread at any time; the handle is freed only on drop, when no
// call can be using it (calls borrow the token).
unsafe impl Send for CancelToken {}
unsafe impl Sync for CancelToken {}

impl CancelToken {
    /// A new, untriggered token.
    pub fn new() -> Result<CancelToken, Error> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid out pointer.
        check(unsafe { sys::secagg_cancel_create(&mut raw) }, "")?;
        NonNull::new(raw)
            .map(|raw| CancelToken { raw })
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no handle"))
    }

    /// Cancels the calls using this token.
    pub fn cancel(&self) {
        // SAFETY: valid handle; the call is thread-safe.
        unsafe { sys::secagg_cancel_trigger(self.raw.as_ptr()) }
    }
}

impl Drop for CancelToken {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once, no call borrows it any more.
        unsafe { sys::secagg_cancel_free(self.raw.as_ptr()) }
    }
}

/// How a round ended for this client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The sum was released with this client's input among `survivors` inputs.
    Completed { survivors: u32 },
    /// The round aborted (or the join was refused) with the spec's code and a reason.
    Aborted { code: u16, reason: String },
}

/// What a client learns about the round it took part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub outcome: Outcome,
    pub round_id: Option<[u8; ROUND_ID_BYTES]>,
    pub participant: Option<u32>,
}

fn receipt_message(raw: &sys::secagg_receipt) -> String {
    // SAFETY: the library always NUL-terminates the message within the array.
    unsafe { CStr::from_ptr(raw.message.as_ptr()) }.to_string_lossy().into_owned()
}

fn receipt_from(raw: &sys::secagg_receipt) -> Option<Receipt> {
    let outcome = match raw.outcome {
        sys::SECAGG_OUTCOME_COMPLETED => Outcome::Completed { survivors: raw.survivors },
        sys::SECAGG_OUTCOME_ABORTED => Outcome::Aborted { code: raw.abort_code, reason: receipt_message(raw) },
        _ => return None,
    };
    Some(Receipt {
        outcome,
        round_id: (raw.has_round_id == 1).then_some(raw.round_id),
        participant: (raw.has_participant == 1).then_some(raw.participant),
    })
}

fn empty_receipt() -> sys::secagg_receipt {
    sys::secagg_receipt {
        outcome: sys::SECAGG_OUTCOME_NONE,
        survivors: 0,
        participant: 0,
        abort_code: 0,
        has_round_id: 0,
        has_participant: 0,
        round_id: [0; ROUND_ID_BYTES],
        message: [0 as c_char; sys::SECAGG_MESSAGE_BYTES],
    }
}

/// What the client requires of the coordinator's rounds; rounds breaking it are refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub min_threshold: u32,
    pub min_survivors: u32,
    pub require_active_mode: bool,
    /// If set, every neighbour must carry an endorsement by this enrollment authority.
    pub enrollment_authority: Option<[u8; PUBLIC_KEY_BYTES]>,
    /// > 0: join only distributed-noise rounds in which this client adds at least this discrete Gaussian variance
    /// itself (SPEC 5.10); 0: no floor.
    pub min_local_noise_variance: f64,
}

impl Default for Policy {
    /// The library's defaults.
    fn default() -> Policy {
        let mut raw = sys::secagg_client_policy::default();
        // SAFETY: valid out pointer; the call cannot fail with one.
        unsafe { sys::secagg_client_policy_default(&mut raw) };
        Policy {
            min_threshold: raw.min_threshold,
            min_survivors: raw.min_survivors,
            require_active_mode: raw.require_active_mode == 1,
            enrollment_authority: None,
            min_local_noise_variance: raw.min_local_noise_variance,
        }
    }
}

impl Policy {
    fn raw(&self) -> sys::secagg_client_policy {
        sys::secagg_client_policy {
            min_threshold: self.min_threshold,
            min_survivors: self.min_survivors,
            require_active_mode: self.require_active_mode as u32,
            has_enrollment_authority: self.enrollment_authority.is_some() as u32,
            enrollment_authority: self.enrollment_authority.unwrap_or([0; PUBLIC_KEY_BYTES]),
            min_local_noise_variance: self.min_local_noise_variance,
        }
    }
}

/// Where a client joins rounds: the address and the pinned public key of the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    pub host: String,
    pub port: u16,
    pub public_key: [u8; PUBLIC_KEY_BYTES],
}

/// Tuning of [`participate`]; `None` and zero mean the library's defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub policy: Option<Policy>,
    /// TCP attempts with backoff (default 5).
    pub connect_attempts: u32,
    /// The Noise handshake and the join answer (default 10 s).
    pub handshake_timeout: Option<Duration>,
    /// Connected, waiting for a round to start (default 10 min).
    pub admission_timeout: Option<Duration>,
    /// In a round, waiting for the coordinator's next message (default 5 min).
    pub idle_timeout: Option<Duration>,
    /// The whole call (default none).
    pub total_timeout: Option<Duration>,
}

fn milliseconds(duration: Option<Duration>) -> u32 {
    duration.map_or(0, |duration| duration.as_millis().clamp(1, u32::MAX as u128) as u32)
}

/// Joins the next round of `task` at the coordinator with `input` (entries in 0..=the task's max_input) and runs
/// it to its end, blocking the calling thread. A round that ran gives its [`Receipt`] (completed or aborted);
/// otherwise the error says what failed. `cancel`, triggered from another thread, ends the call with
/// [`ErrorKind::Cancelled`].
pub fn participate(
    identity: &Identity,
    coordinator: &Coordinator,
    task: &str,
    input: &[u64],
    options: &Options,
    cancel: Option<&CancelToken>,
) -> Result<Receipt, Error> {
    let host = c_string(&coordinator.host, "host")?;
    let task = c_string(task, "task")?;
    let policy = options.policy.as_ref().map(Policy::raw);
    let raw_options = sys::secagg_participate_options {
        connect_attempts: options.connect_attempts,
        handshake_timeout_ms: milliseconds(options.handshake_timeout),
        admission_timeout_ms: milliseconds(options.admission_timeout),
        idle_timeout_ms: milliseconds(options.idle_timeout),
        total_timeout_ms: milliseconds(options.total_timeout),
    };
    let mut receipt = empty_receipt();
    // SAFETY: every pointer refers to memory alive for the call, with the lengths passed.
    let code = unsafe {
        sys::secagg_participate(
            &mut receipt,
            identity.raw.as_ptr(),
            host.as_ptr(),
            coordinator.port,
            coordinator.public_key.as_ptr(),
            coordinator.public_key.len(),
            task.as_ptr(),
            input.as_ptr(),
            input.len(),
            policy.as_ref().map_or(ptr::null(), |policy| policy as *const _),
            &raw_options,
            cancel.map_or(ptr::null_mut(), |cancel| cancel.raw.as_ptr()),
        )
    };
    check(code, &receipt_message(&receipt))?;
    receipt_from(&receipt).ok_or_else(|| Error::new(ErrorKind::Internal, "the call succeeded without an outcome"))
}

/// A round phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Advertise,
    Share,
    MaskedInput,
    Consistency,
    Unmask,
}

/// The sans-IO client state machine: the caller moves whole decrypted application messages between it and the
/// coordinator over its own secure channel. Its secrets are wiped when dropped.
pub struct Client {
    raw: NonNull<sys::secagg_client>,
}

// SAFETY: the client is not tied to a thread; `&mut self` methods keep it from being used by two at once, and
// `&self` methods only read (not Sync: the header does not promise concurrent reads during a write).
unsafe impl Send for Client {}

impl Client {
    /// A client contributing `input` under `policy` (None: defaults). With a task, the first outgoing message is
    /// the join request and the first message handled must be the join answer.
    pub fn new(
        identity: &Identity,
        input: &[u64],
        policy: Option<&Policy>,
        task: Option<&str>,
    ) -> Result<Client, Error> {
        let task = task.map(|task| c_string(task, "task")).transpose()?;
        let policy = policy.map(Policy::raw);
        let mut raw = ptr::null_mut();
        // SAFETY: pointers valid for the call.
        let code = unsafe {
            sys::secagg_client_create(
                &mut raw,
                identity.raw.as_ptr(),
                input.as_ptr(),
                input.len(),
                policy.as_ref().map_or(ptr::null(), |policy| policy as *const _),
                task.as_ref().map_or(ptr::null(), |task| task.as_ptr()),
            )
        };
        check(code, "")?;
        NonNull::new(raw)
            .map(|raw| Client { raw })
            .ok_or_else(|| Error::new(ErrorKind::Internal, "the library returned no handle"))
    }

    /// Handles one message from the coordinator. On an error the client has left the round: for a protocol error
    /// or a refusal (`NotEnrolled` … `AlreadyJoined`) [`Client::receipt`] says why and an abort message may be
    /// queued; for `Dropped` (the coordinator's drop notice) there is no receipt and the error's detail holds the
    /// notice.
    pub fn handle(&mut self, message: &[u8]) -> Result<(), Error> {
        // SAFETY: (pointer, length) describe `message`.
        let code = unsafe { sys::secagg_client_handle(self.raw.as_ptr(), message.as_ptr(), message.len()) };
        if code == sys::SECAGG_OK {
            return Ok(());
        }
        // The receipt's message says why, also when there is no receipt (a drop notice).
        let mut raw = empty_receipt();
        // SAFETY: valid out pointer and handle.
        unsafe { sys::secagg_client_receipt(&mut raw, self.raw.as_ptr()) };
        check(code, &receipt_message(&raw))
    }

    /// Removes and returns the next queued outgoing message, if any.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut size = 0usize;
        // SAFETY: valid out pointer and handle.
        check(unsafe { sys::secagg_client_next_message_size(&mut size, self.raw.as_ptr()) }, "")?;
        if size == 0 {
            return Ok(None);
        }
        let mut buffer = vec![0u8; size];
        let mut length = 0usize;
        // SAFETY: the buffer has the capacity passed.
        check(
            unsafe {
                sys::secagg_client_next_message(buffer.as_mut_ptr(), buffer.len(), &mut length, self.raw.as_ptr())
            },
            "",
        )?;
        buffer.truncate(length);
        Ok(Some(buffer))
    }

    /// The current phase; None before the first request and after the end.
    pub fn phase(&self) -> Option<Phase> {
        let mut phase: c_int = -1;
        // SAFETY: valid out pointer and handle.
        unsafe { sys::secagg_client_phase(&mut phase, self.raw.as_ptr()) };
        match phase {
            0 => Some(Phase::Advertise),
            1 => Some(Phase::Share),
            2 => Some(Phase::MaskedInput),
            3 => Some(Phase::Consistency),
            4 => Some(Phase::Unmask),
            _ => None,
        }
    }

    /// Leaves the round with a spec'd abort code (e.g. 0x0206, cancelled) and a reason.
    pub fn abort(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        let reason = c_string(reason, "reason")?;
        // SAFETY: valid handle and string.
        check(unsafe { sys::secagg_client_abort(self.raw.as_ptr(), code, reason.as_ptr()) }, "")
    }

    /// The receipt, once the client has finished.
    pub fn receipt(&self) -> Option<Receipt> {
        let mut raw = empty_receipt();
        // SAFETY: valid out pointer and handle.
        let code = unsafe { sys::secagg_client_receipt(&mut raw, self.raw.as_ptr()) };
        if code != sys::SECAGG_OK {
            return None;
        }
        receipt_from(&raw)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: owned handle, freed once.
        unsafe { sys::secagg_client_free(self.raw.as_ptr()) }
    }
}
