// The log store: record encoding, the durable append path, and recovery (segment replay with
// torn-tail repair and corruption detection). The format is described in log_store.h.
#include "common/log_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include "common/codec.h"
#include "common/crc32c.h"
#include "common/durability.h"

namespace ballot {
namespace {

constexpr char kMagic[8] = {'B', 'A', 'L', 'L', 'O', 'T', 'L', 'G'};
constexpr char kFormatMagic[8] = {'B', 'A', 'L', 'L', 'O', 'T', 'F', 'M'};
constexpr const char* kFormatFile = "FORMAT";
constexpr std::size_t kTruncatePayloadBytes = 8;
constexpr std::size_t kCompactPayloadBytes = 8;
constexpr std::size_t kRecordIndexBytes = 8;  // a log record's payload: u64 index + engine bytes

std::error_code errno_code() {
    return {errno, std::generic_category()};
}

void put_le32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void put_le64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t get_le32(const std::uint8_t* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t(p[i]) << (8 * i);
    return v;
}

std::uint64_t get_le64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t(p[i]) << (8 * i);
    return v;
}

// Where a record's fields sit, from its first byte.
constexpr std::size_t kLengthAt = 0, kChecksumAt = 4, kSequenceAt = 8, kTypeAt = 16;
static_assert(kTypeAt + 1 == LogStore::kRecordHeaderBytes);

std::uint32_t salt_crc(std::uint64_t salt) {
    std::uint8_t b[8];
    put_le64(b, salt);
    return crc32c(b, 0);
}

// A record's checksum: CRC32C of (salt, offset, sequence, type, payload), the salt already folded
// into `seed`. `covered` is the record from its sequence field to the end of its payload. Binding
// the salt and the offset means a record is valid only where it was written (log_store.h).
std::uint32_t record_checksum(std::uint32_t seed, std::uint64_t offset,
                              std::span<const std::uint8_t> covered) {
    std::uint8_t at[8];
    put_le64(at, offset);
    return crc32c(covered, crc32c(at, seed));
}

std::uint64_t random_salt() {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
}

std::string join(const std::string& dir, const std::string& name) {
    return (std::filesystem::path(dir) / name).string();
}

// Writes all of `bytes` at byte `offset` of the file, retrying short writes and EINTR.
std::error_code write_all_at(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset) {
    while (!bytes.empty()) {
        ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_code();
        }
        if (n == 0) return std::make_error_code(std::errc::io_error);  // never for a regular file
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

// Writes zeros over bytes [from, to) of the file.
std::error_code write_zeros(int fd, std::uint64_t from, std::uint64_t to) {
    static const std::array<std::uint8_t, 64 * 1024> zeros{};
    while (from < to) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), to - from));
        if (auto ec = write_all_at(fd, std::span(zeros.data(), n), from)) return ec;
        from += n;
    }
    return {};
}

std::error_code read_whole_file(const std::string& path, Bytes& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        auto ec = errno_code();
        ::close(fd);
        return ec;
    }
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            auto ec = n < 0 ? errno_code() : std::make_error_code(std::errc::io_error);
            ::close(fd);
            return ec;
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return {};
}

// A segment's bytes for the replay at open, mapped read-only rather than read into a buffer: a
// 64 MiB segment read into a vector was zero-filled, then copied in, page by freshly faulted page,
// before a single record was looked at (a fifth of a basic Paxos node's restart with 100,000
// slots in its log). The replay copies out each record it keeps; the mapping ends with the
// object, before anything truncates the file.
class MappedSegment {
public:
    MappedSegment() = default;
    MappedSegment(const MappedSegment&) = delete;
    MappedSegment& operator=(const MappedSegment&) = delete;
    ~MappedSegment() {
        if (addr_ != nullptr) ::munmap(addr_, size_);
    }

    std::error_code open(const std::string& path) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno_code();
        struct stat st {};
        std::error_code ec;
        if (::fstat(fd, &st) != 0) {
            ec = errno_code();
        } else if (st.st_size > 0) {
            size_ = static_cast<std::size_t>(st.st_size);
            void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (addr == MAP_FAILED) {
                ec = errno_code();
                size_ = 0;
            } else {
                addr_ = addr;
                ::madvise(addr_, size_, MADV_SEQUENTIAL);  // a hint: read ahead, drop behind
            }
        }
        ::close(fd);
        return ec;
    }

    std::span<const std::uint8_t> bytes() const { return {static_cast<const std::uint8_t*>(addr_), size_}; }

private:
    void* addr_ = nullptr;
    std::size_t size_ = 0;
};

Bytes segment_header(std::uint64_t number, std::uint64_t salt) {
    Bytes h;
    h.reserve(LogStore::kSegmentHeaderBytes);
    Writer w(h);
    w.raw({reinterpret_cast<const std::uint8_t*>(kMagic), sizeof kMagic});
    w.u32(LogStore::kFormatVersion);
    w.u64(number);
    w.u64(salt);
    w.u32(crc32c(h));
    return h;
}

// The metadata and log records recovered so far, updated record by record in log order, and what
// the store needs to know to go on compacting: per segment, its highest log record index; where
// the latest metadata and the highest compaction point were found.
class Replay {
public:
    void begin_segment(std::uint64_t number) { segments.push_back(LogStore::Segment{number, 0, 0}); }
    void end_segment(std::uint64_t bytes) { segments.back().bytes = bytes; }

