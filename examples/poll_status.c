/*
 * poll_status: watch a text-to-sound task until it finishes.
 *
 *   usage: poll_status TASK_ID [BASE_URL] [POLL_SECONDS]
 *
 * A C port of the Python polling script on CAMB's "Get Sound and Music Task
 * Status" page, done right:
 * - it stops on every final status (SUCCESS, ERROR, TIMEOUT, PAYMENT_REQUIRED and
 *   any status this version does not know), where the original stopped only on
 *   SUCCESS and on "FAILED", which the API never sends, and so spun forever;
 * - it has an overall deadline (10 minutes) and backs off between polls;
 * - transient failures (connection, 429, 5xx) are retried by libcamb within the
 *   deadline, while a wrong key or an unknown task stops it at once;
 * - on success it asks for the audio's URL, which the original printed without
 *   ever having fetched it.
 *
 * The API key comes from CAMB_API_KEY. Exit status: 0 on SUCCESS, 1 otherwise,
 * 2 on bad usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "camb.h"

/* Prints a line when the status changes, like the original script. */
static bool on_poll(const camb_wait_progress *progress, void *user_data) {
    (void)user_data;
    if (progress->poll_result == CAMB_RESULT_OK && progress->status_changed) {
        printf("[%.1fs] Status: %.*s\n", progress->elapsed_ms / 1000.0,
               (int)progress->status_text_len, progress->status_text);
    } else if (progress->poll_result != CAMB_RESULT_OK) {
        printf("[%.1fs] Error checking generation status (retrying): %.*s\n",
               progress->elapsed_ms / 1000.0, (int)progress->error_message_len,
               progress->error_message);
    }
    fflush(stdout);
    return true;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s TASK_ID [BASE_URL] [POLL_SECONDS]\n", argv[0]);
        return 2;
    }
    const char *task_id = argv[1];
    double poll_seconds = argc == 4 ? strtod(argv[3], NULL) : 3.0;

    camb_client_builder *builder = camb_client_builder_new();
    if (builder == NULL) {
        return 1;
    }
    if (argc >= 3 && camb_client_builder_set_base_url(builder, argv[2]) != CAMB_RESULT_OK) {
        fprintf(stderr, "bad base URL: %s\n", camb_last_error());
        camb_client_builder_free(builder);
        return 2;
    }
    camb_client *client = NULL;
    camb_result result = camb_client_builder_build(builder, &client);
    if (result != CAMB_RESULT_OK) {
        fprintf(stderr, "%s: %s\n", camb_result_name(result), camb_last_error());
        return 1;
    }

    printf("Beginning status monitoring for task: %s\n", task_id);
    camb_wait_options options = camb_wait_options_default();
    options.initial_interval_ms = (uint64_t)(poll_seconds * 1000.0);
    if (options.max_interval_ms < options.initial_interval_ms) {
        options.max_interval_ms = options.initial_interval_ms;
    }
    options.deadline_ms = 10 * 60 * 1000;

    int exit_status = 1;
    camb_task *task = NULL; /* ours: freed with camb_task_free() */
    result = camb_client_wait_for_task(client, task_id, &options, NULL, on_poll, NULL, &task);
    if (result != CAMB_RESULT_OK) {
        fprintf(stderr, "Stopped: %s: %s\n", camb_result_name(result), camb_last_error());
    } else if (camb_task_status(task) == CAMB_STATUS_SUCCESS) {
        printf("\nSound generation completed successfully!\n");
        int64_t run_id = 0;
        char *url = NULL; /* ours: freed with camb_string_free() */
        if (!camb_task_run_id(task, &run_id)) {
            fprintf(stderr, "The server gave no run id\n");
        } else {
            printf("Run ID : %" PRId64 "\n", run_id);
            result = camb_client_get_audio_url(client, run_id, NULL, &url, NULL);
            if (result == CAMB_RESULT_OK) {
                printf("Audio URL : %s\n", url);
                camb_string_free(url);
                exit_status = 0;
            } else {
                fprintf(stderr, "Could not get the audio URL: %s\n", camb_last_error());
            }
        }
    } else {
        size_t len = 0;
        const char *text = camb_task_status_text(task, &len);
        printf("\nSound generation ended in %.*s", (int)len, text);
        const char *reason = camb_task_exception_reason(task, &len);
        if (reason != NULL) {
            printf(" (%.*s)", (int)len, reason);
        }
        const char *message = camb_task_message(task, &len);
        printf(": %.*s\n", message != NULL ? (int)len : 13,
               message != NULL ? message : "Unknown error");
    }
    camb_task_free(task);
    camb_client_free(client);
    return exit_status;
}
