#include "common/version.h"

#include <dlfcn.h>

#include <cstddef>

#include "ballot_git_commit.h"  // generated at build time (cmake/git_commit.cmake)

namespace ballot {

std::string project_version() { return BALLOT_VERSION; }

std::string version_line(const std::string& binary) {
    return binary + " " + BALLOT_VERSION + " (" + BALLOT_GIT_COMMIT + ")";
}

// Asked of the running process rather than of the build: jemalloc's mallctl() is there only when
// jemalloc is linked in (or preloaded), and it knows its own version.
std::string mem_allocator() {
    static const std::string name = [] {
        using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
        auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
        if (!mallctl) return std::string("libc");
        const char* version = nullptr;
        std::size_t size = sizeof(version);
        if (mallctl("version", &version, &size, nullptr, 0) != 0 || !version) return std::string("jemalloc");
        return std::string("jemalloc-") + version;
    }();
    return name;  // asked once: INFO is polled
}

}  // namespace ballot
