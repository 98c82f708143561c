// speech_cases: streaming text-to-speech, voices and languages through camb.hpp.
// Client::speak() with a sink (a WAV at the model's rate), camb::SpeechReader
// (every byte of a raw PCM stream read slowly, from an event loop on its fd, on a
// program's JobQueue and on one with its own thread; cancelled mid-stream;
// destroyed mid-stream), Client::speak_to_file() (WAV sizes fixed; an existing
// file left as it was when the stream is cut), the server's 422 and 404 in its
// own words, the wrapper's own refusals, and the lists of voices and languages
// (blocking, as futures, as Jobs). Under valgrind (tests/cpp.rs,
// nothing_leaks_under_valgrind) a job, record or list freed twice or never would
// show, and so would audio read from a job after it was freed.
//
//   usage: speech_cases BASE_URL API_KEY TMPDIR    (run with CAMB_API_KEY unset)
//
// The emulator at BASE_URL must serve /tts-stream (any pacing; tests/cpp.rs runs
// it with --tts-pace 0). Faults (a stream cut after N bytes) are planted through
// its control API, POST /_emulator/faults, each taken by the next speech.
//
// Built by tests/cpp/CMakeLists.txt and run by its ctest (through run_test.cmake).
// Prints "FAIL line N: ..." for each failed check, then "speech checks: all N ok"
// and exits 0, or exits 1.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "camb.hpp"

static_assert(!std::is_copy_constructible_v<camb::SpeechReader>);
static_assert(!std::is_copy_assignable_v<camb::SpeechReader>);
static_assert(std::is_nothrow_move_constructible_v<camb::SpeechReader>);
static_assert(std::is_nothrow_move_assignable_v<camb::SpeechReader>);

#define q() std::declval<camb::JobQueue&>()
#define c() std::declval<const camb::Client&>()
static_assert(std::is_same_v<decltype(c().speak("", "", 1, camb::SpeechSink())), camb::SpeechInfo>);
static_assert(std::is_same_v<decltype(c().speak_to_file("", "", 1, "")), camb::SpeechInfo>);
static_assert(std::is_same_v<decltype(c().list_voices()), std::vector<camb::Voice>>);
static_assert(std::is_same_v<decltype(c().list_languages(camb::Languages::Source)),
                             std::vector<camb::Language>>);
static_assert(std::is_same_v<decltype(c().speak_to_file_async("", "", 1, "", q())),
                             std::future<camb::SpeechInfo>>);
static_assert(
    std::is_same_v<decltype(c().list_voices_async(q())), std::future<std::vector<camb::Voice>>>);
static_assert(std::is_same_v<decltype(c().job_list_languages(camb::Languages::Target)),
                             camb::Job<std::vector<camb::Language>>>);
static_assert(
    std::is_same_v<decltype(std::declval<camb::SpeechReader&>().read(nullptr, 0)), std::size_t>);