    void metadata(Bytes bytes) {
        state_.metadata = std::move(bytes);
        metadata_segment = segments.back().number;
    }

    // Every record with index >= `from` is deleted.
    void truncate(Index from) {
        auto& es = state_.records;
        es.erase(lower_bound(from), es.end());
    }

    // Every record with index < `below` is deleted, now and later: the floor only rises. Returns
    // an empty string or why the compaction point is not acceptable.
    std::string compact(Index below) {
        if (compaction_segment != 0 && below < compacted_below)
            return "compaction point " + std::to_string(below) + " after " + std::to_string(compacted_below) +
                   " (compaction never goes back)";
        compacted_below = below;
        compaction_segment = segments.back().number;
        auto& es = state_.records;
        es.erase(es.begin(), lower_bound(below));
        return {};
    }

    // A record replaces an earlier one at the same index; Paxos slots may arrive out of order.
    void record(LogRecord e) {
        Index& max_index = segments.back().max_index;
        max_index = std::max(max_index, e.index);
        if (e.index < compacted_below) return;  // below the floor: deleted already
        auto& es = state_.records;
        if (es.empty() || es.back().index < e.index) {
            es.push_back(std::move(e));
            return;
        }
        auto it = lower_bound(e.index);
        if (it != es.end() && it->index == e.index)
            *it = std::move(e);
        else
            es.insert(it, std::move(e));
    }

    bool compaction_recorded() const { return compaction_segment != 0; }
    RecoveredState take() { return std::move(state_); }

    // What the store carries on with once replay is done.
    std::deque<LogStore::Segment> segments;
    std::uint64_t metadata_segment = 0;  // 0: no metadata
    Index compacted_below = 0;
    std::uint64_t compaction_segment = 0;  // 0: no compaction recorded

private:
    std::vector<LogRecord>::iterator lower_bound(Index index) {
        return std::lower_bound(state_.records.begin(), state_.records.end(), index,
                                [](const LogRecord& e, Index i) { return e.index < i; });
    }
    RecoveredState state_;
};

// How a scan of one segment ended.
struct Scan {
    enum class Stop {
        clean,    // every byte was a valid header or record
        unused,   // valid records, then only zeros from `offset` on: space preallocated ahead of
                  // the writes (LogStoreOptions::preallocate_bytes), fine in the last segment
        torn,     // a crash mid-write: fine in the last segment, from `offset` on
        corrupt,  // never fine
    };
    Stop stop = Stop::clean;
    std::uint64_t offset = 0;  // torn / corrupt: where the bad header or record begins
    std::string what;          // "segment header" or "record"
    std::string reason;
};

Scan torn(std::uint64_t offset, std::string what, std::string reason) {
    return {Scan::Stop::torn, offset, std::move(what), std::move(reason)};
}
Scan corrupt(std::uint64_t offset, std::string what, std::string reason) {
    return {Scan::Stop::corrupt, offset, std::move(what), std::move(reason)};
}

