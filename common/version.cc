#include "common/version.h"

#include "ballot_git_commit.h"  // generated at build time (cmake/git_commit.cmake)

namespace ballot {

std::string project_version() { return BALLOT_VERSION; }

std::string version_line(const std::string& binary) {
    return binary + " " + BALLOT_VERSION + " (" + BALLOT_GIT_COMMIT + ")";
}

}  // namespace ballot