static_assert(std::is_same_v<decltype(std::declval<camb::SpeechReader&>().fd()), int>);
#undef q
#undef c

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                             \
    do {                                                        \
        ++checks;                                               \
        if (!(cond)) {                                          \
            ++failures;                                         \
            std::printf("FAIL line %d: %s\n", __LINE__, #cond); \
        }                                                       \
    } while (0)

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

static const std::int64_t kVoice = 147320;  // the voice of CAMB's docs
static const char* const kText = "Hello from the speech cases of camb.hpp";

// True when f throws exactly an E (or subclass) with this code (and HTTP status,
// unless http < 0, and words); prints what happened otherwise.
template <class E, class F>
static bool throws(F&& f, camb_result code, int http = -1, const char* contains = nullptr) {
    try {
        f();
    } catch (const E& e) {
        bool ok =
            e.code() == code && (http < 0 || e.http_status() == http) &&
            (contains == nullptr || std::string(e.what()).find(contains) != std::string::npos);
        if (!ok) {
            std::printf("  got %s (HTTP %u): %s\n", e.code_name(), unsigned(e.http_status()),
                        e.what());
        }
        return ok;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return false;
    }
    std::printf("  nothing was thrown\n");
    return false;
}

static bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

static long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

static std::string file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static bool exists(const std::string& path) { return std::ifstream(path).good(); }

static std::uint32_t u32_at(const std::string& b, std::size_t i) {
    return std::uint32_t(std::uint8_t(b[i])) | std::uint32_t(std::uint8_t(b[i + 1])) << 8 |
           std::uint32_t(std::uint8_t(b[i + 2])) << 16 |
           std::uint32_t(std::uint8_t(b[i + 3])) << 24;
}

static std::uint16_t u16_at(const std::string& b, std::size_t i) {
    return std::uint16_t(std::uint8_t(b[i]) | std::uint8_t(b[i + 1]) << 8);
}

// A WAV's format and where its data chunk is, walking its chunks.
struct Wav {
    bool ok = false;
    std::uint16_t channels = 0;
    std::uint32_t rate = 0;
    std::uint16_t bits = 0;
    std::uint32_t riff_size = 0;
    std::size_t data_at = 0;  // the first byte of audio
    std::uint32_t data_size = 0;
};

static Wav parse_wav(const std::string& b) {
    Wav wav;
    if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0) {
        return wav;
    }
    wav.riff_size = u32_at(b, 4);
    std::size_t at = 12;
    bool format = false;
    while (at + 8 <= b.size()) {
        const std::string id = b.substr(at, 4);
        const std::uint32_t size = u32_at(b, at + 4);
        if (id == "fmt " && at + 24 <= b.size()) {
            wav.channels = u16_at(b, at + 10);
            wav.rate = u32_at(b, at + 12);
            wav.bits = u16_at(b, at + 22);
            format = true;
        } else if (id == "data") {
            wav.data_at = at + 8;
            wav.data_size = size;
            wav.ok = format;
            return wav;
        }
        at += 8 + std::size_t(size) + (size & 1);
    }
    return wav;
}

// A WAV file with the real sizes in its header.
static bool sized_wav(const std::string& b, std::uint32_t rate) {
    const Wav wav = parse_wav(b);
    const bool ok = wav.ok && wav.rate == rate && wav.channels == 1 && wav.bits == 16 &&
                    wav.riff_size == b.size() - 8 && wav.data_size == b.size() - wav.data_at;
    if (!ok) {
        std::printf(
            "  WAV of %zu bytes: ok %d rate %u channels %u bits %u riff %u data %u at %zu\n",
            b.size(), int(wav.ok), wav.rate, unsigned(wav.channels), unsigned(wav.bits),
            wav.riff_size, wav.data_size, wav.data_at);
    }
    return ok;
}

// A streamed WAV: its header, with whatever sizes the server put there.
static bool streamed_wav(const std::string& b, std::uint32_t rate) {
    const Wav wav = parse_wav(b);
    return wav.ok && wav.rate == rate && wav.channels == 1 && wav.bits == 16 &&
           b.size() > wav.data_at;
}

// POSTs a JSON body to the emulator's control API (no key); true on a 2xx.
static bool control(const std::string& base, const std::string& path, const std::string& body) {
    const std::string rest = base.substr(base.find("://") + 3);
    const std::size_t colon = rest.find(':');
    std::string host = rest.substr(0, colon);
    const int port = colon == std::string::npos ? 80 : std::atoi(rest.c_str() + colon + 1);
    if (host == "localhost") host = "127.0.0.1";
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return false;
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return false;
    bool ok = false;
    if (::connect(s, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        const std::string request =
            "POST " + path + " HTTP/1.1\r\nHost: " + host +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body;
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(s, request.data() + sent, request.size() - sent, 0);
            if (n <= 0) break;
            sent += std::size_t(n);
        }
        std::string reply;
        char buffer[1024];
        ssize_t n = 0;
        while ((n = ::recv(s, buffer, sizeof buffer, 0)) > 0) reply.append(buffer, std::size_t(n));
        ok = reply.rfind("HTTP/1.1 2", 0) == 0;
        if (!ok) std::printf("  control %s: %s\n", path.c_str(), reply.c_str());
    }
    ::close(s);
    return ok;
}

// The next speech's stream is cut after `bytes` body bytes (with a Content-Length
// of its full size when `declare_length`).
static bool cut_next_stream(const std::string& base, int bytes, bool declare_length = false) {
    return control(base, "/_emulator/faults",
                   "{\"path_prefix\":\"/tts-stream\",\"times\":1,\"cut_after_bytes\":" +
                       std::to_string(bytes) +
                       ",\"declare_length\":" + (declare_length ? "true" : "false") + "}");
}