bool all_zero(std::span<const std::uint8_t> bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// Checks a segment header; on success sets `salt`.
Scan check_header(std::span<const std::uint8_t> bytes, std::uint64_t number, std::uint64_t& salt) {
    const std::string what = "segment header";
    if (bytes.size() < LogStore::kSegmentHeaderBytes)
        return torn(0, what, "segment header cut short at " + std::to_string(bytes.size()) + " bytes");
    auto header = bytes.first(LogStore::kSegmentHeaderBytes);
    // A file system may show a file extended by a crash as zeros: nothing of it was written.
    if (all_zero(bytes)) return torn(0, what, "zero-filled segment");
    Reader r(header);
    for (char c : kMagic)
        if (r.u8() != static_cast<std::uint8_t>(c))
            return corrupt(0, what, "bad magic, not a ballot log segment");
    std::uint32_t version = r.u32();
    std::uint64_t header_number = r.u64();
    salt = r.u64();
    std::uint32_t checksum = r.u32();
    if (checksum != crc32c(header.first(LogStore::kSegmentHeaderBytes - 4)))
        return corrupt(0, what, "checksum mismatch");
    if (version != LogStore::kFormatVersion)
        return corrupt(0, what,
                       "format version " + std::to_string(version) + ", this build reads version " +
                           std::to_string(LogStore::kFormatVersion));
    if (header_number != number)
        return corrupt(0, what,
                       "segment number " + std::to_string(header_number) + " does not match the file name");
    return {};
}

// Decodes one record whose checksum matched, has the engine check its bytes (`codec`, if set)
// and applies it. Returns an empty string or why the record is malformed.
std::string apply_record(std::uint8_t type, std::span<const std::uint8_t> payload,
                         const PersistedCodec& codec, Replay& replay) {
    Reader r(payload);
    switch (static_cast<LogStore::RecordType>(type)) {
        case LogStore::RecordType::metadata: {
            if (codec.check_metadata)
                if (std::string why = codec.check_metadata(payload); !why.empty())
                    return "engine metadata does not decode: " + why;
            replay.metadata(Bytes(payload.begin(), payload.end()));
            return {};
        }
        case LogStore::RecordType::truncate: {
            Index from = r.u64();
            if (!r.finish()) break;
            replay.truncate(from);
            return {};
        }
        case LogStore::RecordType::compact: {
            Index below = r.u64();
            if (!r.finish()) break;
            return replay.compact(below);
        }
        case LogStore::RecordType::record: {
            Index index = r.u64();
            if (!r.ok()) break;
            if (index == 0) return "log record at index 0";
            auto bytes = payload.subspan(kRecordIndexBytes);
            if (codec.check_record)
                if (std::string why = codec.check_record(index, bytes); !why.empty())
                    return "engine log record at index " + std::to_string(index) + " does not decode: " + why;
            replay.record(LogRecord{index, Bytes(bytes.begin(), bytes.end())});
            return {};
        }
        default:
            return "unknown record type " + std::to_string(type);
    }
    return std::string("payload does not decode: ") + r.error();
}

// Where replay stands: the next record's expected sequence, and the active segment's salt.
struct Cursor {
    // 0: not known yet. Compaction may have deleted the first segments: sequences then run on
    // from the first surviving record's, whatever it is.
    std::uint64_t next_sequence = 1;
    std::uint32_t salt_crc = 0;
};

// True if a record with a known type, a sequence no older than the bad one's, and a checksum that
// matches at its own offset under this segment's salt starts anywhere in [from, end of bytes).
// Only called on the error path, and it stops at the first valid record, so it reads little more
// than the damaged span (in the torn case, the rest of the last record). Client data inside the
// damaged span cannot pass: it would need the segment's salt (log_store.h).
bool valid_record_after(std::span<const std::uint8_t> bytes, std::uint64_t from, const Cursor& cursor) {
    for (std::uint64_t q = from; q + LogStore::kRecordHeaderBytes <= bytes.size(); ++q) {
        const std::uint8_t* h = bytes.data() + q;
        std::uint64_t length = get_le32(h + kLengthAt);
        std::uint8_t type = h[kTypeAt];
        if (type < 1 || type > LogStore::kMaxRecordType) continue;
        if (get_le64(h + kSequenceAt) < cursor.next_sequence) continue;
        if (q + LogStore::kRecordHeaderBytes + length > bytes.size()) continue;
        auto covered = bytes.subspan(q + kSequenceAt, 8 + 1 + length);
        if (record_checksum(cursor.salt_crc, q, covered) == get_le32(h + kChecksumAt)) return true;
    }
    return false;
}

// Checks a segment's header and replays its records, stopping at the first bad one.
//
// A bad record (cut short, running past the end of the file, or failing its checksum) is the
// torn tail of the last write only if no valid record follows it anywhere in the file: a crash
// can only damage the end of what was being appended. If a valid record follows, the bad one is
// damage in the middle of the log (a flipped bit, perhaps in its length field), and trusting the
// length to decide "this is the tail" would silently drop acknowledged records after it.
Scan scan_segment(std::span<const std::uint8_t> bytes, std::uint64_t number, const PersistedCodec& codec,
                  Replay& replay, Cursor& cursor) {
    std::uint64_t salt = 0;
    if (Scan h = check_header(bytes, number, salt); h.stop != Scan::Stop::clean) return h;
    cursor.salt_crc = salt_crc(salt);
    const std::string what = "record";
    std::uint64_t pos = LogStore::kSegmentHeaderBytes;
    const std::uint64_t size = bytes.size();
    while (pos < size) {
        auto rest = bytes.subspan(pos);
        std::string bad;
        std::uint64_t end = size;
        std::uint8_t type = 0;
        std::uint64_t sequence = 0;
        if (rest.size() < LogStore::kRecordHeaderBytes) {
            bad = "record header cut short at " + std::to_string(rest.size()) + " bytes";
        } else {
            std::uint64_t length = get_le32(rest.data() + kLengthAt);
            std::uint32_t checksum = get_le32(rest.data() + kChecksumAt);
            sequence = get_le64(rest.data() + kSequenceAt);
            type = rest[kTypeAt];
            end = pos + LogStore::kRecordHeaderBytes + length;
            if (end > size)
                bad = "record runs past the end of the file";
            else if (record_checksum(cursor.salt_crc, pos,
                                     bytes.subspan(pos + kSequenceAt, 8 + 1 + length)) != checksum)
                bad = "checksum mismatch";
        }
        // Zeros from here to the end: the room preallocated for the next writes, not a tear (no
        // record is all zeros: its sequence and type are at least 1).
        if (type == 0 && all_zero(rest)) return {Scan::Stop::unused, pos, what, "zero-filled tail"};
        if (!bad.empty()) {
            if (valid_record_after(bytes, pos + 1, cursor)) return corrupt(pos, what, bad);
            return torn(pos, what, bad);
        }
        if (cursor.next_sequence != 0 && sequence != cursor.next_sequence)
            return corrupt(pos, what,
                           "sequence " + std::to_string(sequence) + ", expected " +
                               std::to_string(cursor.next_sequence));
        auto payload =
            bytes.subspan(pos + LogStore::kRecordHeaderBytes, end - pos - LogStore::kRecordHeaderBytes);
        if (std::string why = apply_record(type, payload, codec, replay); !why.empty())
            return corrupt(pos, what, why);
        cursor.next_sequence = sequence + 1;
        pos = end;
    }
    return {};
}

// Segment numbers in `dir`, ascending; names that are not segments are ignored.
std::error_code list_segments(const std::string& dir, std::vector<std::uint64_t>& numbers) {
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
        std::string name = item.path().filename().string();
        // "log-" + 10 digits + ".seg"
        if (name.size() != 18 || name.compare(0, 4, "log-") != 0 || name.compare(14, 4, ".seg") != 0)
            continue;
        if (!std::all_of(name.begin() + 4, name.begin() + 14, [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        numbers.push_back(std::stoull(name.substr(4, 10)));
    }
    std::sort(numbers.begin(), numbers.end());
    return ec;
}

std::error_code fsync_path(const std::string& path, Durability durability) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    std::error_code ec = sync_file(fd, durability);
    ::close(fd);
    return ec;
}

StoreError io_error(std::string path, std::string reason, std::error_code code) {
    StoreError e;
    e.kind = StoreError::Kind::io;
    e.path = std::move(path);
    e.reason = std::move(reason);
    e.code = code;
    return e;
}

StoreError corrupt_error(std::string path, const Scan& scan) {
    StoreError e;
    e.kind = StoreError::Kind::corrupt;
    e.path = std::move(path);
    e.offset = scan.offset;
    e.what = scan.what;
    e.reason = scan.reason;
    return e;
}

StoreError foreign_error(std::string path, std::string reason) {
    StoreError e;
    e.kind = StoreError::Kind::foreign;
    e.path = std::move(path);
    e.reason = std::move(reason);
    return e;
}

Bytes format_file(const std::string& engine) {
    Bytes b;
    Writer w(b);
    w.raw({reinterpret_cast<const std::uint8_t*>(kFormatMagic), sizeof kFormatMagic});
    w.u32(LogStore::kFormatVersion);
    w.str(engine);
    w.u32(crc32c(b));
    return b;
}

// What an existing data dir holds before open() touches it.
struct DirState {
    bool has_format = false;  // FORMAT exists and names this engine and format
    bool has_log = false;     // at least one log-*.seg
};

// Reads `dir` without changing it: a dir some other engine or format wrote is refused here, before
// the lock file, a segment or FORMAT is created in it.
std::optional<StoreError> inspect_dir(const std::string& dir, const LogStoreOptions& options,
                                      DirState& state) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) return std::nullopt;
    std::vector<std::uint64_t> numbers;
    if ((ec = list_segments(dir, numbers))) return io_error(dir, "cannot list the data dir", ec);
    state.has_log = !numbers.empty();
    std::string path = join(dir, kFormatFile);
    Bytes bytes;
    if ((ec = read_whole_file(path, bytes))) {
        if (ec != std::errc::no_such_file_or_directory) return io_error(path, "cannot read", ec);
        if (!state.has_log) return std::nullopt;  // a new dir, or one whose creation was cut short
        return foreign_error(dir,
                             "a data dir of format 1 (a log but no FORMAT file), this build reads format " +
                                 std::to_string(LogStore::kFormatVersion) +
                                 "; refusing to start, nothing in it was touched (start the node on a new "
                                 "--data-dir, or run the Ballot version that wrote it)");
    }
    Reader r(bytes);
    bool magic_ok = true;
    for (char c : kFormatMagic) magic_ok = r.u8() == static_cast<std::uint8_t>(c) && magic_ok;
    std::uint32_t version = r.u32();
    std::string engine = r.str();
    std::uint32_t checksum = r.u32();
    if (!r.finish() || !magic_ok || bytes.size() < 4 ||
        checksum != crc32c(std::span(bytes).first(bytes.size() - 4))) {
        StoreError e;
        e.kind = StoreError::Kind::corrupt;
        e.path = path;
        e.what = "format file";
        e.reason = magic_ok ? "checksum mismatch or bad length" : "bad magic, not a Ballot FORMAT file";
        return e;
    }
    if (version != LogStore::kFormatVersion && engine == options.engine)
        return foreign_error(dir, "a data dir of format " + std::to_string(version) + " (engine " + engine +
                                      "), this build reads format " +
                                      std::to_string(LogStore::kFormatVersion) +
                                      "; refusing to start, nothing in it was touched (start the node on a "
                                      "new --data-dir, or run the Ballot version that wrote it)");
    if (version != LogStore::kFormatVersion || engine != options.engine)
        return foreign_error(
            dir, "this data dir was written by engine " + engine + " (format " + std::to_string(version) +
                     "), this node runs engine " + options.engine + " (format " +
                     std::to_string(LogStore::kFormatVersion) +
                     "); refusing to start, nothing in it was touched (use another --data-dir)");
    state.has_format = true;
    return std::nullopt;
}

