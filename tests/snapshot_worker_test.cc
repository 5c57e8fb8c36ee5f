// The real snapshot worker (common/snapshot_worker.h): jobs run in submission order off the
// runtime's thread, each completion on the io_context's thread, and the worker thread runs at a
// lower CPU priority than the runtime's.
#define BOOST_TEST_MODULE snapshot_worker
#include "common/snapshot_worker.h"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace ballot;

namespace {

int nice_of_this_thread() {
    errno = 0;
    return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

}  // namespace

BOOST_AUTO_TEST_CASE(jobs_run_in_order_off_the_runtime_thread_and_complete_on_it) {
    boost::asio::io_context io;
    ThreadSnapshotWorker worker(io);
    const std::thread::id runtime = std::this_thread::get_id();
    std::mutex mutex;
    std::vector<int> worked;  // written on the worker
    std::vector<int> done;    // written on the runtime's thread
    bool work_off_runtime = true;
    bool done_on_runtime = true;
    constexpr int kJobs = 50;
    for (int i = 0; i < kJobs; ++i) {
        worker.run(
            [&, i] {
                std::lock_guard lock(mutex);
                worked.push_back(i);
                work_off_runtime = work_off_runtime && std::this_thread::get_id() != runtime;
            },
            [&, i] {
                done.push_back(i);
                done_on_runtime = done_on_runtime && std::this_thread::get_id() == runtime;
            });
    }
    // run() returns once no work is outstanding: each job holds a work guard until its
    // completion has run, and the bound is only against a hang.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (static_cast<int>(done.size()) < kJobs && std::chrono::steady_clock::now() < deadline) {
        io.run_for(std::chrono::milliseconds(100));
        io.restart();
    }
    std::vector<int> expected;
    for (int i = 0; i < kJobs; ++i) expected.push_back(i);
    std::lock_guard lock(mutex);
    BOOST_TEST(worked == expected, boost::test_tools::per_element());
    BOOST_TEST(done == expected, boost::test_tools::per_element());
    BOOST_TEST(work_off_runtime);
    BOOST_TEST(done_on_runtime);
}

BOOST_AUTO_TEST_CASE(the_worker_thread_yields_the_cpu_to_the_runtime) {
    boost::asio::io_context io;
    ThreadSnapshotWorker worker(io);
    const int runtime_nice = nice_of_this_thread();
    int worker_nice = -100;
    bool finished = false;
    worker.run([&] { worker_nice = nice_of_this_thread(); }, [&] { finished = true; });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!finished && std::chrono::steady_clock::now() < deadline) {
        io.run_for(std::chrono::milliseconds(100));
        io.restart();
    }
    BOOST_TEST_REQUIRE(finished);
    // Raised to kWorkerNice, or to the lowest priority when the runtime's is already close to it;
    // never left at the runtime's own.
    BOOST_TEST(worker_nice == std::min(runtime_nice + ThreadSnapshotWorker::kWorkerNice, 19));
    if (runtime_nice < 19) BOOST_TEST(worker_nice > runtime_nice);  // a test run under nice 19 has no room below
    BOOST_TEST(nice_of_this_thread() == runtime_nice);  // the runtime's thread is left as it was
}
