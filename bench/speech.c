/*
 * The speech benchmark's client side (scripts/bench.sh, section 14), against the
 * emulator. Each mode prints key=value lines for the script.
 *
 *   speech --url URL --mode first-byte --client libcamb|libcamb-job|curl --count N
 *       N streams one after the other; for each, the CLOCK_MONOTONIC time (ns)
 *       at which its first audio byte reached the caller: `first_byte_ns=T`,
 *       in order. The script pairs them with the emulator's record of its
 *       first write (GET /_emulator/stats, tts_streams, same order).
 *       libcamb: camb_client_speak(), the first call of the write callback.
 *       libcamb-job: camb_client_job_speak() on a queue watched with poll(2), the
 *       first camb_job_read_audio() that gives bytes.
 *       curl: the same JSON body posted with libcurl, its first write callback.
 *   speech --url URL --mode cpu --client libcamb|curl --count N --seconds S
 *       N streams of S seconds of audio each through camb_client_speak() (or
 *       libcurl, the same body), the emulator sending as fast as it can: the
 *       process's CPU time (user + system, and system alone) and the seconds of
 *       audio: `cpu_s=`, `sys_s=`, `audio_s=`, `bytes=`.
 *   speech --url URL --mode slow-reader --seconds S --read-rate BYTES_PER_S
 *       One camb_client_job_speak() stream of S seconds of audio, read with
 *       camb_job_read_audio() no faster than BYTES_PER_S while the emulator
 *       sends as fast as it can: the process's RSS (kB) sampled after every
 *       tenth of the audio, `rss_kb=...` lines, then `bytes=`.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "camb.h"

#define VOICE 147320
#define TEXT "Streaming speech, measured from the first byte the server writes."
#define KEY "camb-emulator-key"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "speech: %s: %s\n", what, camb_last_error());
  exit(1);
}

static camb_client *make_client(const char *url) {
  camb_client_builder *builder = camb_client_builder_new();
  camb_client *client = NULL;
  if (camb_client_builder_set_api_key(builder, KEY) != CAMB_RESULT_OK ||
      camb_client_builder_set_base_url(builder, url) != CAMB_RESULT_OK ||
      camb_client_builder_set_timeout_ms(builder, 60000) != CAMB_RESULT_OK ||
      camb_client_builder_build(builder, &client) != CAMB_RESULT_OK) {
    die("client");
  }
  return client;
}

struct first_byte {
  uint64_t at_ns;
  uint64_t bytes;
};

static bool note_first(const uint8_t *data, size_t len, const camb_speech_info *info,
                       void *user_data) {
  (void)data;
  (void)info;
  struct first_byte *seen = user_data;
  if (seen->at_ns == 0) seen->at_ns = now_ns();
  seen->bytes += len;
  return true;
}

static size_t curl_first(char *data, size_t size, size_t count, void *user_data) {
  (void)data;
  struct first_byte *seen = user_data;
  if (seen->at_ns == 0) seen->at_ns = now_ns();
  seen->bytes += size * count;
  return size * count;
}

static void first_byte_libcamb(const char *url, int count) {
  camb_client *client = make_client(url);
  for (int i = 0; i < count; i++) {
    struct first_byte seen = {0, 0};
    if (camb_client_speak(client, TEXT, "en-us", VOICE, NULL, NULL, note_first, &seen, NULL) !=
        CAMB_RESULT_OK) {
      die("speak");
    }
    printf("first_byte_ns=%llu\n", (unsigned long long)seen.at_ns);
  }
  camb_client_free(client);
}

/* The job form, as an event loop uses it: poll(2) on the queue's descriptor,
 * take the data event, read the audio with camb_job_read_audio(). */
static void first_byte_job(const char *url, int count) {
  camb_client *client = make_client(url);
  camb_queue *queue = NULL;
  if (camb_queue_new(&queue) != CAMB_RESULT_OK) die("queue");
  struct pollfd ready = {(int)camb_queue_fd(queue), POLLIN, 0};
  static uint8_t buffer[65536];
  for (int i = 0; i < count; i++) {
    camb_job *job = NULL;
    if (camb_client_job_speak(client, TEXT, "en-us", VOICE, NULL, &job) != CAMB_RESULT_OK ||
        camb_job_submit(job, queue, NULL) != CAMB_RESULT_OK) {
      die("job");
    }
    uint64_t first = 0;
    bool done = false;
    while (!done) {
      if (poll(&ready, 1, 60000) != 1) die("poll");
      camb_event event;
      camb_job *which = NULL;
      while (camb_queue_pop(queue, &event, &which) == CAMB_RESULT_OK) {
        if (event == CAMB_EVENT_JOB_DONE) done = true;
        size_t read = 0;
        while (camb_job_read_audio(job, buffer, sizeof buffer, &read) == CAMB_RESULT_OK &&
               read > 0) {
          if (first == 0) first = now_ns();
        }
      }
    }
    if (camb_job_result(job) != CAMB_RESULT_OK) die("speech job");
    camb_job_free(job);
    printf("first_byte_ns=%llu\n", (unsigned long long)first);
  }
  camb_queue_free(queue);
  camb_client_free(client);
}

static void first_byte_curl(const char *url, int count) {
  char endpoint[512];
  snprintf(endpoint, sizeof endpoint, "%s/tts-stream", url);
  const char *body =
      "{\"text\":\"" TEXT "\",\"language\":\"en-us\",\"voice_id\":147320,"
      "\"output_configuration\":{\"format\":\"wav\"}}";
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "x-api-key: " KEY);
  headers = curl_slist_append(headers, "content-type: application/json");
  for (int i = 0; i < count; i++) {
    struct first_byte seen = {0, 0};
    curl_easy_setopt(curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_first);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
      fprintf(stderr, "speech: curl: %s\n", curl_easy_strerror(code));
      exit(1);
    }
    printf("first_byte_ns=%llu\n", (unsigned long long)seen.at_ns);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
}