// Writes FORMAT durably: temp file, fsync, rename, fsync of the dir.
std::error_code write_format(const std::string& dir, int dir_fd, const std::string& engine,
                             Durability durability) {
    std::string path = join(dir, kFormatFile), tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_code();
    std::error_code ec = write_all_at(fd, format_file(engine), 0);
    if (!ec) ec = sync_file(fd, durability);
    ::close(fd);
    if (!ec && ::rename(tmp.c_str(), path.c_str()) != 0) ec = errno_code();
    if (!ec) ec = sync_file(dir_fd, durability);
    return ec;
}

// Segments are numbered without gaps from the first one: a missing one in the middle is lost data.
// (A missing prefix is compaction's doing, checked once replay knows whether one was recorded.)
std::optional<StoreError> missing_segment(const std::string& dir, const std::vector<std::uint64_t>& numbers) {
    for (std::size_t i = 1; i < numbers.size(); ++i) {
        if (numbers[i] == numbers[i - 1] + 1) continue;
        StoreError e;
        e.kind = StoreError::Kind::corrupt;
        e.path = join(dir, segment_file_name(numbers[i - 1] + 1));
        e.reason = "segment missing (the log has " + segment_file_name(numbers[i]) + " after " +
                   segment_file_name(numbers[i - 1]) + ")";
        return e;
    }
    return std::nullopt;
}

}  // namespace

