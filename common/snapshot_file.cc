#include "common/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "common/codec.h"
#include "common/crc32c.h"

namespace ballot {

namespace {

constexpr std::string_view kHeaderMagic = "BALLOTSN";
constexpr std::string_view kFooterMagic = "BALLOTSE";
constexpr std::string_view kPrefix = "snapshot-";
constexpr std::string_view kTempSuffix = ".tmp";
// magic, version, index, metadata length, (metadata), crc
constexpr std::size_t kFixedHeaderBytes = 8 + 4 + 8 + 4 + 4;
// magic, payload length, payload crc, footer crc
constexpr std::size_t kFooterBytes = 8 + 8 + 4 + 4;
// How much a scan reads at a time.
constexpr std::size_t kScanChunk = 1u << 20;
// The pieces a state machine's decoder is fed: what a restore holds of the file at a time.
constexpr std::size_t kDecodePieceBytes = 256u << 10;

std::error_code errno_code() {
    return {errno, std::generic_category()};
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string describe(const std::string& file, const std::string& what, std::error_code ec = {}) {
    std::string out = file + ": " + what;
    if (ec) out += ": " + ec.message();
    return out;
}

Bytes encode_header(const SnapshotMeta& meta) {
    Bytes out;
    Writer w(out);
    w.raw(as_bytes(kHeaderMagic));
    w.u32(kSnapshotFormatVersion);
    w.u64(meta.last_included_index);
    w.u32(static_cast<std::uint32_t>(meta.engine_metadata.size()));
    w.raw(meta.engine_metadata);
    w.u32(crc32c(out));
    return out;
}

Bytes encode_footer(std::uint64_t payload_bytes, std::uint32_t payload_crc) {
    Bytes out;
    Writer w(out);
    w.raw(as_bytes(kFooterMagic));
    w.u64(payload_bytes);
    w.u32(payload_crc);
    w.u32(crc32c(out));
    return out;
}

bool has_magic(Reader& r, std::string_view magic) {
    for (char c : magic) {
        if (r.u8() != static_cast<std::uint8_t>(c)) return false;
    }
    return r.ok();
}

// Reads exactly `n` bytes at `offset`, or says why not.
std::string read_exactly(SnapshotDir::ReadableFile& file, const std::string& name, std::uint64_t offset,
                         std::size_t n, Bytes& out) {
    out.resize(n);
    std::size_t got = 0;
    if (auto ec = file.read(offset, out, got)) return describe(name, "cannot read", ec);
    if (got != n) return describe(name, "truncated (torn write?)");
    return {};
}

}  // namespace

// ---- PosixSnapshotDir ----

namespace {

class PosixWritable final : public SnapshotDir::WritableFile {
public:
    PosixWritable(int fd, Durability durability) : fd_(fd), durability_(durability) {}
    ~PosixWritable() override { ::close(fd_); }
    std::error_code append(std::span<const std::uint8_t> bytes) override {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno_code();
            }
            bytes = bytes.subspan(static_cast<std::size_t>(n));
            written_ += static_cast<std::uint64_t>(n);
        }
        if (written_ - written_behind_ >= kWriteBehindBytes) {
            if (auto ec = write_behind(fd_, written_, durability_)) return ec;
            written_behind_ = written_;
        }
        return {};
    }
    std::error_code sync() override { return sync_file(fd_, durability_); }

private:
    // How much is written between two write_behind() calls (common/durability.h). Written whole
    // and fsync'ed at the end, a 14 MB snapshot held the log fdatasyncs of every node on the disk
    // for 15-17 ms at once (perf trace during ballot-bench --fail-follower-for); 256 KiB here
    // measured no better than a MiB.
    static constexpr std::uint64_t kWriteBehindBytes = 1u << 20;

    int fd_;
    Durability durability_;
    std::uint64_t written_ = 0;
    std::uint64_t written_behind_ = 0;
};

class PosixReadable final : public SnapshotDir::ReadableFile {
public:
    PosixReadable(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
    ~PosixReadable() override { ::close(fd_); }
    std::uint64_t size() const override { return size_; }
    std::error_code read(std::uint64_t offset, std::span<std::uint8_t> into, std::size_t& got) override {
        got = 0;
        while (got < into.size()) {
            const ssize_t n =
                ::pread(fd_, into.data() + got, into.size() - got, static_cast<off_t>(offset + got));
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno_code();
            }
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        return {};
    }

private:
    int fd_;
    std::uint64_t size_;
};

}  // namespace

std::error_code PosixSnapshotDir::list(std::vector<std::string>& names) {
    names.clear();
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(path_, ec)) {
        names.push_back(item.path().filename().string());
    }
    return ec;
}

