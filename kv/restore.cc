#include "kv/restore.h"

#include <filesystem>
#include <optional>
#include <system_error>

#include "kv/kv_store.h"

namespace ballot::kv {

namespace fs = std::filesystem;

namespace {

// Bytes read (and written) at a time: bounded memory whatever the snapshot's size.
constexpr std::size_t kCopyChunkBytes = 1u << 20;

RestoreResult failure(RestoreResult::Status status, std::string error) {
    RestoreResult r;
    r.status = status;
    r.error = std::move(error);
    return r;
}

std::string with_cause(const std::string& what, std::error_code ec) {
    return ec ? what + ": " + ec.message() : what;
}

// Step 1: an existing data dir is never restored over (see the header for why).
std::optional<RestoreResult> refuse_existing(const std::string& data_dir) {
    std::error_code ec;
    const fs::file_status st = fs::status(data_dir, ec);
    if (ec && st.type() != fs::file_type::not_found)
        return failure(RestoreResult::Status::cannot_write,
                       with_cause("cannot inspect the data dir " + data_dir, ec));
    if (st.type() == fs::file_type::not_found) return std::nullopt;
    if (st.type() != fs::file_type::directory)
        return failure(RestoreResult::Status::cannot_write,
                       "cannot restore into the data dir " + data_dir + ": it exists and is not a directory");
    fs::directory_iterator entries(data_dir, ec);
    if (ec)
        return failure(RestoreResult::Status::cannot_write,
                       with_cause("cannot list the data dir " + data_dir, ec));
    if (entries != fs::directory_iterator{}) {
        return failure(RestoreResult::Status::data_dir_not_empty,
                       "--restore-from: the data dir " + data_dir +
                           " exists and is not empty; restoring over an existing data dir is refused: the "
                           "membership guard exists to refuse old copies of a member's data; restore into a "
                           "new, empty data dir");
    }
    return std::nullopt;
}

// The snapshot file as a SnapshotDir (its folder) and a name in it.
struct Source {
    PosixSnapshotDir dir;
    std::string name;
};

Source source_of(const std::string& file) {
    const fs::path path(file);
    std::string folder = path.parent_path().string();
    return Source{PosixSnapshotDir(folder.empty() ? "." : folder), path.filename().string()};
}

// The payload must be the KV store's own snapshot encoding, taken at the index the file's header
// names: a checksummed file of anything else would otherwise start a node on nonsense.
std::string check_kv_payload(const std::string& where, const SnapshotFileInfo& info, std::string_view first) {
    const std::optional<Index> index = KvStore::snapshot_index(first);
    if (!index) return where + ": not a snapshot of the KV store (its payload does not start like one)";
    if (*index != info.meta.last_included_index) {
        return where + ": its KV data is at index " + std::to_string(*index) + " but its header says " +
               std::to_string(info.meta.last_included_index);
    }
    return {};
}

// Reads the whole snapshot, checking everything the file and the KV store can check, and
// appends the payload to `copy` if there is one. Empty string: the file is good, `info` is its
// header; otherwise what is wrong (and `copy` holds a partial payload: abort it).
std::string read_through(Source& source, SnapshotFileInfo& info, SnapshotWriter* copy,
                         std::string& write_error) {
    std::string error;
    auto reader = SnapshotReader::open(source.dir, source.name, error);
    if (!reader) return error;
    info = reader->info();
    const std::string where = source.dir.path() + "/" + source.name;
    std::string chunk;
    bool first = true;
    do {
        if (std::string e = reader->next(kCopyChunkBytes, chunk); !e.empty()) return e;
        if (first) {
            if (std::string e = check_kv_payload(where, info, chunk); !e.empty()) return e;
            first = false;
        }
        if (copy != nullptr && !chunk.empty()) {
            write_error = copy->append(chunk);
            if (!write_error.empty()) return write_error;
        }
    } while (!reader->done());
    return {};
}

// Step 2: the whole file is read and checked before anything is created.
std::optional<RestoreResult> check_file(const std::string& file, SnapshotFileInfo& info) {
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (st.type() == fs::file_type::not_found)
        return failure(RestoreResult::Status::bad_file, "--restore-from " + file + ": no such file");
    if (ec) return failure(RestoreResult::Status::bad_file, with_cause("--restore-from " + file, ec));
    if (st.type() != fs::file_type::regular)
        return failure(RestoreResult::Status::bad_file, "--restore-from " + file + ": not a regular file");
    Source source = source_of(file);
    std::string unused;
    if (std::string e = read_through(source, info, nullptr, unused); !e.empty())
        return failure(RestoreResult::Status::bad_file, "--restore-from: " + e);
    return std::nullopt;
}

// fsync of a directory: the entries created in it are durable.
std::string sync_dir(const std::string& path) {
    PosixSnapshotDir dir(path);
    if (auto ec = dir.sync()) return with_cause("cannot fsync " + path, ec);
    return {};
}

fs::path parent_of(const std::string& dir) {
    fs::path p = fs::absolute(dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "d/" normalizes to "d/", whose parent is "d"
    return p.parent_path();
}

// Step 3: the copy, made durable the way every snapshot is, then the directories above it.
RestoreResult copy_in(const std::string& file, const SnapshotFileInfo& checked, const std::string& data_dir,
                      bool data_dir_existed, const SnapshotMeta& written_meta) {
    const fs::path snapshots = fs::path(data_dir) / kSnapshotsSubdir;
    std::error_code ec;
    fs::create_directories(snapshots, ec);
    if (ec)
        return failure(RestoreResult::Status::cannot_write,
                       with_cause("cannot create " + snapshots.string(), ec));

    PosixSnapshotDir target(snapshots.string());
    Source source = source_of(file);
    std::string error;
    auto writer = SnapshotWriter::start(target, written_meta, error);
    if (!writer) return failure(RestoreResult::Status::cannot_write, error);
    SnapshotFileInfo info;
    std::string write_error;
    if (std::string e = read_through(source, info, writer.get(), write_error); !e.empty()) {
        writer->abort();
        if (!write_error.empty()) return failure(RestoreResult::Status::cannot_write, e);
        return failure(RestoreResult::Status::bad_file, "--restore-from: " + e);
    }
    if (info.meta != checked.meta || info.payload_bytes != checked.payload_bytes) {
        writer->abort();
        return failure(RestoreResult::Status::bad_file,
                       "--restore-from " + file + ": the file changed while it was being restored");
    }
    if (std::string e = writer->commit(); !e.empty()) return failure(RestoreResult::Status::cannot_write, e);
    // The snapshot and its folder's entry are durable (commit); now `snapshots/` in the data dir,
    // and the data dir in its parent if restore created it.
    if (std::string e = sync_dir(data_dir); !e.empty())
        return failure(RestoreResult::Status::cannot_write, e);
    if (!data_dir_existed) {
        if (std::string e = sync_dir(parent_of(data_dir).string()); !e.empty())
            return failure(RestoreResult::Status::cannot_write, e);
    }
    RestoreResult done;
    done.written = info;
    done.written.meta = written_meta;
    done.written.name = snapshot_file_name(info.meta.last_included_index);
    return done;
}

}  // namespace

RestoreResult restore_data_dir(const std::string& file, const std::string& data_dir,
                               const std::function<Bytes(const SnapshotMeta&)>& new_engine_metadata) {
    if (auto refused = refuse_existing(data_dir)) return *refused;
    SnapshotFileInfo checked;
    if (auto bad = check_file(file, checked)) return *bad;
    SnapshotMeta written_meta = checked.meta;
    if (new_engine_metadata) {
        try {
            written_meta.engine_metadata = new_engine_metadata(checked.meta);
        } catch (const std::invalid_argument& e) {
            return failure(RestoreResult::Status::bad_file, "--restore-from " + file + ": " + e.what());
        }
    }

    std::error_code ec;
    const bool data_dir_existed = fs::exists(data_dir, ec);
    RestoreResult result = copy_in(file, checked, data_dir, data_dir_existed, written_meta);
    if (!result.ok()) {
        // Leave things as they were: the data dir was absent or empty.
        if (data_dir_existed)
            fs::remove_all(fs::path(data_dir) / kSnapshotsSubdir, ec);
        else
            fs::remove_all(data_dir, ec);
    }
    return result;
}

}  // namespace ballot::kv