std::string segment_file_name(std::uint64_t number) {
    char name[32];
    std::snprintf(name, sizeof name, "log-%010llu.seg", static_cast<unsigned long long>(number));
    return name;
}

std::string StoreError::message() const {
    switch (kind) {
        case Kind::corrupt:
            if (what.empty()) return path + ": " + reason + "; refusing to start";
            return path + ": corrupt " + what + " at byte offset " + std::to_string(offset) + " (" + reason +
                   "); refusing to start";
        case Kind::locked:
        case Kind::foreign:
            return path + ": " + reason;
        case Kind::io:
            break;
    }
    return path + ": " + reason + ": " + code.message();
}

// ---- writing ----

void LogStore::encode(const Ready& batch, Bytes& out) {
    std::size_t need = out.size();
    if (batch.metadata) need += kRecordHeaderBytes + batch.metadata->size();
    if (batch.truncate_from) need += kRecordHeaderBytes + kTruncatePayloadBytes;
    if (batch.compact_below) need += kRecordHeaderBytes + kCompactPayloadBytes;
    for (const LogRecord& e : batch.records) need += kRecordHeaderBytes + kRecordIndexBytes + e.bytes.size();
    // Geometric growth: the runtime may encode many batches into one buffer before a flush.
    if (out.capacity() < need) out.reserve(std::max(need, 2 * out.capacity()));

    Writer w(out);
    auto begin = [&](RecordType type) {
        std::size_t at = out.size();
        w.u32(0);  // length, filled in by end()
        w.u32(0);  // checksum and sequence, filled in by write_durably()
        w.u64(0);
        w.u8(static_cast<std::uint8_t>(type));
        return at;
    };
    auto end = [&](std::size_t at) {
        std::size_t length = out.size() - at - kRecordHeaderBytes;
        assert(length <= std::numeric_limits<std::uint32_t>::max());
        put_le32(out.data() + at + kLengthAt, static_cast<std::uint32_t>(length));
    };

    if (batch.metadata) {
        std::size_t at = begin(RecordType::metadata);
        w.raw(*batch.metadata);
        end(at);
    }
    if (batch.truncate_from) {
        std::size_t at = begin(RecordType::truncate);
        w.u64(*batch.truncate_from);
        end(at);
    }
    if (batch.compact_below) {
        std::size_t at = begin(RecordType::compact);
        w.u64(*batch.compact_below);
        end(at);
    }
    for (const LogRecord& e : batch.records) {
        assert(e.index != 0);
        std::size_t at = begin(RecordType::record);
        w.u64(e.index);
        w.raw(e.bytes);
        end(at);
    }
    assert(out.size() == need);
}

std::error_code LogStore::write_durably(std::span<std::uint8_t> records) {
    if (failed_) return failed_;
    if (reaper_)
        if (auto ec = reaper_->error()) return fail(ec);
    if (records.empty()) return {};
    raise_low_compaction_points(records);
    if (auto ec = append_durably(records)) return fail(ec);
    if (auto ec = delete_compacted_segments()) return fail(ec);
    return {};
}

std::error_code LogStore::append_durably(std::span<std::uint8_t> records) {
    // A batch never straddles segments, so a segment only ever ends between batches.
    if (active_bytes_ > kSegmentHeaderBytes && active_bytes_ + records.size() > options_.segment_bytes) {
        if (auto ec = seal_active_segment()) return ec;
        if (auto ec = start_segment(active_segment_ + 1, false)) return ec;
    }
    std::uint64_t sequence = seal(records);
    if (auto ec = write_all_at(active_fd_, records, active_bytes_)) return ec;
    active_bytes_ += records.size();
    segments_.back().bytes = active_bytes_;
    if (auto ec = preallocate()) return ec;
    // fdatasync also writes the new file size when the file grew, which is all the metadata an
    // append needs; within the preallocated room it writes the data alone.
    if (auto ec = sync_data(active_fd_, options_.durability)) return ec;
    next_sequence_ = sequence;
    note_durable(records);
    return {};
}

