#include "common/membership_guard.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

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

void fsync_or_throw(int fd, const std::string& path) {
    if (::fsync(fd) != 0) throw std::runtime_error(path + ": fsync failed: " + std::strerror(errno));
}

void write_atomically(const std::string& dir, const std::string& name, const Bytes& body) {
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
    fsync_or_throw(fd, tmp);
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        throw std::runtime_error(path + ": rename failed: " + std::strerror(errno));
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) throw std::runtime_error(dir + ": cannot open: " + std::strerror(errno));
    fsync_or_throw(dfd, dir);
    ::close(dfd);
}

std::string hex(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

MembershipGuard::MembershipGuard(std::string dir, std::uint64_t fresh_identity) : dir_(std::move(dir)) {
    if (auto body = read_checked(dir_ + "/IDENTITY")) {
        Reader r(*body);
        identity_ = r.u64();
        if (!r.finish() || identity_ == 0)
            throw std::runtime_error(dir_ + "/IDENTITY: corrupt (bad identity at byte offset 8)");
    } else {
        identity_ = fresh_identity;
        Bytes b;
        Writer(b).u64(identity_);
        write_atomically(dir_, "IDENTITY", b);
    }
    if (auto body = read_checked(dir_ + "/JOINED")) joined_ = true;
    if (auto body = read_checked(dir_ + "/PEERS")) {
        Reader r(*body);
        std::uint32_t n = r.count(16);
        for (std::uint32_t i = 0; i < n; ++i) {
            NodeId id = r.u64();
            peers_[id] = r.u64();
        }
        if (!r.finish()) throw std::runtime_error(dir_ + "/PEERS: corrupt (bad peer list at byte offset 8)");
    }
}

std::optional<std::string> MembershipGuard::admit(NodeId peer, std::uint64_t peer_identity) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) {
        peers_[peer] = peer_identity;
        save_peers();
        return std::nullopt;
    }
    if (it->second == peer_identity) return std::nullopt;
    return "node " + std::to_string(peer) + " presents data dir " + hex(peer_identity) +
           " but was a member with data dir " + hex(it->second) +
           ": it lost or replaced its state, so it may have forgotten votes or promises; restore its data "
           "dir, or wipe "
           "the whole cluster to start over";
}

void MembershipGuard::mark_joined() {
    if (joined_) return;
    write_atomically(dir_, "JOINED", Bytes{});
    joined_ = true;
}

void MembershipGuard::save_peers() {
    Bytes b;
    Writer w(b);
    w.u32(static_cast<std::uint32_t>(peers_.size()));
    for (auto& [id, identity] : peers_) {
        w.u64(id);
        w.u64(identity);
    }
    write_atomically(dir_, "PEERS", b);
}

}  // namespace ballot
