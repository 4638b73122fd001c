/* Tests of libsecaggc through secagg.h alone.
 *
 * Usage: secagg_test SCRATCH_DIR [HOST PORT COORDINATOR_KEY_HEX IDENTITY_FILE TASK V1,V2,...]
 * Without the round arguments it runs the local tests only; with them it also joins a real round and expects
 * it to complete. Exit status 0 when every check passed. */
#include "secagg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The structures have no padding, so every language lays them out alike (the Rust binding asserts the same). */
_Static_assert(sizeof(secagg_receipt) == 288, "secagg_receipt layout");
_Static_assert(sizeof(secagg_client_policy) == 56, "secagg_client_policy layout");
_Static_assert(sizeof(secagg_participate_options) == 20, "secagg_participate_options layout");

static int failures = 0;

#define CHECK(condition)                                                                           \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_CODE(call, expected)                                                                 \
    do {                                                                                           \
        int got_ = (call);                                                                         \
        if (got_ != (expected)) {                                                                  \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d\n", __FILE__, __LINE__, #call, \
                    got_, secagg_strerror(got_), (int)(expected));                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char *scratch;

static void path_in_scratch(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", scratch, name);
}

static void test_library(void) {
    CHECK(secagg_abi_version() == SECAGG_ABI_VERSION);
    CHECK(strlen(secagg_version()) > 0);
    /* every code of the header has its own message, distinct from the unknown-code one and from each other */
    const char *unknown = secagg_strerror(-7);
    for (int code = SECAGG_OK; code <= SECAGG_E_OUTCOME_UNKNOWN; code++) {
        CHECK(secagg_strerror(code) != NULL && strlen(secagg_strerror(code)) > 0);
        CHECK(strcmp(secagg_strerror(code), unknown) != 0);
        for (int other = SECAGG_OK; other < code; other++) {
            if (strcmp(secagg_strerror(code), secagg_strerror(other)) == 0) {
                fprintf(stderr, "codes %d and %d share the message '%s'\n", other, code, secagg_strerror(code));
                failures++;
            }
        }
    }
    CHECK(strcmp(secagg_strerror(SECAGG_E_OUTCOME_UNKNOWN + 1), unknown) == 0);
    CHECK(strcmp(secagg_strerror(SECAGG_OK), "success") == 0);
    CHECK(strcmp(secagg_strerror(-7), "unknown result code") == 0);
    CHECK(strcmp(secagg_strerror(SECAGG_E_TIMEOUT), secagg_strerror(SECAGG_E_CANCELLED)) != 0);
}

static void test_identity(void) {
    secagg_identity *identity = NULL, *copy = NULL, *loaded = NULL;
    uint8_t seed[SECAGG_SEED_BYTES], key[SECAGG_PUBLIC_KEY_BYTES], key2[SECAGG_PUBLIC_KEY_BYTES];
    char path[4096];

    CHECK_CODE(secagg_identity_generate(&identity), SECAGG_OK);
    CHECK_CODE(secagg_identity_seed(seed, sizeof seed, identity), SECAGG_OK);
    CHECK_CODE(secagg_identity_public_key(key, sizeof key, identity), SECAGG_OK);

    /* seed round trip */
    CHECK_CODE(secagg_identity_from_seed(&copy, seed, sizeof seed), SECAGG_OK);
    CHECK_CODE(secagg_identity_public_key(key2, sizeof key2, copy), SECAGG_OK);
    CHECK(memcmp(key, key2, sizeof key) == 0);

    /* file round trip, mode 0600, no overwrite */
    path_in_scratch(path, sizeof path, "c-identity.key");
    unlink(path);
    CHECK_CODE(secagg_identity_save(identity, path), SECAGG_OK);
    struct stat status;
    CHECK(stat(path, &status) == 0 && (status.st_mode & 0777) == 0600);
    CHECK_CODE(secagg_identity_save(copy, path), SECAGG_E_IO);
    CHECK_CODE(secagg_identity_load(&loaded, path), SECAGG_OK);
    memset(key2, 0, sizeof key2);
    CHECK_CODE(secagg_identity_public_key(key2, sizeof key2, loaded), SECAGG_OK);
    CHECK(memcmp(key, key2, sizeof key) == 0);
    secagg_identity_free(loaded);
    loaded = NULL;

    /* unreadable, too permissive, malformed */
    path_in_scratch(path, sizeof path, "missing.key");
    CHECK_CODE(secagg_identity_load(&loaded, path), SECAGG_E_IO);
    CHECK(loaded == NULL);
    path_in_scratch(path, sizeof path, "c-identity.key");
    chmod(path, 0644);
    CHECK_CODE(secagg_identity_load(&loaded, path), SECAGG_E_IO);
    path_in_scratch(path, sizeof path, "garbage.key");
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    if (file) {
        fputs("secagg-identity-v1\nnot hex\n", file);
        fclose(file);
    }
    chmod(path, 0600);
    CHECK_CODE(secagg_identity_load(&loaded, path), SECAGG_E_IDENTITY);
    CHECK(loaded == NULL);

    /* invalid arguments: codes, never a crash */
    CHECK_CODE(secagg_identity_generate(NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_from_seed(&loaded, seed, sizeof seed - 1), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_from_seed(&loaded, NULL, sizeof seed), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_from_seed(NULL, seed, sizeof seed), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_load(&loaded, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_save(NULL, path), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_save(identity, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_public_key(key, 16, identity), SECAGG_E_BUFFER_TOO_SMALL);
    CHECK_CODE(secagg_identity_public_key(NULL, sizeof key, identity), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_public_key(key, sizeof key, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_identity_seed(seed, 31, identity), SECAGG_E_BUFFER_TOO_SMALL);
    CHECK(loaded == NULL);
    secagg_identity_free(NULL);

    secagg_identity_free(copy);
    secagg_identity_free(identity);
}

static const uint64_t small_input[3] = {1, 2, 3};

/* Calls secagg_participate against a closed local port. */
static int participate_unreachable(secagg_receipt *receipt, const secagg_identity *identity, uint32_t attempts,
                                   uint32_t total_ms, secagg_cancel *cancel) {
    uint8_t coordinator[SECAGG_PUBLIC_KEY_BYTES];
    secagg_identity_public_key(coordinator, sizeof coordinator, identity);
    secagg_participate_options options;
    secagg_participate_options_default(&options);
    options.connect_attempts = attempts;
    options.total_timeout_ms = total_ms;
    return secagg_participate(receipt, identity, "127.0.0.1", 1, coordinator, sizeof coordinator, "task",
                              small_input, 3, NULL, &options, cancel);
}

struct cancel_call {
    const secagg_identity *identity;
    secagg_cancel *cancel;
    int result;
    secagg_receipt receipt;
};

static void *run_cancellable(void *argument) {
    struct cancel_call *call = argument;
    call->result = participate_unreachable(&call->receipt, call->identity, 1000, 0, call->cancel);
    return NULL;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void test_participate_failures(void) {
    secagg_identity *identity = NULL;
    CHECK_CODE(secagg_identity_generate(&identity), SECAGG_OK);
    uint8_t coordinator[SECAGG_PUBLIC_KEY_BYTES];
    secagg_identity_public_key(coordinator, sizeof coordinator, identity);
    secagg_receipt receipt;

    /* invalid arguments fill the receipt with what was wrong */
    CHECK_CODE(secagg_participate(&receipt, NULL, "127.0.0.1", 1, coordinator, 32, "t", small_input, 3, NULL, NULL,
                                  NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK(receipt.outcome == SECAGG_OUTCOME_NONE && strstr(receipt.message, "identity") != NULL);
    CHECK_CODE(secagg_participate(&receipt, identity, "127.0.0.1", 1, coordinator, 31, "t", small_input, 3, NULL, NULL,
                                  NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_participate(&receipt, identity, "127.0.0.1", 0, coordinator, 32, "t", small_input, 3, NULL, NULL,
                                  NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_participate(&receipt, identity, NULL, 1, coordinator, 32, "t", small_input, 3, NULL, NULL, NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_participate(&receipt, identity, "127.0.0.1", 1, coordinator, 32, NULL, small_input, 3, NULL,
                                  NULL, NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_participate(&receipt, identity, "127.0.0.1", 1, coordinator, 32, "t", NULL, 3, NULL, NULL, NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_participate(NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL),
               SECAGG_E_INVALID_ARGUMENT);
    uint8_t not_a_key[SECAGG_PUBLIC_KEY_BYTES];
    memset(not_a_key, 0, sizeof not_a_key); /* the identity point, not a valid key */
    CHECK_CODE(secagg_participate(&receipt, identity, "127.0.0.1", 1, not_a_key, 32, "t", small_input, 3, NULL, NULL,
                                  NULL),
               SECAGG_E_IDENTITY);
    secagg_client_policy policy;
    CHECK_CODE(secagg_client_policy_default(&policy), SECAGG_OK);
    CHECK(policy.min_threshold == 2 && policy.min_survivors == 3 && policy.require_active_mode == 0);
    CHECK(policy.has_enrollment_authority == 0 && policy.min_local_noise_variance == 0.0);
    policy.require_active_mode = 7;
    CHECK_CODE(secagg_participate(&receipt, identity, "127.0.0.1", 1, coordinator, 32, "t", small_input, 3, &policy,
                                  NULL, NULL),
               SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_policy_default(NULL), SECAGG_E_INVALID_ARGUMENT);

    /* nothing listens on port 1 */
    CHECK_CODE(participate_unreachable(&receipt, identity, 2, 0, NULL), SECAGG_E_UNREACHABLE);
    CHECK(receipt.outcome == SECAGG_OUTCOME_NONE && strlen(receipt.message) > 0);

    /* the total timeout stops endless retries */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK_CODE(participate_unreachable(&receipt, identity, 1000, 300, NULL), SECAGG_E_TIMEOUT);
    CHECK(seconds_since(&start) < 10);

    /* another thread cancels a running call */
    struct cancel_call call = {.identity = identity, .result = -1};
    CHECK_CODE(secagg_cancel_create(&call.cancel), SECAGG_OK);
    pthread_t thread;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(pthread_create(&thread, NULL, run_cancellable, &call) == 0);
    usleep(300 * 1000);
    secagg_cancel_trigger(call.cancel);
    pthread_join(thread, NULL);
    CHECK_CODE(call.result, SECAGG_E_CANCELLED);
    CHECK(seconds_since(&start) < 10);
    /* a triggered handle cancels later calls at once */
    CHECK_CODE(participate_unreachable(&receipt, identity, 1000, 0, call.cancel), SECAGG_E_CANCELLED);
    secagg_cancel_trigger(call.cancel);
    secagg_cancel_free(call.cancel);
    secagg_cancel_trigger(NULL);
    secagg_cancel_free(NULL);
    CHECK_CODE(secagg_cancel_create(NULL), SECAGG_E_INVALID_ARGUMENT);

    secagg_identity_free(identity);
}

static void test_sans_io(void) {
    secagg_identity *identity = NULL;
    CHECK_CODE(secagg_identity_generate(&identity), SECAGG_OK);
    secagg_client *client = NULL;
    secagg_receipt receipt;
    uint8_t buffer[4096];
    size_t size = 0, length = 0;
    int phase = 99;

    /* with a task, the join request comes out first */
    CHECK_CODE(secagg_client_create(&client, identity, small_input, 3, NULL, "histogram"), SECAGG_OK);
    CHECK_CODE(secagg_client_next_message_size(&size, client), SECAGG_OK);
    CHECK(size > 0);
    CHECK_CODE(secagg_client_next_message(buffer, 1, &length, client), SECAGG_E_BUFFER_TOO_SMALL);
    CHECK(length == size);
    CHECK_CODE(secagg_client_next_message(NULL, sizeof buffer, &length, client), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_next_message(buffer, sizeof buffer, &length, client), SECAGG_OK);
    CHECK(length == size && memmem(buffer, length, "histogram", 9) != NULL);
    CHECK_CODE(secagg_client_next_message(buffer, sizeof buffer, &length, client), SECAGG_OK);
    CHECK(length == 0);
    CHECK_CODE(secagg_client_phase(&phase, client), SECAGG_OK);
    CHECK(phase == SECAGG_PHASE_NONE);
    CHECK_CODE(secagg_client_receipt(&receipt, client), SECAGG_E_STATE);
    CHECK(receipt.outcome == SECAGG_OUTCOME_NONE);
    /* a malformed join answer ends it */
    const uint8_t bad[] = {0xff, 0x00, 0x01};
    CHECK_CODE(secagg_client_handle(client, bad, sizeof bad), SECAGG_E_PROTOCOL);
    CHECK_CODE(secagg_client_receipt(&receipt, client), SECAGG_OK);
    CHECK(receipt.outcome == SECAGG_OUTCOME_ABORTED && receipt.abort_code == 0x0204 && receipt.has_round_id == 0);
    CHECK(strlen(receipt.message) > 0);
    CHECK_CODE(secagg_client_handle(client, bad, sizeof bad), SECAGG_E_STATE);
    CHECK_CODE(secagg_client_abort(client, 0x0206, "late"), SECAGG_E_STATE);
    secagg_client_free(client);

    /* without a task: a bad round message, then a truncated one, are refused */
    client = NULL;
    CHECK_CODE(secagg_client_create(&client, identity, small_input, 3, NULL, NULL), SECAGG_OK);
    CHECK_CODE(secagg_client_next_message_size(&size, client), SECAGG_OK);
    CHECK(size == 0);
    CHECK_CODE(secagg_client_handle(client, NULL, 5), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_handle(NULL, bad, sizeof bad), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_handle(client, bad, 0), SECAGG_E_PROTOCOL);
    CHECK_CODE(secagg_client_receipt(&receipt, client), SECAGG_OK);
    CHECK(receipt.outcome == SECAGG_OUTCOME_ABORTED && receipt.abort_code == 0x0204);
    CHECK_CODE(secagg_client_next_message_size(&size, client), SECAGG_OK);
    CHECK(size == 0); /* no round had started: nothing to tell the coordinator */
    secagg_client_free(client);

    /* the caller leaves before the round */
    client = NULL;
    CHECK_CODE(secagg_client_create(&client, identity, small_input, 3, NULL, NULL), SECAGG_OK);
    CHECK_CODE(secagg_client_abort(client, 0x9999, "no such code"), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_abort(client, 0x0206, "shutting down"), SECAGG_OK);
    CHECK_CODE(secagg_client_receipt(&receipt, client), SECAGG_OK);
    CHECK(receipt.outcome == SECAGG_OUTCOME_ABORTED && receipt.abort_code == 0x0206);
    CHECK(strcmp(receipt.message, "shutting down") == 0);
    secagg_client_free(client);

    /* invalid creation arguments */
    client = NULL;
    CHECK_CODE(secagg_client_create(NULL, identity, small_input, 3, NULL, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_create(&client, NULL, small_input, 3, NULL, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_create(&client, identity, NULL, 3, NULL, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK(client == NULL);
    CHECK_CODE(secagg_client_phase(NULL, NULL), SECAGG_E_INVALID_ARGUMENT);
    CHECK_CODE(secagg_client_receipt(NULL, NULL), SECAGG_E_INVALID_ARGUMENT);
    secagg_client_free(NULL);
    secagg_identity_free(identity);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void test_round(char **arguments) {
    const char *host = arguments[0];
    int port = atoi(arguments[1]);
    const char *key_hex = arguments[2];
    uint8_t coordinator[SECAGG_PUBLIC_KEY_BYTES];
    CHECK(strlen(key_hex) == 2 * SECAGG_PUBLIC_KEY_BYTES);
    for (int i = 0; i < SECAGG_PUBLIC_KEY_BYTES; i++) {
        coordinator[i] = (uint8_t)(hex_value(key_hex[2 * i]) << 4 | hex_value(key_hex[2 * i + 1]));
    }
    secagg_identity *identity = NULL;
    CHECK_CODE(secagg_identity_load(&identity, arguments[3]), SECAGG_OK);
    uint64_t input[64];
    size_t count = 0;
    for (char *cursor = arguments[5]; *cursor && count < 64;) {
        input[count++] = strtoull(cursor, &cursor, 10);
        if (*cursor == ',') cursor++;
    }
    secagg_participate_options options;
    secagg_participate_options_default(&options);
    options.connect_attempts = 20;
    options.total_timeout_ms = 120000;
    secagg_receipt receipt;

    /* Refusals before the round, each with its own code and a message saying why. */
    CHECK_CODE(secagg_participate(&receipt, identity, host, (uint16_t)port, coordinator, sizeof coordinator,
                                  "no-such-task", input, count, NULL, &options, NULL),
               SECAGG_E_UNKNOWN_TASK);
    CHECK(receipt.outcome == SECAGG_OUTCOME_NONE && strlen(receipt.message) > 0);
    secagg_identity *stranger = NULL;
    CHECK_CODE(secagg_identity_generate(&stranger), SECAGG_OK);
    CHECK_CODE(secagg_participate(&receipt, stranger, host, (uint16_t)port, coordinator, sizeof coordinator,
                                  arguments[4], input, count, NULL, &options, NULL),
               SECAGG_E_NOT_ENROLLED);
    CHECK(receipt.outcome == SECAGG_OUTCOME_NONE && strlen(receipt.message) > 0);
    secagg_identity_free(stranger);

    int result = secagg_participate(&receipt, identity, host, (uint16_t)port, coordinator, sizeof coordinator,
                                    arguments[4], input, count, NULL, &options, NULL);
    CHECK_CODE(result, SECAGG_OK);
    CHECK(receipt.outcome == SECAGG_OUTCOME_COMPLETED);
    CHECK(receipt.has_round_id == 1 && receipt.has_participant == 1);
    printf("round ");
    for (int i = 0; i < SECAGG_ROUND_ID_BYTES; i++) printf("%02x", receipt.round_id[i]);
    printf(": outcome %d, %u survivors, message '%s'\n", receipt.outcome, receipt.survivors, receipt.message);
    secagg_identity_free(identity);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 8) {
        fprintf(stderr, "usage: %s SCRATCH_DIR [HOST PORT COORDINATOR_KEY_HEX IDENTITY_FILE TASK V1,V2,...]\n", argv[0]);
        return 2;
    }
    scratch = argv[1];
    test_library();
    test_identity();
    test_participate_failures();
    test_sans_io();
    if (argc == 8) test_round(argv + 2);
    if (failures > 0) {
        fprintf(stderr, "secagg_test: %d check(s) failed\n", failures);
        return 1;
    }
    printf("secagg_test: all checks passed\n");
    return 0;
}