// Keeps at least a quarter of LogStoreOptions::preallocate_bytes of zeros past the last record,
// written (not fallocate'd: an unwritten extent needs its metadata written when first used) and
// made durable by the fdatasync that follows, and never past the segment size.
std::error_code LogStore::preallocate() {
    const std::uint64_t room = options_.preallocate_bytes;
    if (room == 0 || active_bytes_ + room / 4 <= active_allocated_) return {};
    const std::uint64_t to = std::min(active_bytes_ + room, std::max(active_bytes_, options_.segment_bytes));
    if (to <= active_allocated_) return {};
    if (auto ec = write_zeros(active_fd_, std::max(active_bytes_, active_allocated_), to)) return ec;
    active_allocated_ = to;
    return {};
}

// Before the next segment starts: cuts the active segment's unused room away (durably), so only
// the last segment ever ends in zeros.
std::error_code LogStore::seal_active_segment() {
    if (active_allocated_ <= active_bytes_) return {};
    if (::ftruncate(active_fd_, static_cast<off_t>(active_bytes_)) != 0) return errno_code();
    if (auto ec = sync_file(active_fd_, options_.durability)) return ec;
    active_allocated_ = active_bytes_;
    return {};
}

// Calls `visit(type, payload)` for each record of `records`, whole records as encode() makes them.
template <typename Visit>
void for_each_record(std::span<const std::uint8_t> records, Visit visit) {
    for (std::size_t pos = 0; pos < records.size();) {
        std::size_t length = get_le32(records.data() + pos + kLengthAt);
        auto type = static_cast<LogStore::RecordType>(records[pos + kTypeAt]);
        visit(type, records.subspan(pos + LogStore::kRecordHeaderBytes, length));
        pos += LogStore::kRecordHeaderBytes + length;
    }
}

// An engine must never lower its compaction point (common/engine.h), and replay takes a lower
// one after a higher one for corruption. Should one come anyway (say an engine that does not
// know, after a restart, how far its store had compacted), it asks for nothing the store has not
// done already: write it as the durable point instead, rather than a log that cannot be opened.
void LogStore::raise_low_compaction_points(std::span<std::uint8_t> records) const {
    Index floor = compacted_below_;
    for (std::size_t pos = 0; pos < records.size();) {
        std::uint8_t* h = records.data() + pos;
        std::size_t length = get_le32(h + kLengthAt);
        if (static_cast<RecordType>(h[kTypeAt]) == RecordType::compact) {
            std::uint8_t* payload = h + kRecordHeaderBytes;
            if (get_le64(payload) < floor) put_le64(payload, floor);
            floor = get_le64(payload);
        }
        pos += kRecordHeaderBytes + length;
    }
}

// Keeps what deletion needs to know from records now durable in the active segment.
void LogStore::note_durable(std::span<const std::uint8_t> records) {
    for_each_record(records, [this](RecordType type, std::span<const std::uint8_t> payload) {
        switch (type) {
            case RecordType::metadata:
                metadata_.assign(payload.begin(), payload.end());
                metadata_segment_ = active_segment_;
                break;
            case RecordType::compact:
                compacted_below_ = get_le64(payload.data());
                compaction_segment_ = active_segment_;
                break;
            case RecordType::record: {
                Index& max_index = segments_.back().max_index;
                max_index = std::max(max_index, get_le64(payload.data()));
                break;
            }
            case RecordType::truncate:
                break;
        }
    });
}

std::error_code LogStore::delete_compacted_segments() {
    if (compaction_segment_ == 0) return {};
    // The longest prefix of segments, never the active one, whose log records are all below the
    // compaction point. Stopping at the first segment that holds a live record keeps deletion a
    // prefix, which is what makes Truncate records in deleted segments irrelevant (log_store.h):
    // each only acted on records before it, all of them in deleted segments too.
    std::size_t doomed = 0;
    while (doomed + 1 < segments_.size() && segments_[doomed].max_index < compacted_below_) ++doomed;
    if (doomed == 0) return {};
    const std::uint64_t first_kept = segments_[doomed].number;

    // The latest metadata and the highest compaction point must outlive their segment: copy them
    // to the end of the log first, durably. Both copies are no-ops for replay (the same metadata
    // again, the same floor again). Should the copy start a new segment, the one it leaves was
    // not doomed: `first_kept` was fixed before.
    Ready carry;
    if (metadata_segment_ != 0 && metadata_segment_ < first_kept) carry.metadata = metadata_;
    if (compaction_segment_ < first_kept) carry.compact_below = compacted_below_;
    if (carry.needs_persist()) {
        Bytes records;
        encode(carry, records);
        if (auto ec = append_durably(records)) return ec;
    }

    // Oldest first, each unlink made durable before the next: a crash in between leaves a
    // suffix of the segments, which replay accepts because the compaction point survives. The
    // reaper keeps that order and durability off this thread (common/segment_reaper.h).
    if (reaper_) {
        std::vector<std::string> paths;
        for (std::size_t i = 0; i < doomed; ++i) {
            paths.push_back(join(dir_, segment_file_name(segments_.front().number)));
            segments_.pop_front();
        }
        reaper_->remove(std::move(paths));
        return {};
    }
    for (std::size_t i = 0; i < doomed; ++i) {
        std::string path = join(dir_, segment_file_name(segments_.front().number));
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_code();
        if (auto ec = sync_file(dir_fd_, options_.durability)) return ec;
        segments_.pop_front();
    }
    return {};
}

