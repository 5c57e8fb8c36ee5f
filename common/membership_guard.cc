#include "common/membership_guard.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "common/codec.h"
#include "common/crc32c.h"

namespace ballot {

namespace {

constexpr std::uint32_t kMagic = 0x44494C42;  // "BLID"

// File body: u32 magic, u32 crc32c of the rest, then the content.
std::optional<Bytes> read_checked(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    Bytes all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Reader r(all);
    std::uint32_t magic = r.u32(), crc = r.u32();
    if (!r.ok() || magic != kMagic)
        throw std::runtime_error(path + ": not a Ballot file (bad magic at byte offset 0)");
    Bytes body(all.begin() + 8, all.end());
    if (crc32c(body) != crc)
        throw std::runtime_error(path + ": corrupt (checksum mismatch at byte offset 4)");
    return body;
}

void fsync_or_throw(int fd, const std::string& path, Durability durability) {
    if (auto ec = sync_file(fd, durability))
        throw std::runtime_error(path + ": fsync failed: " + ec.message());
}

void write_atomically(const std::string& dir, const std::string& name, const Bytes& body,
                      Durability durability) {
    Bytes all;
    Writer w(all);
    w.u32(kMagic);
    w.u32(crc32c(body));
    w.raw(body);
    std::string path = dir + "/" + name, tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(tmp + ": cannot create: " + std::strerror(errno));
    bool ok = ::write(fd, all.data(), all.size()) == static_cast<ssize_t>(all.size());
    if (!ok) {
        ::close(fd);
        throw std::runtime_error(tmp + ": write failed");
    }
    fsync_or_throw(fd, tmp, durability);
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        throw std::runtime_error(path + ": rename failed: " + std::strerror(errno));
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) throw std::runtime_error(dir + ": cannot open: " + std::strerror(errno));
    fsync_or_throw(dfd, dir, durability);
    ::close(dfd);
}

std::string hex(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

// IDENTITY's body: u64 identity, then u8 1 if the dir was created by a start with --join, else 0
// (absent in dirs written before it was recorded).
MembershipGuard::MembershipGuard(std::string dir, std::uint64_t fresh_identity, Durability durability, bool join)
    : dir_(std::move(dir)), durability_(durability) {
    if (auto body = read_checked(dir_ + "/IDENTITY")) {
        Reader r(*body);
        identity_ = r.u64();
        if (r.remaining() == 1) {
            const std::uint8_t origin = r.u8();
            if (origin > 1) throw std::runtime_error(dir_ + "/IDENTITY: corrupt (bad origin at byte offset 16)");
            created_by_join_ = origin == 1;
        }
        if (!r.finish() || identity_ == 0)
            throw std::runtime_error(dir_ + "/IDENTITY: corrupt (bad identity at byte offset 8)");
    } else {
        identity_ = fresh_identity;
        created_by_join_ = join;
        Bytes b;
        Writer w(b);
        w.u64(identity_);
        w.boolean(join);
        write_atomically(dir_, "IDENTITY", b, durability_);
    }
    if (auto body = read_checked(dir_ + "/JOINED")) joined_ = true;
    if (auto body = read_checked(dir_ + "/PEERS")) {
        Reader r(*body);
        std::uint32_t n = r.count(24);
        for (std::uint32_t i = 0; i < n; ++i) {
            NodeId id = r.u64();
            Remembered& p = peers_[id];
            p.identity = r.u64();
            p.incarnation = r.u64();
            p.mark = r.u64();
        }
        if (!r.finish()) throw std::runtime_error(dir_ + "/PEERS: corrupt (bad peer list at byte offset 8)");
    }
    saver_ = std::thread([this] { run_saver(); });
}

MembershipGuard::~MembershipGuard() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    saver_.join();
}

bool MembershipGuard::has_taken_part(const std::string& dir) {
    std::error_code ec;
    return std::filesystem::exists(dir + "/JOINED", ec);
}

void MembershipGuard::admit(NodeId peer, const DataDirClaim& claim, AdmitDone done) {
    std::unique_lock lock(mutex_);
    if (auto configured = configured_.find(peer); configured != configured_.end() && configured->second != 0) {
        const std::uint64_t named = configured->second;
        if (claim.identity != named) {
            Verdict refusal = std::string(kNotConfigured) + ": node " + std::to_string(peer) + " presents data dir " +
                              hex(claim.identity) + ", but the configuration names data dir " + hex(named) +
                              " for it: this data dir was replaced or never added; start node " +
                              std::to_string(peer) + " on data dir " + hex(named) +
                              ", or replace it (MEMBER REMOVE, a wiped dir started with --join, MEMBER ADD)";
            lock.unlock();
            done(std::move(refusal));
            return;
        }
        // The configuration replaced the data dir remembered: this node missed the removal.
        if (auto known = peers_.find(peer); known != peers_.end() && known->second.identity != named) {
            peers_.erase(known);
            dirty_ = true;
        }
    }
    if (auto known = peers_.find(peer); known != peers_.end()) {
        Verdict verdict = check_known(peer, known->second, claim);
        lock.unlock();
        done(std::move(verdict));
        return;
    }
    // First seen: the background writer records the identity durably, then admits.
    auto [it, first] = newcomers_.try_emplace(peer);
    Newcomer& newcomer = it->second;
    if (first) {
        newcomer.remembered = Remembered{claim.identity, claim.incarnation, claim.mark};
    } else if (newcomer.remembered.identity != claim.identity) {
        Verdict refusal = std::string(kTwoClaimants) + ": node " + std::to_string(peer) +
                          " presents data dir " + hex(claim.identity) + " while data dir " +
                          hex(newcomer.remembered.identity) +
                          " of the same node is being admitted: two processes claim one node id?";
        lock.unlock();
        done(std::move(refusal));
        return;
    }
    newcomer.waiting.push_back(std::move(done));
    wake_.notify_one();
}

MembershipGuard::Verdict MembershipGuard::admit_and_wait(NodeId peer, const DataDirClaim& claim) {
    std::promise<Verdict> verdict;
    std::future<Verdict> ready = verdict.get_future();
    admit(peer, claim, [&verdict](Verdict v) { verdict.set_value(std::move(v)); });
    return ready.get();
}

MembershipGuard::Verdict MembershipGuard::check_known(NodeId peer, Remembered& known,
                                                      const DataDirClaim& claim) {
    if (known.identity != claim.identity)
        return std::string(kIdentityDiffers) + ": node " + std::to_string(peer) + " presents data dir " +
               hex(claim.identity) + " but was a member with data dir " + hex(known.identity) +
               ": it lost or replaced its state, so it may have forgotten votes or promises; restore its "
               "data dir, or wipe the whole cluster to start over";
    // The same process reconnecting may present its current mark; a new process must have
    // started from at least what was learned of the old one.
    std::uint64_t presented = claim.incarnation == known.incarnation ? claim.mark : claim.boot_mark;
    if (presented < known.mark)
        return std::string(kStaleCopy) + ": node " + std::to_string(peer) + " started from data dir " +
               hex(claim.identity) + " at high-water mark " + std::to_string(presented) +
               ", but it had reached mark " + std::to_string(known.mark) +
               ": a stale copy of its data dir (a restored backup?) that may have forgotten votes or "
               "promises; replace this member instead of restoring its old data dir";
    if (known.incarnation != claim.incarnation || claim.mark > known.mark) {
        known.incarnation = claim.incarnation;
        known.mark = std::max(known.mark, claim.mark);
        dirty_ = true;
        wake_.notify_one();
    }
    return std::nullopt;
}

void MembershipGuard::note_mark(NodeId peer, std::uint64_t incarnation, std::uint64_t mark) {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(peer);
    // Only from the process that was admitted: the transport calls this on admitted connections.
    if (it == peers_.end() || it->second.incarnation != incarnation || mark <= it->second.mark) return;
    it->second.mark = mark;
    dirty_ = true;
    wake_.notify_one();
}

void MembershipGuard::follow_configuration(std::map<NodeId, std::uint64_t> identities) {
    std::lock_guard lock(mutex_);
    configured_ = std::move(identities);
}

void MembershipGuard::forget(NodeId peer) {
    std::lock_guard lock(mutex_);
    if (peers_.erase(peer) == 0) return;
    dirty_ = true;  // PEERS is rewritten without it
    wake_.notify_one();
}

std::uint64_t MembershipGuard::remembered_mark(NodeId peer) const {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.mark;
}

std::optional<std::string> MembershipGuard::take_save_error() {
    std::lock_guard lock(mutex_);
    if (save_error_.empty()) return std::nullopt;
    return std::exchange(save_error_, {});
}

void MembershipGuard::request_join() {
    std::lock_guard lock(mutex_);
    if (joined_ || join_requested_) return;
    join_requested_ = true;
    wake_.notify_one();
}

void MembershipGuard::mark_joined() {
    if (joined_) return;
    write_atomically(dir_, "JOINED", Bytes{}, durability_);
    joined_ = true;
}

// On the background writer, mutex_ held (released during the write).
void MembershipGuard::save_joined(std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    std::string error;
    try {
        write_atomically(dir_, "JOINED", Bytes{}, durability_);
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    lock.lock();
    join_requested_ = false;
    if (error.empty())
        joined_ = true;
    else
        save_error_ = error;
}

// PEERS lists the admitted peers and the newcomers whose identity is being made durable.
Bytes MembershipGuard::encode_peers() const {
    Bytes b;
    Writer w(b);
    w.u32(static_cast<std::uint32_t>(peers_.size() + newcomers_.size()));
    auto put = [&w](NodeId id, const Remembered& p) {
        w.u64(id);
        w.u64(p.identity);
        w.u64(p.incarnation);
        w.u64(p.mark);
    };
    // A peer is in one map or the other, never both (admit looks in peers_ first).
    std::map<NodeId, const Remembered*> all;
    for (auto& [id, p] : peers_) all[id] = &p;
    for (auto& [id, n] : newcomers_) all[id] = &n.remembered;
    for (auto& [id, p] : all) put(id, *p);
    return b;
}

// Writes PEERS (the lock is released during the write), then settles the newcomers it held:
// admitted (and remembered) if the write is durable, refused with the reason if not. A failed
// write of marks alone is kept for the runtime to report (take_save_error); the marks stay
// remembered in memory.
void MembershipGuard::save_peers(std::unique_lock<std::mutex>& lock) {
    Bytes body = encode_peers();
    bool marks_grew = std::exchange(dirty_, false);
    std::vector<NodeId> written;
    for (auto& [id, n] : newcomers_) written.push_back(id);
    std::string error;
    lock.unlock();
    try {
        write_atomically(dir_, "PEERS", body, durability_);
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    lock.lock();
    // Handshakes that joined a newcomer's wait during the write are settled too: same identity.
    std::vector<std::pair<AdmitDone, Verdict>> verdicts;
    for (NodeId id : written) {
        auto it = newcomers_.find(id);
        Verdict verdict;
        if (error.empty())
            peers_[id] = it->second.remembered;
        else
            verdict = "cannot remember node " + std::to_string(id) + " durably: " + error;
        for (auto& done : it->second.waiting) verdicts.emplace_back(std::move(done), verdict);
        newcomers_.erase(it);
    }
    if (!error.empty() && marks_grew) save_error_ = error;
    lock.unlock();
    for (auto& [done, verdict] : verdicts) done(std::move(verdict));
    lock.lock();
}

// The background writer: PEERS whenever a mark grew, at most every kSaveIntervalMs; at once when
// a newcomer's handshake is waiting for its identity to be durable, or JOINED is requested. Never
// on the I/O thread.
void MembershipGuard::run_saver() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || dirty_ || !newcomers_.empty() || join_requested_; });
        if (dirty_ || !newcomers_.empty()) save_peers(lock);
        if (join_requested_) save_joined(lock);
        if (stopping_ && !dirty_ && newcomers_.empty()) return;
        wake_.wait_for(lock, std::chrono::milliseconds(kSaveIntervalMs),
                       [this] { return stopping_ || !newcomers_.empty() || join_requested_; });
    }
}

}  // namespace ballot
