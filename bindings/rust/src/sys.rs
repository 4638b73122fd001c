//! The C interface of secagg.h, declared by hand (ABI version 2). Every item mirrors the header exactly.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int};

pub const SECAGG_ABI_VERSION: c_int = 2;
pub const SECAGG_SEED_BYTES: usize = 32;
pub const SECAGG_PUBLIC_KEY_BYTES: usize = 32;
pub const SECAGG_ROUND_ID_BYTES: usize = 16;
pub const SECAGG_MESSAGE_BYTES: usize = 256;

pub const SECAGG_OK: c_int = 0;

pub const SECAGG_OUTCOME_NONE: i32 = 0;
pub const SECAGG_OUTCOME_COMPLETED: i32 = 1;
pub const SECAGG_OUTCOME_ABORTED: i32 = 2;

#[repr(C)]
pub struct secagg_identity {
    _private: [u8; 0],
}

#[repr(C)]
pub struct secagg_cancel {
    _private: [u8; 0],
}

#[repr(C)]
pub struct secagg_client {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct secagg_receipt {
    pub outcome: i32,
    pub survivors: u32,
    pub participant: u32,
    pub abort_code: u16,
    pub has_round_id: u8,
    pub has_participant: u8,
    pub round_id: [u8; SECAGG_ROUND_ID_BYTES],
    pub message: [c_char; SECAGG_MESSAGE_BYTES],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct secagg_client_policy {
    pub min_threshold: u32,
    pub min_survivors: u32,
    pub require_active_mode: u32,
    pub has_enrollment_authority: u32,
    pub enrollment_authority: [u8; SECAGG_PUBLIC_KEY_BYTES],
    pub min_local_noise_variance: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct secagg_participate_options {
    pub connect_attempts: u32,
    pub handshake_timeout_ms: u32,
    pub admission_timeout_ms: u32,
    pub idle_timeout_ms: u32,
    pub total_timeout_ms: u32,
}

extern "C" {
    pub fn secagg_abi_version() -> c_int;
    pub fn secagg_version() -> *const c_char;
    pub fn secagg_strerror(code: c_int) -> *const c_char;

    pub fn secagg_identity_generate(identity_out: *mut *mut secagg_identity) -> c_int;
    pub fn secagg_identity_from_seed(
        identity_out: *mut *mut secagg_identity,
        seed: *const u8,
        seed_len: usize,
    ) -> c_int;
    pub fn secagg_identity_load(identity_out: *mut *mut secagg_identity, path: *const c_char) -> c_int;
    pub fn secagg_identity_save(identity: *const secagg_identity, path: *const c_char) -> c_int;
    pub fn secagg_identity_seed(seed_out: *mut u8, seed_out_len: usize, identity: *const secagg_identity) -> c_int;
    pub fn secagg_identity_public_key(
        public_key_out: *mut u8,
        public_key_out_len: usize,
        identity: *const secagg_identity,
    ) -> c_int;
    pub fn secagg_identity_free(identity: *mut secagg_identity);

    pub fn secagg_client_policy_default(policy_out: *mut secagg_client_policy) -> c_int;

    pub fn secagg_cancel_create(cancel_out: *mut *mut secagg_cancel) -> c_int;
    pub fn secagg_cancel_trigger(cancel: *mut secagg_cancel);
    pub fn secagg_cancel_free(cancel: *mut secagg_cancel);

    pub fn secagg_participate_options_default(options_out: *mut secagg_participate_options) -> c_int;
    pub fn secagg_participate(
        receipt_out: *mut secagg_receipt,
        identity: *const secagg_identity,
        host: *const c_char,
        port: u16,
        coordinator_public_key: *const u8,
        coordinator_public_key_len: usize,
        task: *const c_char,
        input: *const u64,
        input_len: usize,
        policy: *const secagg_client_policy,
        options: *const secagg_participate_options,
        cancel: *mut secagg_cancel,
    ) -> c_int;

    pub fn secagg_client_create(
        client_out: *mut *mut secagg_client,
        identity: *const secagg_identity,
        input: *const u64,
        input_len: usize,
        policy: *const secagg_client_policy,
        task: *const c_char,
    ) -> c_int;
    pub fn secagg_client_handle(client: *mut secagg_client, message: *const u8, message_len: usize) -> c_int;
    pub fn secagg_client_next_message_size(size_out: *mut usize, client: *const secagg_client) -> c_int;
    pub fn secagg_client_next_message(
        out: *mut u8,
        out_capacity: usize,
        out_len: *mut usize,
        client: *mut secagg_client,
    ) -> c_int;
    pub fn secagg_client_phase(phase_out: *mut c_int, client: *const secagg_client) -> c_int;
    pub fn secagg_client_abort(client: *mut secagg_client, abort_code: u16, reason: *const c_char) -> c_int;
    pub fn secagg_client_receipt(receipt_out: *mut secagg_receipt, client: *const secagg_client) -> c_int;
    pub fn secagg_client_free(client: *mut secagg_client);
}

// The structures' sizes as C lays them out (no padding in any of them).
const _: () = assert!(std::mem::size_of::<secagg_receipt>() == 288);
const _: () = assert!(std::mem::size_of::<secagg_client_policy>() == 56);
const _: () = assert!(std::mem::size_of::<secagg_participate_options>() == 20);