void LogStore::wait_for_deletions() {
    if (reaper_) reaper_->drain();
}

std::uint64_t LogStore::log_bytes() const {
    std::uint64_t total = 0;
    for (const Segment& s : segments_) total += s.bytes;
    return total;
}

// Numbers the records from next_sequence_ and checksums each at the offset it will have in the
// active segment. Returns the sequence after the last one.
std::uint64_t LogStore::seal(std::span<std::uint8_t> records) const {
    std::uint64_t sequence = next_sequence_;
    for (std::size_t pos = 0; pos < records.size(); ++sequence) {
        std::uint8_t* h = records.data() + pos;
        std::size_t length = get_le32(h + kLengthAt);
        assert(pos + kRecordHeaderBytes + length <= records.size());
        put_le64(h + kSequenceAt, sequence);
        auto covered = records.subspan(pos + kSequenceAt, 8 + 1 + length);
        put_le32(h + kChecksumAt, record_checksum(active_salt_crc_, active_bytes_ + pos, covered));
        pos += kRecordHeaderBytes + length;
    }
    return sequence;
}

std::error_code LogStore::fail(std::error_code ec) {
    failed_ = ec;
    return ec;
}

std::error_code LogStore::start_segment(std::uint64_t number, bool replace) {
    std::string path = join(dir_, segment_file_name(number));
    // O_EXCL: a segment we did not expect to exist must never be overwritten.
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return errno_code();
    std::uint64_t salt = random_salt();
    Bytes header = segment_header(number, salt);
    std::error_code ec = write_all_at(fd, header, 0);
    if (!ec) ec = sync_file(fd, options_.durability);
    // The directory entry must be durable too, or a crash could lose the whole file.
    if (!ec) ec = sync_file(dir_fd_, options_.durability);
    if (ec) {
        ::close(fd);
        return ec;
    }
    if (active_fd_ >= 0) ::close(active_fd_);
    active_fd_ = fd;
    active_segment_ = number;
    active_bytes_ = active_allocated_ = header.size();
    active_salt_crc_ = salt_crc(salt);
    if (replace) segments_.pop_back();  // the torn one, empty of records
    segments_.push_back(Segment{number, active_bytes_, 0});
    return {};
}

// ---- opening and recovery ----

LogStore::LogStore(std::string dir, Options options, int lock_fd, int dir_fd)
    : dir_(std::move(dir)), options_(options), lock_fd_(lock_fd), dir_fd_(dir_fd) {
    if (options_.delete_in_background) reaper_ = std::make_unique<SegmentReaper>(dir_fd_, options_.durability);
}

