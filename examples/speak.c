/*
 * speak: turn text into speech with CAMB.AI's streaming text-to-speech, written
 * to a file as it arrives.
 *
 *   usage: speak TEXT OUT_FILE [VOICE_ID [LANGUAGE [FORMAT [MODEL]]]]
 *
 * VOICE_ID defaults to 147320 (list the others with GET /list-voices), LANGUAGE
 * to en-us (a lower-case locale), FORMAT to wav (or flac, mp3, adts, pcm_s16le,
 * ...), MODEL to mars-flash (22050 Hz; mars-pro is 48000 Hz). The API key comes
 * from CAMB_API_KEY, the base URL from CAMB_BASE_URL (else the real service,
 * https://client.camb.ai/apis).
 *
 * camb_client_speak() hands each chunk of audio to a write callback on this
 * thread as the network delivers it; the callback appends it to the file. The
 * time from the call to the first chunk is printed when it comes (CLOCK_MONOTONIC).
 * A streamed WAV starts with a header whose sizes the server could not know
 * when it began (placeholders, often 0xFFFFFFFF): once the stream has ended, the
 * RIFF and data sizes are written into it, so that any player reads the file.
 * (camb_client_speak_to_file() does all of this in one call; this example shows
 * the streaming way.)
 *
 * The audio goes to a temporary file beside OUT_FILE, renamed over it once the
 * stream has ended well: a failed or cut stream leaves no partial file, and an
 * OUT_FILE that was there is left as it was.
 *
 * Output: "first audio after N ms", then "saved OUT_FILE: BYTES bytes of
 * FORMAT, RATE Hz, CHANNELS channel(s), in N ms" and "credits: N" (or "credits:
 * not reported").
 *
 * Exit status: 0 when the file was saved, 1 when a call or a write failed, 2 on
 * bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "camb.h"

/* What the write callback needs: the file, and when the call began. */
typedef struct {
    FILE *file;
    struct timespec started;
    bool got_audio;  /* the first chunk has come */
    int write_error; /* an errno, when writing to the file failed */
} sink;

static long ms_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)((now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000);
}

/* Called by libcamb on this thread with each chunk, in order, as it arrives.
 * Returning false stops the stream (camb_client_speak() then returns
 * CAMB_RESULT_CANCELLED). */
static bool on_audio(const uint8_t *data, size_t len, const camb_speech_info *info,
                     void *user_data) {
    sink *out = user_data;
    (void)info; /* info->bytes counts the audio so far, this chunk included */
    if (!out->got_audio) {
        out->got_audio = true;
        printf("first audio after %ld ms\n", ms_since(&out->started));
        fflush(stdout);
    }
    if (fwrite(data, 1, len, out->file) != len) {
        out->write_error = errno != 0 ? errno : EIO;
        return false;
    }
    return true;
}