static double cpu_seconds(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static double sys_seconds(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void cpu(const char *url, const char *which, int count, double seconds) {
  camb_client *client = make_client(url);
  camb_speech_options options = camb_speech_options_default();
  options.duration_s = seconds;
  options.speech_model = "mars-flash";
  char endpoint[512], body[512];
  snprintf(endpoint, sizeof endpoint, "%s/tts-stream", url);
  snprintf(body, sizeof body,
           "{\"text\":\"" TEXT "\",\"language\":\"en-us\",\"voice_id\":147320,"
           "\"speech_model\":\"mars-flash\",\"output_configuration\":{\"format\":\"wav\","
           "\"duration\":%g}}",
           seconds);
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "x-api-key: " KEY);
  headers = curl_slist_append(headers, "content-type: application/json");
  double before = cpu_seconds(), sys_before = sys_seconds();
  uint64_t bytes = 0;
  for (int i = 0; i < count; i++) {
    struct first_byte seen = {0, 0};
    if (!strcmp(which, "curl")) {
      curl_easy_setopt(curl, CURLOPT_URL, endpoint);
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_first);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
      if (curl_easy_perform(curl) != CURLE_OK) die("curl");
    } else if (camb_client_speak(client, TEXT, "en-us", VOICE, &options, NULL, note_first, &seen,
                                 NULL) != CAMB_RESULT_OK) {
      die("speak");
    }
    bytes += seen.bytes;
  }
  printf("cpu_s=%.6f\nsys_s=%.6f\naudio_s=%.3f\nbytes=%llu\n", cpu_seconds() - before,
         sys_seconds() - sys_before, count * seconds, (unsigned long long)bytes);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  camb_client_free(client);
}

static long rss_kb(void) {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (status && fgets(line, sizeof line, status)) {
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  }
  if (status) fclose(status);
  return kb;
}

static void slow_reader(const char *url, double seconds, double rate) {
  camb_client *client = make_client(url);
  camb_speech_options options = camb_speech_options_default();
  options.duration_s = seconds;
  options.speech_model = "mars-flash";
  options.format = "pcm_s16le";
  const uint64_t expected = (uint64_t)(seconds * 22050) * 2;
  camb_job *job = NULL;
  camb_queue *queue = NULL;
  if (camb_client_job_speak(client, TEXT, "en-us", VOICE, &options, &job) != CAMB_RESULT_OK ||
      camb_queue_new(&queue) != CAMB_RESULT_OK ||
      camb_job_submit(job, queue, NULL) != CAMB_RESULT_OK) {
    die("job");
  }
  static uint8_t buffer[16384];
  uint64_t bytes = 0, next_sample = 0;
  const uint64_t started = now_ns();
  bool done = false;
  while (!done) {
    camb_event event;
    camb_job *which = NULL;
    if (camb_queue_wait(queue, 60000, &event, &which) != CAMB_RESULT_OK) die("wait");
    done = event == CAMB_EVENT_JOB_DONE;
    for (;;) {
      size_t read = 0;
      if (camb_job_read_audio(job, buffer, sizeof buffer, &read) != CAMB_RESULT_OK) die("read");
      if (read == 0) break;
      bytes += read;
      /* Hold the pace: no faster than `rate` bytes per second overall. */
      uint64_t due = started + (uint64_t)(bytes / rate * 1e9);
      uint64_t now = now_ns();
      if (due > now) {
        struct timespec pause = {(time_t)((due - now) / 1000000000u),
                                 (long)((due - now) % 1000000000u)};
        nanosleep(&pause, NULL);
      }
      if (bytes >= next_sample) {
        printf("rss_kb=%ld at_bytes=%llu\n", rss_kb(), (unsigned long long)bytes);
        next_sample += expected / 10;
      }
    }
  }
  if (camb_job_result(job) != CAMB_RESULT_OK) {
    fprintf(stderr, "speech: the stream failed: %s\n", camb_job_error(job, NULL));
    exit(1);
  }
  printf("rss_kb=%ld at_bytes=%llu\nbytes=%llu\nexpected=%llu\n", rss_kb(),
         (unsigned long long)bytes, (unsigned long long)bytes, (unsigned long long)expected);
  camb_job_free(job);
  camb_queue_free(queue);
  camb_client_free(client);
}

int main(int argc, char **argv) {
  const char *url = NULL, *mode = NULL, *which = "libcamb";
  int count = 20;
  double seconds = 10, rate = 1e6;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--url")) url = argv[i + 1];
    else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
    else if (!strcmp(argv[i], "--client")) which = argv[i + 1];
    else if (!strcmp(argv[i], "--count")) count = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--read-rate")) rate = atof(argv[i + 1]);
  }
  if (!url || !mode) {
    fprintf(stderr, "usage: speech --url URL --mode first-byte|cpu|slow-reader ...\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(mode, "first-byte") && !strcmp(which, "curl")) first_byte_curl(url, count);
  else if (!strcmp(mode, "first-byte") && !strcmp(which, "libcamb-job")) first_byte_job(url, count);
  else if (!strcmp(mode, "first-byte")) first_byte_libcamb(url, count);
  else if (!strcmp(mode, "cpu")) cpu(url, which, count, seconds);
  else if (!strcmp(mode, "slow-reader")) slow_reader(url, seconds, rate);
  else return 2;
  return 0;
}