// Everything client.speak() hands its sink, in order.
static std::string spoken(const camb::Client& client, const camb::SpeechOptions& options,
                          const std::string& text = kText) {
    std::string audio;
    client.speak(text, "en-us", kVoice, options,
                 [&](const std::uint8_t* data, std::size_t len, const camb::SpeechInfo&) {
                     audio.append(reinterpret_cast<const char*>(data), len);
                     return true;
                 });
    return audio;
}

// Reads a reader to its end with read_some(), `pause` after each read.
static std::string read_all(camb::SpeechReader& reader, std::size_t chunk = 4096,
                            milliseconds pause = milliseconds(0)) {
    std::string audio;
    std::vector<std::uint8_t> buffer(chunk);
    const auto start = Clock::now();
    while (ms_since(start) < 120000) {
        const std::size_t n = reader.read_some(buffer.data(), buffer.size(), seconds(60));
        if (n == 0 && reader.done()) break;
        audio.append(reinterpret_cast<const char*>(buffer.data()), n);
        if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    return audio;
}

static bool same(const std::vector<camb::Language>& a, const std::vector<camb::Language>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].id != b[i].id || a[i].name != b[i].name || a[i].short_name != b[i].short_name)
            return false;
    }
    return true;
}

static bool same(const std::vector<camb::Voice>& a, const std::vector<camb::Voice>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].id != b[i].id || a[i].name != b[i].name || a[i].gender != b[i].gender ||
            a[i].age != b[i].age || a[i].language != b[i].language ||
            a[i].transcript != b[i].transcript || a[i].description != b[i].description ||
            a[i].signed_url != b[i].signed_url || a[i].is_published != b[i].is_published)
            return false;
    }
    return true;
}