std::error_code PosixSnapshotDir::create(const std::string& name, std::unique_ptr<WritableFile>& out) {
    const int fd = ::open(full(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_code();
    out = std::make_unique<PosixWritable>(fd, durability_);
    return {};
}

std::error_code PosixSnapshotDir::open(const std::string& name, std::unique_ptr<ReadableFile>& out) {
    const int fd = ::open(full(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size < 0) {
        auto ec = errno_code();
        ::close(fd);
        return ec;
    }
    out = std::make_unique<PosixReadable>(fd, static_cast<std::uint64_t>(size));
    return {};
}

std::error_code PosixSnapshotDir::rename(const std::string& from, const std::string& to) {
    return ::rename(full(from).c_str(), full(to).c_str()) == 0 ? std::error_code{} : errno_code();
}

std::error_code PosixSnapshotDir::remove(const std::string& name) {
    return ::unlink(full(name).c_str()) == 0 ? std::error_code{} : errno_code();
}

std::error_code PosixSnapshotDir::sync() {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    std::error_code ec = sync_file(fd, durability_);
    ::close(fd);
    return ec;
}

// ---- names ----

std::string snapshot_file_name(Index index) {
    return std::string(kPrefix) + std::to_string(index);
}
std::string snapshot_temp_name(Index index) {
    return snapshot_file_name(index) + std::string(kTempSuffix);
}

std::optional<Index> parse_snapshot_file_name(const std::string& name) {
    if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
    const char* first = name.data() + kPrefix.size();
    const char* last = name.data() + name.size();
    if (*first < '0' || *first > '9' || (*first == '0' && last - first > 1)) return std::nullopt;
    Index index = 0;
    auto [end, ec] = std::from_chars(first, last, index);
    if (ec != std::errc{} || end != last) return std::nullopt;
    return index;
}

namespace {
// "snapshot-<index>.tmp" -> true
bool is_temp_name(const std::string& name) {
    if (name.size() <= kTempSuffix.size() ||
        name.compare(name.size() - kTempSuffix.size(), kTempSuffix.size(), kTempSuffix) != 0) {
        return false;
    }
    return parse_snapshot_file_name(name.substr(0, name.size() - kTempSuffix.size())).has_value();
}
}  // namespace

// ---- SnapshotWriter ----

SnapshotWriter::SnapshotWriter(SnapshotDir& dir, SnapshotMeta meta,
                               std::unique_ptr<SnapshotDir::WritableFile> file)
    : dir_(dir),
      meta_(std::move(meta)),
      temp_(snapshot_temp_name(meta_.last_included_index)),
      file_(std::move(file)) {}

SnapshotWriter::~SnapshotWriter() {
    abort();
}

std::unique_ptr<SnapshotWriter> SnapshotWriter::start(SnapshotDir& dir, SnapshotMeta meta,
                                                      std::string& error) {
    const std::string temp = snapshot_temp_name(meta.last_included_index);
    const std::string where = dir.path() + "/" + temp;
    if (meta.engine_metadata.size() > kMaxSnapshotMetadata) {
        error = describe(where, "engine metadata of " + std::to_string(meta.engine_metadata.size()) +
                                    " bytes is over the bound of " + std::to_string(kMaxSnapshotMetadata));
        return nullptr;
    }
    std::unique_ptr<SnapshotDir::WritableFile> file;
    if (auto ec = dir.create(temp, file)) {
        error = describe(where, "cannot create", ec);
        return nullptr;
    }
    const Bytes header = encode_header(meta);
    std::unique_ptr<SnapshotWriter> writer(new SnapshotWriter(dir, std::move(meta), std::move(file)));
    if (auto ec = writer->file_->append(header)) {
        error = writer->failed("cannot write the header", ec);
        return nullptr;
    }
    return writer;
}

std::string SnapshotWriter::failed(const std::string& what, std::error_code ec) {
    failed_ = true;
    return describe(dir_.path() + "/" + temp_, what, ec);
}

std::string SnapshotWriter::append(std::span<const std::uint8_t> payload) {
    if (done_ || failed_)
        return describe(dir_.path() + "/" + temp_, "append to a closed or failed snapshot writer");
    if (auto ec = file_->append(payload)) return failed("cannot write", ec);
    payload_crc_ = crc32c(payload, payload_crc_);
    payload_bytes_ += payload.size();
    return {};
}

std::string SnapshotWriter::append(std::string_view payload) {
    return append(as_bytes(payload));
}

std::string SnapshotWriter::commit() {
    if (done_ || failed_)
        return describe(dir_.path() + "/" + temp_, "commit of a closed or failed snapshot writer");
    if (auto ec = file_->append(encode_footer(payload_bytes_, payload_crc_)))
        return failed("cannot write", ec);
    if (auto ec = file_->sync()) return failed("cannot fsync", ec);
    file_.reset();
    const std::string name = snapshot_file_name(meta_.last_included_index);
    if (auto ec = dir_.rename(temp_, name)) return failed("cannot rename to " + name, ec);
    done_ = true;  // the temporary is gone: nothing for abort() to delete
    if (auto ec = dir_.sync())
        return describe(dir_.path(), "cannot fsync the directory after writing " + name, ec);

    // Keep the newest kSnapshotsKept, by index. Older ones are deleted only now that the new one
    // is durable, so a crash never leaves fewer than before.
    std::vector<std::string> names;
    if (auto ec = dir_.list(names)) return describe(dir_.path(), "cannot list", ec);
    std::vector<Index> indexes;
    for (const std::string& n : names) {
        if (auto index = parse_snapshot_file_name(n)) indexes.push_back(*index);
    }
    std::sort(indexes.rbegin(), indexes.rend());
    for (std::size_t i = kSnapshotsKept; i < indexes.size(); ++i) {
        const std::string old = snapshot_file_name(indexes[i]);
        if (auto ec = dir_.remove(old)) return describe(dir_.path() + "/" + old, "cannot delete", ec);
    }
    if (indexes.size() > kSnapshotsKept) {
        if (auto ec = dir_.sync()) return describe(dir_.path(), "cannot fsync the directory", ec);
    }
    return {};
}

void SnapshotWriter::abort() {
    if (done_) return;
    done_ = true;
    file_.reset();
    (void)dir_.remove(temp_);
}

std::string read_snapshot_payload(SnapshotDir& dir, const std::string& name, std::string& payload) {
    std::string error;
    auto reader = SnapshotReader::open(dir, name, error);
    if (!reader) return error;
    payload.clear();
    payload.reserve(reader->info().payload_bytes);
    std::string part;
    while (!reader->done()) {
        error = reader->next(1 << 20, part);
        if (!error.empty()) return error;
        payload += part;
    }
    return {};
}

std::string decode_snapshot_file(SnapshotDir& dir, const std::string& name, SnapshotDecoder& decoder,
                                 bool* malformed) {
    if (malformed) *malformed = false;
    std::string error;
    auto reader = SnapshotReader::open(dir, name, error);
    if (!reader) return error;
    std::string part;
    bool decodes = true;
    while (!reader->done()) {
        error = reader->next(kDecodePieceBytes, part);
        if (!error.empty()) return error;  // a checksum mismatch at the end too: the decoder's state is dropped
        decodes = decodes && decoder.feed(part);
    }
    if (decodes && decoder.finish()) return {};
    if (malformed) *malformed = true;
    return dir.path() + "/" + name + ": not a state machine snapshot this build can read";
}

// ---- SnapshotReader ----

SnapshotReader::SnapshotReader(std::unique_ptr<SnapshotDir::ReadableFile> file, SnapshotFileInfo info,
                               std::uint64_t start)
    : file_(std::move(file)), info_(std::move(info)), payload_start_(start) {}

std::unique_ptr<SnapshotReader> SnapshotReader::open(SnapshotDir& dir, const std::string& name,
                                                     std::string& error) {
    const std::string where = dir.path() + "/" + name;
    std::unique_ptr<SnapshotDir::ReadableFile> file;
    if (auto ec = dir.open(name, file)) {
        error = describe(where, "cannot open", ec);
        return nullptr;
    }
    const std::uint64_t size = file->size();
    if (size < kFixedHeaderBytes + kFooterBytes) {
        error =
            describe(where, "too short to be a snapshot (" + std::to_string(size) + " bytes; torn write?)");
        return nullptr;
    }

    // Header: the fixed part up to the metadata length, then the metadata and its checksum.
    Bytes head;
    if ((error = read_exactly(*file, where, 0, 8 + 4 + 8 + 4, head)).size()) return nullptr;
    Reader r(head);
    SnapshotFileInfo info;
    info.name = name;
    if (!has_magic(r, kHeaderMagic)) {
        error = describe(where, "not a snapshot file (bad magic)");
        return nullptr;
    }
    const std::uint32_t version = r.u32();
    info.meta.last_included_index = r.u64();
    const std::uint32_t metadata_bytes = r.u32();
    if (version != kSnapshotFormatVersion) {
        error = describe(where, "unknown snapshot format version " + std::to_string(version));
        return nullptr;
    }
    const std::uint64_t header_bytes = kFixedHeaderBytes + std::uint64_t{metadata_bytes};
    if (metadata_bytes > kMaxSnapshotMetadata || header_bytes + kFooterBytes > size) {
        error = describe(where, "corrupt header (metadata length " + std::to_string(metadata_bytes) + ")");
        return nullptr;
    }
    Bytes rest;
    if ((error = read_exactly(*file, where, head.size(), metadata_bytes + 4, rest)).size()) return nullptr;
    const std::uint32_t header_crc =
        crc32c(std::span<const std::uint8_t>(rest.data(), metadata_bytes), crc32c(head));
    Reader tail(std::span<const std::uint8_t>(rest.data() + metadata_bytes, 4));
    if (tail.u32() != header_crc) {
        error = describe(where, "header checksum mismatch");
        return nullptr;
    }
    info.meta.engine_metadata.assign(rest.begin(), rest.begin() + metadata_bytes);

    // Footer: its own checksum, then the payload length must account for every byte.
    Bytes foot;
    if ((error = read_exactly(*file, where, size - kFooterBytes, kFooterBytes, foot)).size()) return nullptr;
    Reader f(foot);
    const bool magic = has_magic(f, kFooterMagic);
    info.payload_bytes = f.u64();
    const std::uint32_t payload_crc = f.u32();
    const std::uint32_t footer_crc = f.u32();
    if (!magic || footer_crc != crc32c(std::span<const std::uint8_t>(foot.data(), kFooterBytes - 4))) {
        error = describe(where, "footer missing or corrupt (torn write?)");
        return nullptr;
    }
    if (header_bytes + info.payload_bytes + kFooterBytes != size) {
        error = describe(where, "size " + std::to_string(size) + " does not match its payload length " +
                                    std::to_string(info.payload_bytes));
        return nullptr;
    }
    if (auto named = parse_snapshot_file_name(name); named && *named != info.meta.last_included_index) {
        error = describe(where, "holds index " + std::to_string(info.meta.last_included_index) +
                                    ", not the one its name says");
        return nullptr;
    }
    std::unique_ptr<SnapshotReader> reader(
        new SnapshotReader(std::move(file), std::move(info), header_bytes));
    reader->where_ = where;
    reader->expected_crc_ = payload_crc;
    return reader;
}

std::string SnapshotReader::next(std::size_t max_bytes, std::string& out) {
    out.clear();
    const std::string& where = where_;
    if (failed_) return describe(where, "read after a failure");
    const std::uint64_t left = info_.payload_bytes - offset_;
    if (left == 0) return {};
    out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, std::max<std::size_t>(max_bytes, 1))));
    std::size_t got = 0;
    auto span = std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size());
    if (auto ec = file_->read(payload_start_ + offset_, span, got); ec || got != out.size()) {
        failed_ = true;
        out.clear();
        return describe(where, ec ? "cannot read" : "truncated while reading", ec);
    }
    crc_ = crc32c(span, crc_);
    offset_ += got;
    if (offset_ == info_.payload_bytes && crc_ != expected_crc_) {
        failed_ = true;
        out.clear();
        return describe(where, "payload checksum mismatch (corrupt snapshot)");
    }
    return {};
}

