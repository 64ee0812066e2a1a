// The container image as a user gets it: the OCI archive tools/image/build
// writes, loaded with podman and run as a DaemonSet runs it: in the node's
// network namespace (a NetnsWorld's node), with no capability but the ones
// the README names, watching the API server simulator. Real packets from the
// client namespace reach a Service through the rules the container programs.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/process.h"
#include "tests/e2e/daemon.h"

namespace kubenat::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kClusterIp = "10.96.0.10";

bool eventually(const std::function<bool()>& done, std::chrono::steady_clock::duration limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// podman with a storage of this process's own (vfs, under /tmp), so the
// test neither needs nor touches the machine's images, and removing the
// directory removes everything.
class Podman {
 public:
  explicit Podman(fs::path directory) : directory_(std::move(directory)) {}
  ~Podman() {
    (void)run({"rm", "--all", "--force", "--time", "0"});
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  std::expected<ProcessResult, std::string> run(std::vector<std::string> args) const {
    std::vector<std::string> argv = {
        "podman",           "--root", (directory_ / "root").string(), "--runroot", (directory_ / "run").string(),
        "--storage-driver", "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }
  // Like run(), but a non-zero exit is an error naming the command and its stderr; the stdout.
  std::expected<std::string, std::string> checked(std::vector<std::string> args) const {
    auto result = run(args);
    if (!result) return std::unexpected(result.error());
    if (!result->ok()) return std::unexpected(describe_command(args) + ": " + result->err);
    return result->out;
  }

  // The options of every `podman run`. runc where it is installed: crun
  // refuses hosts with cgroups in hybrid mode (as these machines have), runc
  // runs there. podman's default limits (1048576 open files) may exceed this
  // host's hard limits, which root without CAP_SYS_RESOURCE cannot raise: the
  // container gets this process's own.
  static std::vector<std::string> run_options() {
    std::vector<std::string> options;
    if (program_in_path("runc")) options.insert(options.end(), {"--runtime", "runc"});
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    const auto open_files = std::to_string(std::min<rlim_t>(files.rlim_max, 1048576));
    options.insert(options.end(), {"--ulimit", "nofile=" + open_files + ":" + open_files});
    options.insert(options.end(), {"--ulimit", "nproc=16384:16384"});
    return options;
  }

 private:
  fs::path directory_;
};

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    for (const char* program : {"podman", "kubectl"}) {
      if (!program_in_path(program)) {
        if (running_in_ci()) FAIL() << program << " is needed and CI must run the image tests";
        GTEST_SKIP() << "needs " << program;
      }
    }
    if (!fs::exists(KUBENAT_IMAGE_ARCHIVE)) {
      // image_build (the fixture) skipped or failed; it said why.
      if (running_in_ci()) FAIL() << "no image archive at " << KUBENAT_IMAGE_ARCHIVE;
      GTEST_SKIP() << "no image archive at " << KUBENAT_IMAGE_ARCHIVE << " (tools/image/build makes it)";
    }
    podman_ = std::make_unique<Podman>(fs::temp_directory_path() / ("kubenat-image-" + std::to_string(::getpid())));
    auto loaded = podman_->checked({"load", "--quiet", "--input", KUBENAT_IMAGE_ARCHIVE});
    ASSERT_TRUE(loaded) << loaded.error();
  }

  // podman run IMAGE args..., detached, in the node namespace of `d`'s
  // world, with the kubeconfig of its simulator and only `capabilities`.
  std::expected<std::string, std::string> start_container(DaemonWorld& d, const std::vector<std::string>& capabilities,
                                                          const std::vector<std::string>& args) {
    container_ = "kn" + std::to_string(::getpid()) + "-image";
    std::vector<std::string> run = {"run", "--detach", "--name", container_};
    for (const std::string& option : Podman::run_options()) run.push_back(option);
    run.insert(run.end(), {"--network", "ns:/run/netns/" + d.world().node_ns(), "--cap-drop", "all"});
    for (const std::string& capability : capabilities) run.insert(run.end(), {"--cap-add", capability});
    run.insert(run.end(), {"--volume", d.kubeconfig().string() + ":/etc/kubenat/kubeconfig:ro", KUBENAT_IMAGE_NAME});
    run.insert(run.end(), args.begin(), args.end());
    return podman_->checked(run);
  }

  std::string container_log() const {
    if (container_.empty()) return "";
    auto log = podman_->run({"logs", container_});
    return log ? log->out + log->err : log.error();
  }

  // The container goes before the world whose node namespace it runs in.
  void TearDown() override {
    if (HasFailure() && podman_) std::cerr << "the container's log:\n" << container_log();
    if (podman_ && !container_.empty()) (void)podman_->run({"rm", "--force", "--time", "2", container_});
    world_.reset();
    podman_.reset();
  }

  // What `kubenat run` in the container gets: the world's simulator, this
  // node's name, and the world's addresses.
  static std::vector<std::string> run_args(std::vector<std::string> extra) {
    std::vector<std::string> args = {"run",
                                     "--kubeconfig=/etc/kubenat/kubeconfig",
                                     std::string("--hostname-override=") + DaemonWorld::kNodeName,
                                     std::string("--cluster-cidr=") + NetnsWorld::kPodCidr,
                                     "--healthz-bind-address=127.0.0.1:" + std::to_string(DaemonWorld::kHealthzPort),
                                     "--metrics-bind-address=127.0.0.1:" + std::to_string(DaemonWorld::kMetricsPort),
                                     "-v=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // The whole story for one mode: before the container nothing answers on
  // the cluster IP; with the container running, the client reaches the
  // Service's endpoint through it, and an endpoint added through the API.
  void expect_service_reachable(const std::vector<std::string>& capabilities, const std::vector<std::string>& flags) {
    auto d = DaemonWorld::create(2, DaemonOptions{.start = false});
    ASSERT_TRUE(d) << d.error();
    world_ = std::move(*d);
    DaemonWorld& world = *world_;
    ASSERT_TRUE(world.kubectl_apply(node_manifest(DaemonWorld::kNodeName, NetnsWorld::kNodeIp)));
    ASSERT_TRUE(world.kubectl_apply(service_manifest("web", kClusterIp)));
    ASSERT_TRUE(world.kubectl_apply(slice_manifest("web", {world.world().pod_ip(0)})));

    auto before = world.world().tcp(world.world().client_ns(), kClusterIp, 80);
    ASSERT_TRUE(before) << before.error();
    EXPECT_EQ(before->answered(), 0) << "the cluster IP answers before kubenat runs: " << *before;

    auto started = start_container(world, capabilities, run_args(flags));
    ASSERT_TRUE(started) << started.error();
    EXPECT_TRUE(eventually([&] { return world.http(DaemonWorld::kHealthzPort, "/livez").has_value(); }, 30s))
        << "the container never served /livez";

    ProbeResult last;
    const bool reached = eventually(
        [&] {
          auto probe = world.world().tcp(world.world().client_ns(), kClusterIp, 80);
          if (probe) last = *probe;
          return probe && probe->answers["pod-0"] == 1;
        },
        30s);
    EXPECT_TRUE(reached) << "the client never reached pod-0 through " << kClusterIp << ":80; last probe: " << last;

    // A second endpoint through the API: the container's rules follow.
    ASSERT_TRUE(world.kubectl_apply(slice_manifest("web", {world.world().pod_ip(0), world.world().pod_ip(1)})));
    EXPECT_TRUE(eventually(
        [&] {
          auto probe = world.world().tcp(world.world().client_ns(), kClusterIp, 80);
          if (probe) last = *probe;
          return probe && probe->answers["pod-1"] == 1;
        },
        30s))
        << "the client never reached the new endpoint pod-1; last probe: " << last;
  }

  std::unique_ptr<Podman> podman_;
  std::string container_;
  std::unique_ptr<DaemonWorld> world_;
};

TEST_F(ImageTest, VersionFlagPrintsTheProjectVersion) {
  auto result = podman_->run([] {
    std::vector<std::string> args = {"run", "--rm"};
    for (const std::string& option : Podman::run_options()) args.push_back(option);
    args.insert(args.end(), {KUBENAT_IMAGE_NAME, "--version"});
    return args;
  }());
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->exit_status, 0) << result->err;
  EXPECT_EQ(result->out, std::string("kubenat ") + KUBENAT_VERSION + "\n");
}

TEST_F(ImageTest, LabelsNameTheVersionAndTheEntrypointRunsTheDaemon) {
  auto inspected = podman_->checked({"image", "inspect", "--format",
                                     "{{index .Labels \"org.opencontainers.image.version\"}} "
                                     "{{index .Labels \"org.opencontainers.image.title\"}} "
                                     "{{json .Config.Entrypoint}} {{json .Config.Cmd}}",
                                     KUBENAT_IMAGE_NAME});
  ASSERT_TRUE(inspected) << inspected.error();
  EXPECT_EQ(*inspected, std::string(KUBENAT_VERSION) + " kubenat [\"/usr/local/bin/kubenat\"] [\"run\"]\n");
}

TEST_F(ImageTest, IptablesModeWithNetAdminAloneServesAService) {
  expect_service_reachable({"NET_ADMIN"}, {"--proxy-mode=iptables", "--iptables-mode=nft"});
}

TEST_F(ImageTest, NftablesModeWithNetAdminAloneServesAService) {
  expect_service_reachable({"NET_ADMIN"}, {"--proxy-mode=nftables"});
}

// iptables-legacy reads and writes its tables through a raw socket.
TEST_F(ImageTest, IptablesLegacyModeWithNetAdminAndNetRawServesAService) {
  expect_service_reachable({"NET_ADMIN", "NET_RAW"}, {"--proxy-mode=iptables", "--iptables-mode=legacy"});
}

}  // namespace
}  // namespace kubenat::e2e