static void put_u32(uint8_t *at, uint64_t value) {
    uint32_t v = value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
    at[0] = (uint8_t)v;
    at[1] = (uint8_t)(v >> 8);
    at[2] = (uint8_t)(v >> 16);
    at[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *at) {
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
}

/* Writes the real sizes into the header of the WAV file `file` of `total` bytes:
 * the RIFF size at offset 4, and the size of the data chunk, found by walking
 * the chunks after "WAVE" (the data chunk is the last: its own size may be a
 * placeholder). Returns NULL, or why it could not. */
static const char *fix_wav_sizes(FILE *file, uint64_t total) {
    uint8_t bytes[12];
    if (fseek(file, 0, SEEK_SET) != 0 || fread(bytes, 1, 12, file) != 12) {
        return "the file is too short for a WAV header";
    }
    if (memcmp(bytes, "RIFF", 4) != 0 || memcmp(bytes + 8, "WAVE", 4) != 0) {
        return "the audio does not start with a RIFF/WAVE header";
    }
    uint64_t at = 12; /* the next chunk's header */
    while (at + 8 <= total) {
        if (fseek(file, (long)at, SEEK_SET) != 0 || fread(bytes, 1, 8, file) != 8) {
            return strerror(errno);
        }
        if (memcmp(bytes, "data", 4) == 0) {
            uint8_t size[4];
            put_u32(size, total - (at + 8));
            if (fseek(file, (long)at + 4, SEEK_SET) != 0 || fwrite(size, 1, 4, file) != 4) {
                return strerror(errno);
            }
            put_u32(size, total - 8);
            if (fseek(file, 4, SEEK_SET) != 0 || fwrite(size, 1, 4, file) != 4) {
                return strerror(errno);
            }
            return NULL;
        }
        uint32_t size = get_u32(bytes + 4);
        at += 8 + (uint64_t)size + (size & 1); /* chunks are padded to an even size */
    }
    return "the WAV header has no data chunk";
}

static int usage(const char *program) {
    fprintf(stderr,
            "usage: %s TEXT OUT_FILE [VOICE_ID [LANGUAGE [FORMAT [MODEL]]]]\n"
            "  defaults: voice 147320, language en-us, format wav, model mars-flash\n"
            "(the API key is read from CAMB_API_KEY, the base URL from CAMB_BASE_URL)\n",
            program);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 7) {
        return usage(argv[0]);
    }
    const char *text = argv[1];
    const char *out_path = argv[2];
    int64_t voice_id = 147320;
    if (argc > 3) {
        char *end = NULL;
        errno = 0;
        long long parsed = strtoll(argv[3], &end, 10);
        if (errno != 0 || end == argv[3] || *end != '\0') {
            fprintf(stderr, "speak: the voice id is not a number: %s\n", argv[3]);
            return usage(argv[0]);
        }
        voice_id = (int64_t)parsed;
    }
    const char *language = argc > 4 ? argv[4] : "en-us";
    camb_speech_options options = camb_speech_options_default();
    options.format = argc > 5 ? argv[5] : NULL; /* NULL: wav */
    options.speech_model = argc > 6 ? argv[6] : "mars-flash";

    /* The mode of a new file (mkstemp() makes it 0600), read before any thread starts. */
    mode_t mask = umask(0);
    umask(mask);

    /* The key from CAMB_API_KEY, the base URL from CAMB_BASE_URL (read by the build). */
    camb_client *client = NULL;
    camb_result result = camb_client_new(NULL, &client);
    if (result != CAMB_RESULT_OK) {
        fprintf(stderr, "speak: creating the client failed: %s: %s\n", camb_result_name(result),
                camb_last_error());
        return 1;
    }

    /* A temporary file beside OUT_FILE (same directory, so the rename is atomic). */
    size_t path_len = strlen(out_path);
    char *temp_path = malloc(path_len + sizeof ".XXXXXX");
    if (temp_path == NULL) {
        fprintf(stderr, "speak: out of memory\n");
        camb_client_free(client);
        return 1;
    }
    memcpy(temp_path, out_path, path_len);
    memcpy(temp_path + path_len, ".XXXXXX", sizeof ".XXXXXX");
    int fd = mkstemp(temp_path);
    FILE *file = fd >= 0 && fchmod(fd, 0666 & ~mask) == 0 ? fdopen(fd, "w+b") : NULL;
    if (file == NULL) {
        fprintf(stderr, "speak: cannot create a file beside %s: %s\n", out_path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            remove(temp_path);
        }
        free(temp_path);
        camb_client_free(client);
        return 1;
    }

    int exit_status = 1;
    sink out = {.file = file, .got_audio = false, .write_error = 0};
    camb_speech_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info; /* libcamb fills what lies within it */
    clock_gettime(CLOCK_MONOTONIC, &out.started);
    result = camb_client_speak(client, text, language, voice_id, &options, NULL, on_audio, &out,
                               &info);
    long total_ms = ms_since(&out.started);
    if (out.write_error != 0) {
        /* on_audio stopped the stream: the call says CANCELLED, the file says why. */
        fprintf(stderr, "speak: writing %s failed: %s\n", temp_path, strerror(out.write_error));
        goto done;
    }
    if (result != CAMB_RESULT_OK) {
        /* The server's own words: a 422 names the field it refused, a 404 the
         * voice; a stream cut short says after how many bytes. */
        fprintf(stderr, "speak: speaking failed: %s: %s\n", camb_result_name(result),
                camb_last_error());
        goto done;
    }
    if (fflush(file) != 0 || ferror(file)) {
        fprintf(stderr, "speak: writing %s failed: %s\n", temp_path, strerror(errno));
        goto done;
    }
    if (strcmp(info.format, "wav") == 0) {
        const char *why = fix_wav_sizes(file, info.bytes);
        if (why != NULL) {
            fprintf(stderr, "speak: cannot fix the sizes in the WAV header of %s: %s\n",
                    temp_path, why);
            goto done;
        }
    }
    FILE *closing = file;
    file = NULL;
    /* On disk before the rename: a crash then leaves the old file or the new one. */
    if (fsync(fileno(closing)) != 0) {
        fprintf(stderr, "speak: flushing %s failed: %s\n", temp_path, strerror(errno));
        fclose(closing);
        goto done;
    }
    if (fclose(closing) != 0) {
        fprintf(stderr, "speak: writing %s failed: %s\n", temp_path, strerror(errno));
        goto done;
    }
    if (rename(temp_path, out_path) != 0) {
        fprintf(stderr, "speak: cannot rename %s to %s: %s\n", temp_path, out_path,
                strerror(errno));
        goto done;
    }
    printf("saved %s: %" PRIu64 " bytes of %s, %" PRIu32 " Hz, %" PRIu32 " channel%s, in %ld ms\n",
           out_path, info.bytes, info.format, info.sample_rate, info.channels,
           info.channels == 1 ? "" : "s", total_ms);
    if (info.has_credits) {
        printf("credits: %g\n", info.credits);
    } else {
        printf("credits: not reported\n");
    }
    exit_status = 0;

done:
    if (exit_status != 0) {
        if (file != NULL) {
            fclose(file);
        }
        remove(temp_path); /* no partial file */
    }
    free(temp_path);
    camb_client_free(client);
    return exit_status;
}