static const camb::Language* find(const std::vector<camb::Language>& list, const char* locale) {
    for (const camb::Language& l : list)
        if (l.short_name == locale) return &l;
    return nullptr;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: speech_cases BASE_URL API_KEY TMPDIR\n");
        return 2;
    }
    const std::string base = argv[1], key = argv[2], dir = argv[3];
    camb::ClientOptions opts;
    opts.base_url = base;
    opts.api_key = key;
    opts.timeout = seconds(30);
    // Declared before the clients: a client goes first and cancels its jobs.
    camb::JobQueue queue;
    const camb::Client client(opts);

    camb::SpeechOptions flash;
    flash.speech_model = "mars-flash";
    camb::SpeechOptions one_second = flash;  // 22050 samples of 16 bits
    one_second.duration_s = 1.0;

    // --- voices and languages: blocking, as futures, as Jobs -------------------
    {
        const std::vector<camb::Voice> voices = client.list_voices();
        CHECK(!voices.empty());
        bool docs_voice = false;
        for (const camb::Voice& v : voices) {
            CHECK(!v.name.empty());
            CHECK(!v.gender || *v.gender == 0 || *v.gender == 1 || *v.gender == 2 ||
                  *v.gender == 9);
            if (v.id == kVoice) docs_voice = true;
        }
        CHECK(docs_voice);
        const std::vector<camb::Language> source = client.source_languages();
        const std::vector<camb::Language> target = client.target_languages();
        CHECK(!source.empty() && !target.empty());
        for (const auto* list : {&source, &target}) {
            const camb::Language* en = find(*list, "en-us");
            CHECK(en != nullptr && en->id == 1 && !en->name.empty());
        }
        CHECK(same(client.list_languages(camb::Languages::Source), source));
        CHECK(same(client.list_languages(camb::Languages::Target), target));

        CHECK(same(queue.get(client.list_voices_async(queue)), voices));
        CHECK(same(queue.get(client.list_languages_async(camb::Languages::Source, queue)), source));
        camb::Job<std::vector<camb::Language>> job =
            client.job_list_languages(camb::Languages::Target);
        CHECK(job.kind() == camb::JobKind::ListLanguages);
        CHECK(same(queue.get(job.submit(queue)), target));
        camb::Job<std::vector<camb::Voice>> voice_job = client.job_list_voices();
        CHECK(voice_job.kind() == camb::JobKind::ListVoices);
        CHECK(same(queue.get(voice_job.submit(queue)), voices));
        CHECK(throws<camb::Error>([&] { client.list_languages(static_cast<camb::Languages>(7)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));

        camb::ClientOptions wrong_key = opts;
        wrong_key.api_key = "wrong-key";
        const camb::Client wrong(wrong_key);
        CHECK(throws<camb::Unauthorized>([&] { wrong.list_voices(); }, CAMB_RESULT_UNAUTHORIZED,
                                         401));
        std::future<std::vector<camb::Language>> refused =
            wrong.list_languages_async(camb::Languages::Target, queue);
        CHECK(queue.dispatch_until(refused, seconds(60)));
        CHECK(throws<camb::Unauthorized>([&] { refused.get(); }, CAMB_RESULT_UNAUTHORIZED, 401));
    }

    // --- speak(): the sink gets a WAV at the model's rate, chunk by chunk --------
    {
        std::string audio;
        std::size_t chunks = 0;
        bool counted = true;  // each chunk's info counts the bytes so far
        const camb::SpeechInfo info =
            client.speak(kText, "en-us", kVoice, flash,
                         [&](const std::uint8_t* data, std::size_t len, const camb::SpeechInfo& i) {
                             audio.append(reinterpret_cast<const char*>(data), len);
                             ++chunks;
                             counted = counted && i.bytes == audio.size() && i.format == "wav";
                             return true;
                         });
        CHECK(streamed_wav(audio, 22050));
        CHECK(chunks >= 1 && counted);
        CHECK(info.format == "wav" && info.sample_rate == 22050 && info.channels == 1);
        CHECK(info.bytes == audio.size());
        CHECK(info.credits.has_value() && *info.credits >= 1);

        // mars-pro speaks at 48 kHz.
        camb::SpeechOptions pro;
        pro.speech_model = "mars-pro";
        std::string pro_audio = spoken(client, pro);
        CHECK(streamed_wav(pro_audio, 48000));
        // Without options: WAV, the server's model (the emulator's is mars-flash).
        std::string plain;
        const camb::SpeechInfo plain_info =
            client.speak(kText, "en-us", kVoice,
                         [&](const std::uint8_t* data, std::size_t len, const camb::SpeechInfo&) {
                             plain.append(reinterpret_cast<const char*>(data), len);
                             return true;
                         });
        CHECK(plain_info.format == "wav" && plain == audio);
        // Options reach the wire: a raw format at the rate asked for, for as long as asked.
        camb::SpeechOptions pcm16k = flash;
        pcm16k.format = "pcm_s16le";
        pcm16k.sample_rate = 16000;
        pcm16k.duration_s = 0.5;
        camb::SpeechInfo pcm_info;
        std::string pcm;
        pcm_info =
            client.speak(kText, "en-us", kVoice, pcm16k,
                         [&](const std::uint8_t* data, std::size_t len, const camb::SpeechInfo&) {
                             pcm.append(reinterpret_cast<const char*>(data), len);
                             return true;
                         });
        CHECK(pcm.size() == 16000 && pcm_info.bytes == 16000);
        CHECK(pcm_info.format == "pcm_s16le" && pcm_info.sample_rate == 16000 &&
              pcm_info.channels == 1);
    }

    // --- SpeechReader: every byte of a raw stream, read slower than it comes ----
    {
        camb::SpeechOptions pcm = flash;
        pcm.format = "pcm_s16le";
        pcm.duration_s = 8;  // 352800 bytes: more than the 256 KiB a job holds
        const std::string expected = spoken(client, pcm);
        CHECK(expected.size() == 8 * 22050 * 2);

        camb::SpeechReader reader(client, kText, "en-us", kVoice, pcm);
        CHECK(reader.fd() >= 0 && !reader.done());
        // The job fills its buffer and waits for the reader; then small reads,
        // each followed by a pause.
        std::this_thread::sleep_for(milliseconds(300));
        const std::string got = read_all(reader, 4096, milliseconds(2));
        CHECK(got.size() == expected.size());
        CHECK(got == expected);
        CHECK(reader.done());
        std::uint8_t byte = 0;
        CHECK(reader.read(&byte, 1) == 0 && reader.read_some(&byte, 1) == 0);
        const camb::SpeechInfo info = reader.info();
        CHECK(info.format == "pcm_s16le" && info.sample_rate == 22050 && info.channels == 1);
        CHECK(info.bytes == expected.size() && info.credits.has_value());
    }

    // --- SpeechReader from an event loop: poll(2) on its fd, read() until 0 -------
    {
        const std::string expected = spoken(client, flash);
        camb::SpeechReader reader(client, kText, "en-us", kVoice, flash);
        std::string got;
        std::uint8_t buffer[1000];
        std::size_t wakeups = 0;
        const auto start = Clock::now();
        while (!reader.done() && ms_since(start) < 60000) {
            if (readable(reader.fd(), 100)) {
                ++wakeups;
                while (std::size_t n = reader.read(buffer, sizeof buffer)) {
                    got.append(reinterpret_cast<const char*>(buffer), n);
                }
            }
        }
        CHECK(reader.done() && wakeups >= 1);
        CHECK(got == expected && streamed_wav(got, 22050));
        CHECK(!readable(reader.fd(), 0));
    }

    // --- on the program's JobQueue, beside other jobs; on a dispatcher thread ----
    {
        const std::string expected = spoken(client, flash);
        camb::SpeechReader reader(client, kText, "en-us", kVoice, flash, queue);
        CHECK(reader.fd() == queue.fd());
        std::future<std::vector<camb::Voice>> voices = client.list_voices_async(queue);
        std::string got;
        std::uint8_t buffer[3000];
        const auto start = Clock::now();
        while (!reader.done() && ms_since(start) < 60000) {
            if (readable(queue.fd(), 100)) {
                queue.dispatch();
                while (std::size_t n = reader.read(buffer, sizeof buffer)) {
                    got.append(reinterpret_cast<const char*>(buffer), n);
                }
            }
        }
        CHECK(got == expected);
        CHECK(queue.dispatch_until(voices, seconds(60)) && !voices.get().empty());
        CHECK(queue.in_flight() == 0);

        // read_some() on a program's queue dispatches it while it waits.
        camb::SpeechReader blocking(client, kText, "en-us", kVoice, flash, queue);
        CHECK(read_all(blocking, 777) == expected);
        CHECK(queue.in_flight() == 0);

        camb::JobQueue threaded(camb::JobQueue::Dispatch::Thread);
        camb::SpeechReader on_thread(client, kText, "en-us", kVoice, flash, threaded);
        CHECK(read_all(on_thread, 5000, milliseconds(1)) == expected);
        CHECK(on_thread.done() && on_thread.info().bytes == expected.size());
    }

    // --- speak_to_file(): WAV files with the right sizes -------------------------
    {
        const std::string path = dir + "/one.wav";
        const camb::SpeechInfo info =
            client.speak_to_file(kText, "en-us", kVoice, one_second, path);
        const std::string bytes = file(path);
        CHECK(bytes.size() == 44 + 22050 * 2);
        CHECK(sized_wav(bytes, 22050));
        CHECK(info.bytes == bytes.size() && info.format == "wav" && info.sample_rate == 22050);
        // The same audio as streamed, header aside.
        const std::string streamed = spoken(client, one_second);
        CHECK(streamed.size() == bytes.size() &&
              streamed.compare(44, std::string::npos, bytes, 44, std::string::npos) == 0);

        camb::SpeechOptions pro;
        pro.speech_model = "mars-pro";
        pro.duration_s = 0.5;
        const std::string pro_path = dir + "/pro.wav";
        client.speak_to_file(kText, "en-us", kVoice, pro, pro_path);
        const std::string pro_bytes = file(pro_path);
        CHECK(pro_bytes.size() == 44 + 24000 * 2 && sized_wav(pro_bytes, 48000));

        camb::SpeechOptions pcm = one_second;
        pcm.format = "pcm_s16le";
        const std::string raw_path = dir + "/one.pcm";
        CHECK(client.speak_to_file(kText, "en-us", kVoice, pcm, raw_path).bytes == 22050 * 2);
        CHECK(file(raw_path).size() == 22050 * 2);

        // Without options: a WAV of the length the text makes.
        const std::string plain_path = dir + "/plain.wav";
        const camb::SpeechInfo plain = client.speak_to_file(kText, "en-us", kVoice, plain_path);
        CHECK(sized_wav(file(plain_path), 22050) && plain.bytes == file(plain_path).size());

        // As a future and as a Job: the very same file.
        const std::string async_path = dir + "/async.wav";
        std::future<camb::SpeechInfo> f =
            client.speak_to_file_async(kText, "en-us", kVoice, one_second, async_path, queue);
        CHECK(queue.dispatch_until(f, seconds(60)));
        CHECK(f.get().bytes == bytes.size() && file(async_path) == bytes);
        camb::Job<camb::SpeechInfo> job =
            client.job_speak_to_file(kText, "en-us", kVoice, dir + "/job.wav");
        CHECK(job.kind() == camb::JobKind::SpeakToFile);
        const camb::SpeechInfo job_info = queue.get(job.submit(queue));
        CHECK(job_info.bytes == file(dir + "/job.wav").size() &&
              file(dir + "/job.wav") == file(plain_path));

        // A bad path is refused before anything is sent.
        CHECK(throws<camb::Error>(
            [&] { client.speak_to_file(kText, "en-us", kVoice, dir + "/no-such-dir/x.wav"); },
            CAMB_RESULT_IO, 0));
        CHECK(throws<camb::Error>(
            [&] { client.job_speak_to_file(kText, "en-us", kVoice, dir + "/no-such-dir/x.wav"); },
            CAMB_RESULT_IO, 0));
    }

    // --- the server's refusals, in its own words; the wrapper's own -------------
    {
        const auto sink = [](const std::uint8_t*, std::size_t, const camb::SpeechInfo&) {
            return true;
        };
        // mars-flash does not speak zh-tw: the 422 lists what it does speak.
        CHECK(throws<camb::Error>([&] { client.speak(kText, "zh-tw", kVoice, flash, sink); },
                                  CAMB_RESULT_VALIDATION, 422, "en-us"));
        CHECK(throws<camb::Error>([&] { client.speak(kText, "zh-tw", kVoice, flash, sink); },
                                  CAMB_RESULT_VALIDATION, 422, "zh-tw"));
        const std::string never = dir + "/never.wav";
        CHECK(
            throws<camb::Error>([&] { client.speak_to_file(kText, "zh-tw", kVoice, flash, never); },
                                CAMB_RESULT_VALIDATION, 422, "en-us"));
        CHECK(!exists(never));
        camb::SpeechReader refused(client, kText, "zh-tw", kVoice, flash);
        std::uint8_t buffer[64];
        CHECK(
            throws<camb::Error>([&] { read_all(refused); }, CAMB_RESULT_VALIDATION, 422, "en-us"));
        CHECK(refused.done());
        std::future<camb::SpeechInfo> refused_file =
            client.speak_to_file_async(kText, "zh-tw", kVoice, flash, never, queue);
        CHECK(queue.dispatch_until(refused_file, seconds(60)));
        CHECK(
            throws<camb::Error>([&] { refused_file.get(); }, CAMB_RESULT_VALIDATION, 422, "en-us"));
        CHECK(!exists(never));
        // No such voice.
        CHECK(throws<camb::NotFound>([&] { client.speak(kText, "en-us", 999, flash, sink); },
                                     CAMB_RESULT_NOT_FOUND, 404, "999"));
        camb::SpeechReader no_voice(client, kText, "en-us", 999);
        CHECK(throws<camb::NotFound>([&] { no_voice.read_some(buffer, sizeof buffer); },
                                     CAMB_RESULT_NOT_FOUND, 404, "999"));
        // A number out of the server's range.
        camb::SpeechOptions hot = flash;
        hot.temperature = 9;
        CHECK(throws<camb::Error>([&] { client.speak(kText, "en-us", kVoice, hot, sink); },
                                  CAMB_RESULT_VALIDATION, 422, "temperature"));

        // Refused before anything is sent.
        camb::SpeechOptions zero = flash;
        zero.sample_rate = 0;
        CHECK(throws<camb::Error>([&] { client.speak(kText, "en-us", kVoice, zero, sink); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "sample rate"));
        camb::SpeechOptions nan = flash;
        nan.speaking_rate = std::numeric_limits<double>::quiet_NaN();
        CHECK(throws<camb::Error>([&] { client.speak(kText, "en-us", kVoice, nan, sink); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "NaN"));
        camb::SpeechOptions endless = flash;
        endless.duration_s = std::numeric_limits<double>::infinity();
        CHECK(throws<camb::Error>(
            [&] { camb::SpeechReader r(client, kText, "en-us", kVoice, endless); },
            CAMB_RESULT_INVALID_PARAMETER, 0));
        camb::SpeechOptions nul_format = flash;
        nul_format.format = std::string("wav\0x", 5);
        CHECK(throws<camb::Error>(
            [&] { client.speak_to_file(kText, "en-us", kVoice, nul_format, never); },
            CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        CHECK(throws<camb::Error>(
            [&] { client.speak(std::string("a\0b c", 5), "en-us", kVoice, flash, sink); },
            CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        CHECK(throws<camb::Error>([&] { client.speak("", "en-us", kVoice, flash, sink); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>(
            [&] { client.speak(kText, "en-us", kVoice, flash, camb::SpeechSink()); },
            CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(!exists(never));
    }

    // --- a stream cut short is an error, never a short success -------------------
    {
        std::size_t received = 0;
        CHECK(cut_next_stream(base, 5000));
        CHECK(throws<camb::Error>(
            [&] {
                client.speak(kText, "en-us", kVoice, flash,
                             [&](const std::uint8_t*, std::size_t len, const camb::SpeechInfo&) {
                                 received += len;
                                 return true;
                             });
            },
            CAMB_RESULT_CONNECT, -1, "5000"));
        CHECK(received == 5000);

        // speak_to_file() leaves the file that was there as it was.
        const std::string path = dir + "/kept.wav";
        std::ofstream(path, std::ios::binary) << "the file that was there";
        CHECK(cut_next_stream(base, 3000));
        CHECK(
            throws<camb::Error>([&] { client.speak_to_file(kText, "en-us", kVoice, flash, path); },
                                CAMB_RESULT_CONNECT));
        CHECK(file(path) == "the file that was there");
        // Shorter than its Content-Length.
        CHECK(cut_next_stream(base, 3000, true));
        CHECK(
            throws<camb::Error>([&] { client.speak_to_file(kText, "en-us", kVoice, flash, path); },
                                CAMB_RESULT_CONNECT));
        CHECK(file(path) == "the file that was there");
        // As a job, too.
        CHECK(cut_next_stream(base, 3000));
        std::future<camb::SpeechInfo> cut_file =
            client.speak_to_file_async(kText, "en-us", kVoice, flash, path, queue);
        CHECK(queue.dispatch_until(cut_file, seconds(60)));
        CHECK(throws<camb::Error>([&] { cut_file.get(); }, CAMB_RESULT_CONNECT));
        CHECK(file(path) == "the file that was there");

        // A reader gets the audio that came, then the failure.
        CHECK(cut_next_stream(base, 7000));
        camb::SpeechReader reader(client, kText, "en-us", kVoice, flash);
        std::string got;
        std::uint8_t buffer[512];
        CHECK(throws<camb::Error>(
            [&] {
                while (std::size_t n = reader.read_some(buffer, sizeof buffer))
                    got.append(reinterpret_cast<const char*>(buffer), n);
            },
            CAMB_RESULT_CONNECT, -1, "7000"));
        CHECK(got.size() == 7000 && streamed_wav(got, 22050));
        CHECK(reader.done() && reader.info().bytes == 7000);
        // The failure stays: asked again, it says the same.
        CHECK(
            throws<camb::Error>([&] { reader.read(buffer, sizeof buffer); }, CAMB_RESULT_CONNECT));
    }

    // --- cancelled mid-stream ----------------------------------------------------
    {
        camb::SpeechOptions long_pcm = flash;
        long_pcm.format = "pcm_s16le";
        long_pcm.duration_s = 60;  // 2.6 MB: the job waits for its reader long before the end
        const std::size_t whole = 60 * 22050 * 2;

        camb::SpeechReader reader(client, kText, "en-us", kVoice, long_pcm);
        std::vector<std::uint8_t> buffer(8192);
        std::size_t got = reader.read_some(buffer.data(), buffer.size());
        CHECK(got > 0);
        auto since = Clock::now();
        reader.cancel();
        CHECK(throws<camb::Cancelled>(
            [&] {
                while (std::size_t n = reader.read_some(buffer.data(), buffer.size())) got += n;
            },
            CAMB_RESULT_CANCELLED, 0));
        CHECK(ms_since(since) < 10000);
        CHECK(got < whole && reader.done());
        reader.cancel();  // ended: no effect

        // Destroyed mid-stream: cancelled, and gone within about 100 ms.
        since = Clock::now();
        {
            camb::SpeechReader dropped(client, kText, "en-us", kVoice, long_pcm);
            CHECK(dropped.read_some(buffer.data(), buffer.size()) > 0);
        }
        CHECK(ms_since(since) < 10000);
        // One on the program's queue: cancelled, delivered, freed by a dispatch.
        {
            camb::SpeechReader dropped(client, kText, "en-us", kVoice, long_pcm, queue);
            CHECK(dropped.read_some(buffer.data(), buffer.size()) > 0);
        }
        since = Clock::now();
        while (queue.in_flight() > 0 && ms_since(since) < 10000) queue.dispatch(milliseconds(100));
        CHECK(queue.in_flight() == 0);

        // Its client destroyed: the stream is cancelled.
        std::optional<camb::SpeechReader> orphan;
        {
            const camb::Client doomed(opts);
            orphan.emplace(doomed, kText, "en-us", kVoice, long_pcm);
            CHECK(orphan->read_some(buffer.data(), buffer.size()) > 0);
        }
        CHECK(throws<camb::Cancelled>([&] { read_all(*orphan); }, CAMB_RESULT_CANCELLED, 0));

        // Moved: the new owner reads on, the old one is empty.
        camb::SpeechReader first(client, kText, "en-us", kVoice, flash);
        camb::SpeechReader second(std::move(first));
        CHECK(first.done() && first.fd() == -1);
        CHECK(throws<camb::Error>([&] { first.read(buffer.data(), buffer.size()); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        first.cancel();  // no effect, no crash
        CHECK(streamed_wav(read_all(second), 22050));
        second = camb::SpeechReader(client, kText, "en-us", kVoice, long_pcm);
        CHECK(second.read_some(buffer.data(), buffer.size()) > 0);
        second = camb::SpeechReader(client, kText, "en-us", kVoice, flash);  // cancels the first
        CHECK(streamed_wav(read_all(second), 22050));

        // speak(): the sink says stop, throws, or a token is cancelled from another thread.
        std::size_t calls = 0;
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.speak(kText, "en-us", kVoice, long_pcm,
                             [&](const std::uint8_t*, std::size_t, const camb::SpeechInfo&) {
                                 return ++calls < 2;
                             });
            },
            CAMB_RESULT_CANCELLED, 0));
        CHECK(calls == 2);
        calls = 0;
        try {
            client.speak(kText, "en-us", kVoice, long_pcm,
                         [&](const std::uint8_t*, std::size_t, const camb::SpeechInfo&) -> bool {
                             ++calls;
                             throw std::runtime_error("stopped by the sink");
                         });
            CHECK(!"NOT THROWN");
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()) == "stopped by the sink" &&
                  dynamic_cast<const camb::Error*>(&e) == nullptr);
        }
        CHECK(calls == 1);
        camb::CancelToken token;
        std::atomic<bool> started{false};
        std::thread canceller([&] {
            while (!started) std::this_thread::sleep_for(milliseconds(1));
            token.cancel();
        });
        since = Clock::now();
        std::size_t before_cancel = 0;
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.speak(
                    kText, "en-us", kVoice, long_pcm,
                    [&](const std::uint8_t*, std::size_t len, const camb::SpeechInfo&) {
                        before_cancel += len;
                        started = true;
                        std::this_thread::sleep_for(milliseconds(20));
                        return true;
                    },
                    &token);
            },
            CAMB_RESULT_CANCELLED, 0));
        canceller.join();
        CHECK(before_cancel < whole && ms_since(since) < 20000);
    }

    CHECK(queue.in_flight() == 0);
    if (failures == 0) {
        std::printf("speech checks: all %d ok\n", checks);
        return 0;
    }
    std::printf("speech checks: %d of %d FAILED\n", failures, checks);
    return 1;
}