// ---- scanning ----

namespace {
// Reads a whole snapshot to check its payload checksum.
std::string verify(SnapshotDir& dir, const std::string& name, SnapshotFileInfo& info) {
    std::string error;
    auto reader = SnapshotReader::open(dir, name, error);
    if (!reader) return error;
    std::string chunk;
    while (!reader->done()) {
        if (auto e = reader->next(kScanChunk, chunk); !e.empty()) return e;
    }
    info = reader->info();
    return {};
}
}  // namespace

SnapshotScan scan_snapshots(SnapshotDir& dir) {
    SnapshotScan scan;
    std::vector<std::string> names;
    if (auto ec = dir.list(names)) {
        scan.error = describe(dir.path(), "cannot list", ec);
        return scan;
    }
    std::vector<std::pair<Index, std::string>> finals;
    for (std::string& name : names) {
        if (auto index = parse_snapshot_file_name(name)) {
            finals.emplace_back(*index, std::move(name));
        } else if (is_temp_name(name)) {
            scan.temporaries.push_back(std::move(name));
        }
    }
    std::sort(finals.rbegin(), finals.rend());
    std::sort(scan.temporaries.begin(), scan.temporaries.end());
    for (auto& [index, name] : finals) {
        SnapshotFileInfo info;
        if (std::string why = verify(dir, name, info); why.empty()) {
            scan.valid.push_back(std::move(info));
        } else {
            scan.rejected.push_back(RejectedSnapshot{name, index, std::move(why)});
        }
    }
    return scan;
}

std::string remove_temporaries(SnapshotDir& dir, const SnapshotScan& scan) {
    for (const std::string& name : scan.temporaries) {
        if (auto ec = dir.remove(name); ec && ec != std::errc::no_such_file_or_directory) {
            return describe(dir.path() + "/" + name, "cannot delete", ec);
        }
    }
    if (!scan.temporaries.empty()) {
        if (auto ec = dir.sync()) return describe(dir.path(), "cannot fsync the directory", ec);
    }
    return {};
}

}  // namespace ballot