LogStore::~LogStore() {
    reaper_.reset();  // deletes what it was given, with the directory still open and locked
    if (active_fd_ >= 0) ::close(active_fd_);
    if (dir_fd_ >= 0) ::close(dir_fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

OpenResult LogStore::open(const std::string& dir, Options options) {
    OpenResult result;
    auto failed = [&](StoreError e) {
        result.store.reset();
        result.recovered = {};
        result.error = std::move(e);
        return std::move(result);
    };

    DirState state;
    if (auto refused = inspect_dir(dir, options, state)) return failed(std::move(*refused));
    if (!state.has_log && options.expect_existing_log) {
        StoreError e;
        e.kind = StoreError::Kind::corrupt;
        e.path = dir;
        e.reason = "the log is missing (no " + segment_file_name(1) +
                   ") in a data dir that has taken part in a cluster, so its votes and promises are lost; "
                   "refusing to start, nothing was created (replace this member)";
        return failed(std::move(e));
    }

    std::error_code ec;
    bool created = std::filesystem::create_directories(dir, ec);
    if (ec) return failed(io_error(dir, "cannot create the data dir", ec));
    if (created) {
        std::string parent = std::filesystem::absolute(dir).parent_path().string();
        if ((ec = fsync_path(parent, options.durability)))
            return failed(io_error(parent, "cannot fsync", ec));
    }

    // One server per data dir: two writers would interleave records and destroy the log.
    std::string lock_path = join(dir, "LOCK");
    int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) return failed(io_error(lock_path, "cannot open the lock file", errno_code()));
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        auto code = errno_code();
        ::close(lock_fd);
        if (code == std::errc::resource_unavailable_try_again || code == std::errc::operation_would_block) {
            StoreError e;
            e.kind = StoreError::Kind::locked;
            e.path = dir;
            e.reason = "data dir is in use: another ballot-server holds its lock (" + lock_path +
                       "); stop it or choose another --data-dir";
            e.code = code;
            return failed(std::move(e));
        }
        return failed(io_error(lock_path, "cannot lock", code));
    }
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        auto code = errno_code();
        ::close(lock_fd);
        return failed(io_error(dir, "cannot open the data dir", code));
    }
    result.store.reset(new LogStore(dir, options, lock_fd, dir_fd));
    LogStore& store = *result.store;
    // Before any segment: a crash in between leaves a dir that is new by every test.
    if (!state.has_format && (ec = write_format(dir, dir_fd, options.engine, options.durability)))
        return failed(io_error(join(dir, kFormatFile), "cannot write", ec));

    // What a crash left of a segment the reaper had already renamed out of the log.
    if ((ec = remove_doomed_segments(dir)))
        return failed(io_error(dir, "cannot delete a compacted segment left by a crash", ec));
    std::vector<std::uint64_t> numbers;
    if ((ec = list_segments(dir, numbers))) return failed(io_error(dir, "cannot list the data dir", ec));
    if (auto gap = missing_segment(dir, numbers)) return failed(std::move(*gap));

    Replay replay;
    Cursor cursor;
    if (!numbers.empty() && numbers.front() != 1) cursor.next_sequence = 0;  // runs on from the first record
    Scan last_scan;
    for (std::size_t i = 0; i < numbers.size(); ++i) {
        std::string path = join(dir, segment_file_name(numbers[i]));
        MappedSegment segment;
        if ((ec = segment.open(path))) return failed(io_error(path, "cannot read", ec));
        replay.begin_segment(numbers[i]);
        Scan scan = scan_segment(segment.bytes(), numbers[i], options.codec, replay, cursor);
        replay.end_segment(segment.bytes().size());
        bool last = i + 1 == numbers.size();
        if (scan.stop == Scan::Stop::corrupt) return failed(corrupt_error(path, scan));
        if ((scan.stop == Scan::Stop::torn || scan.stop == Scan::Stop::unused) && !last) {
            scan.reason += ", in a segment that is not the last";
            return failed(corrupt_error(path, scan));
        }
        last_scan = scan;
    }
    // Only compaction deletes segments, and it always leaves its point behind (log_store.h).
    if (!numbers.empty() && numbers.front() != 1 && !replay.compaction_recorded()) {
        StoreError e;
        e.kind = StoreError::Kind::corrupt;
        e.path = join(dir, segment_file_name(1));
        e.reason = segment_file_name(1) + " missing: the log starts at " +
                   segment_file_name(numbers.front()) +
                   " but records no compaction that could have deleted the segments before it";
        return failed(std::move(e));
    }
    result.recovered = replay.take();
    result.recovered.compacted_below = replay.compacted_below;
    store.next_sequence_ = cursor.next_sequence;
    store.segments_ = std::move(replay.segments);
    store.metadata_ = result.recovered.metadata;
    store.metadata_segment_ = replay.metadata_segment;
    store.compacted_below_ = replay.compacted_below;
    store.compaction_segment_ = replay.compaction_segment;

    if (numbers.empty()) {
        result.created_log = true;
        if ((ec = store.start_segment(1, false)))
            return failed(io_error(join(dir, segment_file_name(1)), "cannot create", ec));
        return result;
    }
    if (last_scan.stop == Scan::Stop::torn) {
        std::string path = join(dir, segment_file_name(numbers.back()));
        result.torn_bytes_dropped = store.segments_.back().bytes - last_scan.offset;
        if (result.torn_bytes_dropped > 0)
            result.torn_message = path + ": dropped " + std::to_string(result.torn_bytes_dropped) +
                                  " bytes of a torn " + last_scan.what + " at byte offset " +
                                  std::to_string(last_scan.offset) + " (" + last_scan.reason +
                                  "); it was never acknowledged, the node catches up from its peers";
    }
    std::optional<std::uint64_t> cut_at;
    if (last_scan.stop == Scan::Stop::torn) cut_at = last_scan.offset;
    // Preallocated room stays, and the next record goes where the zeros begin.
    const std::uint64_t allocated = store.segments_.back().bytes;
    if (last_scan.stop == Scan::Stop::unused) store.segments_.back().bytes = last_scan.offset;
    if (auto e = store.open_last_segment(cut_at, allocated, cursor.salt_crc)) return failed(std::move(*e));
    // A crash may have come between a compaction and the deletions it allowed: finish them.
    if ((ec = store.delete_compacted_segments()))
        return failed(io_error(dir, "cannot delete the log segments compaction emptied", ec));
    return result;
}

std::optional<StoreError> LogStore::open_last_segment(std::optional<std::uint64_t> cut_at,
                                                      std::uint64_t allocated, std::uint32_t salt_crc) {
    Segment& last = segments_.back();
    std::string path = join(dir_, segment_file_name(last.number));
    if (cut_at == 0u) {
        // The crash came while the segment was being created: write its header again.
        if (auto ec = start_segment(last.number, true)) return io_error(path, "cannot rewrite", ec);
        return std::nullopt;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "cannot open for writing", errno_code());
    active_fd_ = fd;
    active_segment_ = last.number;
    active_bytes_ = last.bytes;
    active_allocated_ = allocated;
    active_salt_crc_ = salt_crc;
    if (cut_at) {
        // Cut the torn record away for good before anything is appended after it.
        if (::ftruncate(fd, static_cast<off_t>(*cut_at)) != 0)
            return io_error(path, "cannot truncate the torn tail", errno_code());
        if (auto ec = sync_file(fd, options_.durability))
            return io_error(path, "cannot truncate the torn tail", ec);
        active_bytes_ = active_allocated_ = last.bytes = *cut_at;
    }
    return std::nullopt;
}

}  // namespace ballot
